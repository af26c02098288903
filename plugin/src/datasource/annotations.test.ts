import { describe, expect, it } from '@jest/globals';
import { createDataFrame, FieldType } from '@grafana/data';
import { lastValueFrom } from 'rxjs';

import { at, latencyAnomaly, tokenAnomaly } from '../../test/fixtures/api-responses';
import { anomalyFramesToAnnotations, createAnnotationSupport } from './annotations';
import { anomaliesToFrame } from './transform';
import { QueryType } from './types';

describe('anomalyFramesToAnnotations', () => {
  it('turns each anomaly into a region coloured by severity', () => {
    const events = anomalyFramesToAnnotations([anomaliesToFrame([latencyAnomaly, tokenAnomaly], 'Anno')]);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      id: 'an_5f3c01',
      time: Date.parse(at(5)),
      timeEnd: Date.parse(at(7)),
      isRegion: true,
      title: 'critical latency_spike',
      color: 'red',
      tags: ['critical', 'latency_spike', 'chat'],
    });
    expect(events[0].text).toContain('latency_p95_ms rose to 5200 ms');
    expect(events[0].text).toContain('service=chat model=gpt-4o, score 3.10');
    expect(events[1].color).toBe('blue');
  });

  it('gives every severity its own colour and unknown severities a fallback', () => {
    const frame = anomaliesToFrame(
      (['critical', 'high', 'medium', 'low', 'weird'] as const).map((severity, i) => ({
        ...latencyAnomaly,
        id: `a${i}`,
        severity: severity as 'low',
      })),
      'Anno'
    );
    expect(anomalyFramesToAnnotations([frame]).map((e) => e.color)).toEqual(['red', 'orange', 'yellow', 'blue', 'purple']);
  });

  it('makes a point annotation when the anomaly has no duration', () => {
    const [event] = anomalyFramesToAnnotations([anomaliesToFrame([{ ...latencyAnomaly, end: latencyAnomaly.start }], 'Anno')]);
    expect(event.isRegion).toBe(false);
    expect(event.timeEnd).toBeUndefined();
  });

  it('skips frames that are not anomaly tables', () => {
    const other = createDataFrame({ fields: [{ name: 'time', type: FieldType.time, values: [1] }] });
    expect(anomalyFramesToAnnotations([other])).toEqual([]);
  });
});

describe('createAnnotationSupport', () => {
  const support = createAnnotationSupport();

  it('runs every annotation as an anomalies query, also old ones without a target', () => {
    const prepared = support.prepareAnnotation!({ name: 'Anomalies', enable: true, iconColor: 'red' });
    expect(prepared.target).toEqual({ refId: 'Anno', queryType: QueryType.Anomalies });
    const query = support.prepareQuery!({
      ...prepared,
      target: { refId: 'Anno', queryType: QueryType.Scores, service: 'chat' },
    });
    expect(query).toEqual({ refId: 'Anno', queryType: QueryType.Anomalies, service: 'chat' });
  });

  it('processes frames into events', async () => {
    const events = await lastValueFrom(
      support.processEvents!({ name: 'a', enable: true, iconColor: 'red' }, [anomaliesToFrame([latencyAnomaly], 'Anno')])
    );
    expect(events?.[0].title).toBe('critical latency_spike');
  });
});
