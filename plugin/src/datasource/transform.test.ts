import { describe, expect, it } from '@jest/globals';
import { FieldType } from '@grafana/data';

import { latencyAnomaly, scoresResponse, T0, tokenAnomaly, at } from '../../test/fixtures/api-responses';
import { anomaliesToFrame, explanationToFrames, featuresToFrames, scoresToFrames, toMs } from './transform';

const values = (frame: { fields: Array<{ name: string; values: unknown[] }> }, name: string) =>
  frame.fields.find((f) => f.name === name)?.values;

describe('scoresToFrames', () => {
  it('makes one frame per series with value, expected band and score', () => {
    const [frame] = scoresToFrames(scoresResponse, 'A');
    expect(frame.refId).toBe('A');
    expect(frame.name).toBe('service=chat|model=gpt-4o');
    expect(frame.fields.map((f) => f.name)).toEqual(['time', 'value', 'expected', 'lower', 'upper', 'score', 'isAnomaly']);
    expect(frame.fields[0].type).toBe(FieldType.time);
    expect(frame.length).toBe(10);
    expect(values(frame, 'time')?.[0]).toBe(T0);
    expect(values(frame, 'value')?.[5]).toBe(5200);
    expect(values(frame, 'lower')?.[0]).toBe(600);
    expect(values(frame, 'upper')?.[0]).toBe(1000);
    expect(values(frame, 'score')?.[5]).toBe(3.1);
    expect(values(frame, 'isAnomaly')?.slice(4, 8)).toEqual([false, true, true, false]);
    expect(frame.meta?.custom).toEqual({ sentinelKind: 'scores', seriesKey: 'service=chat|model=gpt-4o', feature: 'latency_p95_ms' });
  });

  it('labels numeric fields, names them after the feature and derives the unit', () => {
    const [frame] = scoresToFrames(scoresResponse, 'A');
    const value = frame.fields[1];
    expect(value.labels).toEqual({ service: 'chat', model: 'gpt-4o' });
    expect(value.config.displayNameFromDS).toBe('latency_p95_ms');
    expect(value.config.unit).toBe('ms');
  });

  it('sorts points by time and turns missing numbers into null, not 0', () => {
    const [frame] = scoresToFrames(
      {
        items: [
          {
            seriesKey: 'k',
            labels: {},
            feature: 'request_count',
            points: [
              { timestamp: at(2), score: 0.2, value: 3 },
              { timestamp: at(1), score: null, value: null, expected: null },
            ],
          },
        ],
      },
      'B'
    );
    expect(values(frame, 'time')).toEqual([T0 + 60_000, T0 + 120_000]);
    expect(values(frame, 'value')).toEqual([null, 3]);
    expect(values(frame, 'expected')).toEqual([null, null]);
    expect(values(frame, 'score')).toEqual([null, 0.2]);
  });

  it('suffixes display names with the series key when several series come back', () => {
    const two = { items: [scoresResponse.items[0], { ...scoresResponse.items[0], seriesKey: 'other' }] };
    const frames = scoresToFrames(two, 'A');
    expect(frames).toHaveLength(2);
    expect(frames[1].fields[1].config.displayNameFromDS).toBe('latency_p95_ms other');
  });

  it('returns no frames for an empty response', () => {
    expect(scoresToFrames({ items: [] }, 'A')).toEqual([]);
  });
});

describe('featuresToFrames', () => {
  it('keeps only time and the raw feature value', () => {
    const [frame] = featuresToFrames(scoresResponse, 'F');
    expect(frame.fields.map((f) => f.name)).toEqual(['time', 'value']);
    expect(frame.fields[1].config.displayNameFromDS).toBe('latency_p95_ms');
    expect(frame.meta?.custom?.sentinelKind).toBe('features');
    expect(values(frame, 'value')?.[6]).toBe(5200);
  });
});

describe('anomaliesToFrame', () => {
  it('makes a table with time, severity, type, service, score and the explanation summary first', () => {
    const frame = anomaliesToFrame([latencyAnomaly, tokenAnomaly], 'B');
    expect(frame.fields.map((f) => f.name).slice(0, 7)).toEqual([
      'time',
      'timeEnd',
      'severity',
      'type',
      'service',
      'score',
      'summary',
    ]);
    expect(frame.length).toBe(2);
    expect(values(frame, 'time')).toEqual([Date.parse(at(5)), Date.parse(at(8))]);
    expect(values(frame, 'timeEnd')).toEqual([Date.parse(at(7)), Date.parse(at(9))]);
    expect(values(frame, 'severity')).toEqual(['critical', 'low']);
    expect(values(frame, 'service')).toEqual(['chat', 'search']);
    expect(values(frame, 'summary')?.[0]).toContain('latency_p95_ms rose to 5200 ms');
    expect(values(frame, 'id')).toEqual(['an_5f3c01', 'an_77aa02']);
    expect(values(frame, 'feedback')).toEqual(['', 'false_positive']);
    expect(values(frame, 'status')).toEqual(['open', 'resolved']);
    expect(values(frame, 'resolution')).toEqual(['', 'recovered']);
    expect(frame.meta?.preferredVisualisationType).toBe('table');
  });

  it('makes an empty table (all fields, no rows) when there are no anomalies', () => {
    const frame = anomaliesToFrame([], 'B');
    expect(frame.length).toBe(0);
    expect(frame.fields).toHaveLength(13);
  });
});

describe('explanationToFrames', () => {
  it('splits an anomaly into explanation, evidence and similar incidents', () => {
    const [explanation, evidence, similar] = explanationToFrames(latencyAnomaly, 'C');
    expect(explanation.name).toBe('explanation');
    expect(explanation.length).toBe(1);
    expect(values(explanation, 'markdown')?.[0]).toContain('### What moved');
    expect(values(explanation, 'source')).toEqual(['evidence']);
    expect(evidence.length).toBe(2);
    expect(values(evidence, 'feature')).toEqual(['latency_p95_ms', 'output_tokens_mean']);
    expect(values(evidence, 'actual')).toEqual([5200, 410]);
    expect(values(evidence, 'z')).toEqual([8.1, 0.2]);
    expect(values(similar, 'cause')).toEqual(['provider outage']);
    expect(values(similar, 'anomalyId')).toEqual(['an_0ld']);
  });

  it('falls back to the record attributions when the explanation has no evidence', () => {
    const [, evidence, similar] = explanationToFrames({ ...latencyAnomaly, explanation: undefined }, 'C');
    expect(values(evidence, 'feature')).toEqual(['latency_p95_ms']);
    expect(similar.length).toBe(0);
  });
});

describe('toMs', () => {
  it('accepts ISO strings and epoch ms', () => {
    expect(toMs('2026-11-22T10:00:00.000Z')).toBe(T0);
    expect(toMs(T0)).toBe(T0);
    expect(toMs('garbage')).toBeNaN();
  });
});
