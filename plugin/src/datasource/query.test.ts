import { describe, expect, it } from '@jest/globals';

import {
  anomalyLimit,
  apiRange,
  buildAnomaliesParams,
  buildScoresParams,
  expandTemplate,
  interpolateQuery,
  isRunnable,
  MAX_FANOUT,
  planRequests,
  queryTypeOf,
  type QueryFilters,
} from './query';
import { MAX_POINTS_LIMIT, MIN_API_TIME_MS, QueryType } from './types';

/**
 * Stand-in TemplateSrv formatting as Grafana does: a format function gets the value (an array for a
 * multi-value selection, "All" without a custom all value included), `csv` joins with commas, and no
 * format gives Grafana's default glob `{a,b}`. `$service` -> chat, `$sev` -> critical+high,
 * `$svc` -> chat+search, `$all` -> All of chat, search and code, `$id` -> an_1.
 */
const templateSrv = {
  replace(target?: string, scopedVars?: Record<string, { value: unknown }>, format?: unknown): string {
    const vars: Record<string, string[]> = {
      service: ['chat'],
      sev: ['critical', 'high'],
      svc: ['chat', 'search'],
      all: ['chat', 'search', 'code'],
      id: ['an_1'],
    };
    return (target ?? '').replace(/\$(\w+)/g, (m, name: string) => {
      const scoped = scopedVars?.[name]?.value;
      const v = scoped !== undefined ? [String(scoped)] : vars[name];
      if (!v) {
        return m;
      }
      if (typeof format === 'function') {
        return String(format(v.length === 1 ? v[0] : v));
      }
      return format === 'csv' ? v.join(',') : v.length > 1 ? `{${v.join(',')}}` : v[0];
    });
  },
};

const noFilters: QueryFilters = { seriesKeys: [], services: [], models: [], types: [] };

/** 2026-11-22T10:00:00Z: inside the range the API accepts. */
const T1 = Date.parse('2026-11-22T10:00:00.000Z');

describe('query building', () => {
  const range = { from: T1 + 1_000.4, to: T1 + 2_000.6 };

  it('builds /scores params from the query and the range, dropping blanks', () => {
    expect(buildScoresParams({ refId: 'A', feature: 'latency_p95_ms', limit: 500 }, range)).toEqual({
      feature: 'latency_p95_ms',
      from: T1 + 1000,
      to: T1 + 2001,
      limit: 500,
    });
    expect(buildScoresParams({ refId: 'A', feature: ' ' }, range).feature).toBeUndefined();
  });

  it('caps the points limit at the API maximum (it refuses more with a 400)', () => {
    expect(buildScoresParams({ refId: 'A', limit: 20_000 }, range).limit).toBe(MAX_POINTS_LIMIT);
    expect(MAX_POINTS_LIMIT).toBe(10_000);
  });

  it('clamps the range to the times the API accepts (it refuses anything before 1973)', () => {
    expect(apiRange({ from: 0, to: T1 })).toEqual({ from: MIN_API_TIME_MS, to: T1 });
    expect(apiRange({ from: -5e12, to: 5e10 })).toEqual({ from: MIN_API_TIME_MS, to: MIN_API_TIME_MS });
    expect(apiRange({ from: T1, to: 9e15 })).toEqual({ from: T1, to: 1e14 });
    expect(buildAnomaliesParams({ refId: 'B' }, { from: 0, to: T1 })).toMatchObject({ from: MIN_API_TIME_MS, to: T1 });
    expect(buildScoresParams({ refId: 'A' }, { from: 0, to: T1 })).toMatchObject({ from: MIN_API_TIME_MS, to: T1 });
  });

  it('ignores a non-positive or fractional-only limit', () => {
    expect(buildScoresParams({ refId: 'A', limit: 0 }, range).limit).toBeUndefined();
    expect(buildScoresParams({ refId: 'A', limit: 12.7 }, range).limit).toBe(12);
  });

  it('builds /anomalies params with severities as a comma list and the type filter', () => {
    expect(buildAnomaliesParams({ refId: 'B', severity: ['critical', 'high'] }, range)).toEqual({
      from: T1 + 1000,
      to: T1 + 2001,
      severity: 'critical,high',
    });
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
    expect(q.filters).toEqual({ seriesKeys: ['service=chat'], services: ['chat'], models: [], types: [] });
  });

  it('keeps every value of a multi-value or "All" variable instead of a glob the backend reads literally', () => {
    const q = interpolateQuery({ refId: 'A', service: '$svc', model: 'gpt-4o', seriesKey: 'service=$all' }, templateSrv);
    expect(q.filters.services).toEqual(['chat', 'search']);
    expect(q.filters.seriesKeys).toEqual(['service=chat', 'service=search', 'service=code']);
    expect(q.filters.models).toEqual(['gpt-4o']);
    // Several values fit no single field.
    expect(q.service).toBeUndefined();
    expect(q.model).toBe('gpt-4o');
  });

  it('reads a match-everything "All" (allValue ".*", as Prometheus dashboards set it) as no filter', () => {
    const allRegex = { replace: (target?: string, _s?: unknown, format?: unknown) => (target ?? '').replace('$service', typeof format === 'function' ? String(format('.*')) : '.*') };
    const q = interpolateQuery({ refId: 'A', service: '$service', model: 'gpt-4o' }, allRegex);
    expect(q.filters.services).toEqual([]);
    expect(q.service).toBeUndefined();
    expect(q.filters.models).toEqual(['gpt-4o']);
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

describe('expandTemplate', () => {
  it('yields one string per value, and the combinations of several variables', () => {
    expect(expandTemplate('$svc', templateSrv)).toEqual(['chat', 'search']);
    expect(expandTemplate('models($svc)', templateSrv)).toEqual(['models(chat)', 'models(search)']);
    expect(expandTemplate('$svc/$sev', templateSrv)).toEqual(['chat/critical', 'chat/high', 'search/critical', 'search/high']);
    expect(expandTemplate('plain', templateSrv)).toEqual(['plain']);
    expect(expandTemplate('  ', templateSrv)).toEqual([]);
    expect(expandTemplate('$unknown', templateSrv)).toEqual(['$unknown']);
  });
});

describe('planRequests', () => {
  const base = { from: T1, to: T1 + 1 };

  it('sends single values as parameters', () => {
    const plan = planRequests('scores', { ...noFilters, services: ['chat'], models: ['gpt-4o'] }, base);
    expect(plan.requests).toEqual([{ ...base, service: 'chat', model: 'gpt-4o' }]);
    expect(plan.filtersLocally).toBe(false);
  });

  it('fans a multi-value filter out to one request per value, the smallest such filter', () => {
    const plan = planRequests('scores', { ...noFilters, services: ['chat', 'search', 'code'], models: ['a', 'b'] }, base);
    expect(plan.requests).toEqual([
      { ...base, model: 'a' },
      { ...base, model: 'b' },
    ]);
    expect(plan.filtersLocally).toBe(true);
    expect(plan.matches({ seriesKey: 'k', labels: { service: 'chat', model: 'a' } })).toBe(true);
    expect(plan.matches({ seriesKey: 'k', labels: { service: 'other', model: 'a' } })).toBe(false);
  });

  it('filters anomalies by model on the answers: the anomalies API has no model parameter', () => {
    const plan = planRequests('anomalies', { ...noFilters, services: ['chat'], models: ['gpt-4o'] }, base);
    expect(plan.requests).toEqual([{ ...base, service: 'chat' }]);
    expect(plan.filtersLocally).toBe(true);
    expect(plan.matches({ seriesKey: 'k', labels: { service: 'chat', model: 'gpt-4o' } })).toBe(true);
    expect(plan.matches({ seriesKey: 'k', labels: { service: 'chat', model: 'other' } })).toBe(false);
    const bySeries = planRequests('anomalies', { ...noFilters, seriesKeys: ['s1', 's2'], types: ['latency_spike'] }, base);
    expect(bySeries.requests).toEqual([
      { ...base, type: 'latency_spike', series: 's1' },
      { ...base, type: 'latency_spike', series: 's2' },
    ]);
  });

  it('asks once and filters the answers when a variable has more values than requests may fan out to', () => {
    const many = Array.from({ length: MAX_FANOUT + 1 }, (_, i) => `svc${i}`);
    const plan = planRequests('scores', { ...noFilters, services: many }, base);
    expect(plan.requests).toEqual([base]);
    expect(plan.filtersLocally).toBe(true);
    expect(plan.matches({ seriesKey: 'k', labels: { service: 'svc3' } })).toBe(true);
    expect(plan.matches({ seriesKey: 'k', labels: { service: 'other' } })).toBe(false);
  });
});
