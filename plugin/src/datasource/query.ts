import type { ScopedVars } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';

import type { QueryParams } from './api-client';
import { DEFAULT_ANOMALY_LIMIT, MAX_ANOMALY_LIMIT, QueryType, type SentinelQuery } from './types';

/** The part of Grafana's TemplateSrv the datasource uses; tests and the browser page pass their own. */
export type TemplateSrvLike = Pick<TemplateSrv, 'replace'> & Partial<Pick<TemplateSrv, 'getVariables'>>;

/** A time range as epoch milliseconds. */
export interface TimeRangeMs {
  from: number;
  to: number;
}

/** The query type, defaulting to scores for queries saved before the field existed. */
export function queryTypeOf(query: SentinelQuery): QueryType {
  return query.queryType ?? QueryType.Scores;
}

/** Whether a query has what it needs to run (an explanation query needs an anomaly id). */
export function isRunnable(query: SentinelQuery): boolean {
  if (query.hide) {
    return false;
  }
  if (queryTypeOf(query) === QueryType.Explanation) {
    return Boolean(query.anomalyId && query.anomalyId.trim());
  }
  return true;
}

/**
 * Replaces template variables in every string field. Severities go through the `csv` format and are
 * split again, so a multi-value `$severity` variable expands to several severities.
 */
export function interpolateQuery(query: SentinelQuery, templateSrv: TemplateSrvLike, scopedVars?: ScopedVars): SentinelQuery {
  const replace = (value: string | undefined): string | undefined =>
    value === undefined ? undefined : templateSrv.replace(value, scopedVars);
  const severity = query.severity
    ?.flatMap((s) => templateSrv.replace(s, scopedVars, 'csv').split(','))
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    ...query,
    seriesKey: replace(query.seriesKey),
    service: replace(query.service),
    model: replace(query.model),
    feature: replace(query.feature),
    anomalyType: replace(query.anomalyType),
    anomalyId: replace(query.anomalyId),
    severity,
  };
}

/** Parameters of `GET /api/v1/scores` for a scores or features query. */
export function buildScoresParams(query: SentinelQuery, range: TimeRangeMs): QueryParams {
  return {
    series: blankToUndefined(query.seriesKey),
    service: blankToUndefined(query.service),
    model: blankToUndefined(query.model),
    feature: blankToUndefined(query.feature),
    from: Math.floor(range.from),
    to: Math.ceil(range.to),
    limit: positiveInt(query.limit),
  };
}

/** Parameters of `GET /api/v1/anomalies` (without `limit`/`cursor`, which paging sets). */
export function buildAnomaliesParams(query: SentinelQuery, range: TimeRangeMs): QueryParams {
  const severity = (query.severity ?? []).filter(Boolean);
  return {
    from: Math.floor(range.from),
    to: Math.ceil(range.to),
    severity: severity.length ? severity.join(',') : undefined,
    service: blankToUndefined(query.service),
    type: blankToUndefined(query.anomalyType),
  };
}

/** Rows an anomalies query fetches: its limit clamped to 1..MAX_ANOMALY_LIMIT, else the API default. */
export function anomalyLimit(query: SentinelQuery): number {
  const limit = positiveInt(query.limit);
  return limit === undefined ? DEFAULT_ANOMALY_LIMIT : Math.min(limit, MAX_ANOMALY_LIMIT);
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function positiveInt(value: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}
