import { describe, expect, it } from '@jest/globals';
import { createDataFrame, FieldType } from '@grafana/data';

import { at, latencyAnomaly, scoresResponse, T0, tokenAnomaly } from '../../test/fixtures/api-responses';
import { anomaliesToFrame, explanationToFrames, scoresToFrames } from '../datasource/transform';
import { anomaliesFor, defaultAnomaly, extractPanelModel } from './panel-data';

describe('extractPanelModel', () => {
  it('reads series and anomalies from the datasource frames and ignores explanation frames', () => {
    const model = extractPanelModel([
      ...scoresToFrames(scoresResponse, 'A'),
      anomaliesToFrame([latencyAnomaly, tokenAnomaly], 'B'),
      ...explanationToFrames(latencyAnomaly, 'C'),
    ]);
    expect(model.series).toHaveLength(1);
    const s = model.series[0];
    expect(s.seriesKey).toBe('service=chat|model=gpt-4o');
    expect(s.feature).toBe('latency_p95_ms');
    expect(s.unit).toBe('ms');
    expect(s.time[0]).toBe(T0);
    expect(s.value[5]).toBe(5200);
    expect(s.upper[0]).toBe(1000);
    expect(s.isAnomaly[5]).toBe(true);
    expect(model.anomalies.map((a) => [a.id, a.severity, a.seriesKey])).toEqual([
      ['an_5f3c01', 'critical', 'service=chat|model=gpt-4o'],
      ['an_77aa02', 'low', 'service=search|model=gpt-4o-mini'],
    ]);
    expect(model.anomalies[0]).toMatchObject({ start: Date.parse(at(5)), end: Date.parse(at(7)), score: 3.1 });
  });

  it('accepts frames from elsewhere by field names', () => {
    const foreign = createDataFrame({
      name: 'prom',
      fields: [
        { name: 'Time', type: FieldType.time, values: [1, 2] },
        { name: 'value', type: FieldType.number, values: [3, null] },
      ],
    });
    const [s] = extractPanelModel([foreign]).series;
    expect(s).toMatchObject({ seriesKey: 'prom', feature: 'value', value: [3, null], score: [null, null], lower: [null, null] });
  });
});

describe('anomaliesFor and defaultAnomaly', () => {
  const { anomalies } = extractPanelModel([anomaliesToFrame([latencyAnomaly, tokenAnomaly], 'B')]);

  it('keeps the anomalies of the shown series inside the range', () => {
    expect(anomaliesFor(anomalies, 'service=chat|model=gpt-4o', T0, T0 + 3600_000).map((a) => a.id)).toEqual(['an_5f3c01']);
    expect(anomaliesFor(anomalies, undefined, T0, T0 + 3600_000)).toHaveLength(2);
    expect(anomaliesFor(anomalies, undefined, T0 + 7.5 * 60_000, T0 + 3600_000).map((a) => a.id)).toEqual(['an_77aa02']);
  });

  it('defaults to the most severe anomaly', () => {
    expect(defaultAnomaly(anomalies)?.id).toBe('an_5f3c01');
    expect(defaultAnomaly([])).toBeUndefined();
  });
});
