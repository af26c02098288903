import { describe, expect, it } from '@jest/globals';

import { anomalyLimit, buildAnomaliesParams, buildScoresParams, interpolateQuery, isRunnable, queryTypeOf } from './query';
import { QueryType } from './types';

/** Stand-in TemplateSrv: `$service` -> chat, `$sev` -> critical,high (csv), `$id` -> an_1. */
const templateSrv = {
  replace(target?: string, scopedVars?: Record<string, { value: unknown }>, format?: unknown): string {
    const vars: Record<string, string[]> = { service: ['chat'], sev: ['critical', 'high'], id: ['an_1'] };
    return (target ?? '').replace(/\$(\w+)/g, (m, name: string) => {
      const scoped = scopedVars?.[name]?.value;
      if (scoped !== undefined) {
        return String(scoped);
      }
      const v = vars[name];
      if (!v) {
        return m;
      }
      return format === 'csv' ? v.join(',') : v.length > 1 ? `{${v.join(',')}}` : v[0];
    });
  },
};

const range = { from: 1_000.4, to: 2_000.6 };

describe('query building', () => {
  it('builds /scores params from the query and the range, dropping blanks', () => {
    expect(
      buildScoresParams({ refId: 'A', service: 'chat', model: ' ', feature: 'latency_p95_ms', seriesKey: '', limit: 500 }, range)
    ).toEqual({ series: undefined, service: 'chat', model: undefined, feature: 'latency_p95_ms', from: 1000, to: 2001, limit: 500 });
  });

  it('ignores a non-positive or fractional-only limit', () => {
    expect(buildScoresParams({ refId: 'A', limit: 0 }, range).limit).toBeUndefined();
    expect(buildScoresParams({ refId: 'A', limit: 12.7 }, range).limit).toBe(12);
  });

  it('builds /anomalies params with severities as a comma list and the type filter', () => {
    expect(
      buildAnomaliesParams({ refId: 'B', severity: ['critical', 'high'], service: 'chat', anomalyType: 'latency_spike' }, range)
    ).toEqual({ from: 1000, to: 2001, severity: 'critical,high', service: 'chat', type: 'latency_spike' });
    expect(buildAnomaliesParams({ refId: 'B', severity: [] }, range).severity).toBeUndefined();
  });

  it('clamps the anomalies limit to the API maximum and defaults to the API default', () => {
    expect(anomalyLimit({ refId: 'B' })).toBe(100);
    expect(anomalyLimit({ refId: 'B', limit: 5000 })).toBe(1000);
    expect(anomalyLimit({ refId: 'B', limit: 7 })).toBe(7);
  });

  it('defaults the query type to scores', () => {
    expect(queryTypeOf({ refId: 'A' })).toBe(QueryType.Scores);
  });

  it('runs an explanation query only with an anomaly id, and never a hidden query', () => {
    expect(isRunnable({ refId: 'A', queryType: QueryType.Explanation })).toBe(false);
    expect(isRunnable({ refId: 'A', queryType: QueryType.Explanation, anomalyId: '  ' })).toBe(false);
    expect(isRunnable({ refId: 'A', queryType: QueryType.Explanation, anomalyId: 'an_1' })).toBe(true);
    expect(isRunnable({ refId: 'A', queryType: QueryType.Anomalies, hide: true })).toBe(false);
    expect(isRunnable({ refId: 'A', queryType: QueryType.Anomalies })).toBe(true);
  });
});

describe('interpolateQuery', () => {
  it('replaces variables in every string field and expands multi-value severities', () => {
    const q = interpolateQuery(
      { refId: 'A', service: '$service', anomalyId: '$id', severity: ['$sev', 'low'], seriesKey: 'service=$service' },
      templateSrv
    );
    expect(q.service).toBe('chat');
    expect(q.anomalyId).toBe('an_1');
    expect(q.seriesKey).toBe('service=chat');
    expect(q.severity).toEqual(['critical', 'high', 'low']);
    expect(q.refId).toBe('A');
  });

  it('prefers scoped variables (repeated panels)', () => {
    const q = interpolateQuery({ refId: 'A', service: '$service' }, templateSrv, { service: { text: 'x', value: 'search' } });
    expect(q.service).toBe('search');
  });

  it('leaves absent fields absent', () => {
    const q = interpolateQuery({ refId: 'A' }, templateSrv);
    expect(q.service).toBeUndefined();
    expect(q.severity).toBeUndefined();
  });
});
