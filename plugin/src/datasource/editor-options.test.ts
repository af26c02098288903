import { describe, expect, it } from '@jest/globals';

import { latencyAnomaly, seriesResponse } from '../../test/fixtures/api-responses';
import { anomalyOptions, editorOptions, parseLimit, toSelectOptions } from './editor-options';

describe('editorOptions', () => {
  it('offers everything when nothing is chosen', () => {
    const o = editorOptions(seriesResponse.items, {});
    expect(o.services).toEqual(['chat', 'search']);
    expect(o.models).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(o.seriesKeys).toHaveLength(4);
    expect(o.features).toContain('output_tokens_mean');
  });

  it('narrows models, series and features by the chosen service and model', () => {
    const o = editorOptions(seriesResponse.items, { service: 'chat', model: 'gpt-4o' });
    expect(o.services).toEqual(['chat', 'search']);
    expect(o.models).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect(o.seriesKeys).toEqual(['service=chat|model=gpt-4o']);
    expect(o.features).toEqual(['error_rate', 'latency_p95_ms', 'request_count']);
  });

  it('does not narrow by template variables', () => {
    expect(editorOptions(seriesResponse.items, { service: '$service' }).models).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });
});

describe('toSelectOptions', () => {
  it('puts variables first and keeps a custom current value', () => {
    expect(toSelectOptions(['a'], ['$v'], 'custom').map((o) => o.value)).toEqual(['custom', '$v', 'a']);
    expect(toSelectOptions(['a'], [], 'a').map((o) => o.value)).toEqual(['a']);
  });
});

describe('anomalyOptions', () => {
  it('labels anomalies by severity, type, service and start', () => {
    expect(anomalyOptions([latencyAnomaly])[0]).toEqual({
      value: 'an_5f3c01',
      label: 'critical latency_spike · chat · 2026-11-22 10:05Z',
      description: latencyAnomaly.explanation?.summary,
    });
  });
});

describe('parseLimit', () => {
  it('reads a whole number in 1..max, blank or invalid as the default', () => {
    expect(parseLimit('250', 1000)).toBe(250);
    expect(parseLimit('20000', 10_000)).toBe(10_000);
    expect(parseLimit('12.7', 1000)).toBe(12);
    expect(parseLimit('', 1000)).toBeUndefined();
    expect(parseLimit('0', 1000)).toBeUndefined();
    expect(parseLimit('-3', 1000)).toBeUndefined();
    expect(parseLimit('abc', 1000)).toBeUndefined();
  });
});
