import type { ScopedVars } from '@grafana/data';
import type { TemplateSrv } from '@grafana/runtime';

import type { Labels } from '../shared/api-types';
import type { QueryParams } from './api-client';
import {
  DEFAULT_ANOMALY_LIMIT,
  MAX_ANOMALY_LIMIT,
  MAX_API_TIME_MS,
  MAX_POINTS_LIMIT,
  MIN_API_TIME_MS,
  QueryType,
  type SentinelQuery,
} from './types';

/** The part of Grafana's TemplateSrv the datasource uses; tests and the browser page pass their own. */
export type TemplateSrvLike = Pick<TemplateSrv, 'replace'> & Partial<Pick<TemplateSrv, 'getVariables'>>;

/** A time range as epoch milliseconds. */
export interface TimeRangeMs {
  from: number;
  to: number;
}

/**
 * The label filters of a query after template variables, each a list of accepted values (empty = any).
 * A multi-value or "All" variable gives several values; the backend filters by one value at a time, so
 * {@link planRequests} turns several into one request per value or a filter on the answers.
 */
export interface QueryFilters {
  seriesKeys: string[];
  services: string[];
  models: string[];
  /** Anomaly types (anomalies queries only). */
  types: string[];
}

/** A query with its template variables replaced: single values in the fields, every value in `filters`. */
export interface InterpolatedQuery extends SentinelQuery {
  filters: QueryFilters;
}

/**
 * How many requests one query may fan out to (one per value of a multi-value variable). Above it the
 * query asks once without that filter and keeps the matching answers, which costs one larger response
 * instead of many small ones.
 */
export const MAX_FANOUT = 20;

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

const SLOT = '\u0000';

/** Values a variable's custom "All" takes that mean every value (see {@link interpolateQuery}). */
const MATCH_ALL: ReadonlySet<string> = new Set(['.*', '*', '$__all']);

/**
 * Every string a template expands to. A multi-value variable (or "All") yields one string per value,
 * and several of them the combinations, instead of Grafana's default `{a,b}` glob, which the backend
 * would take literally. Values come back trimmed, distinct and non-empty, in order.
 */
export function expandTemplate(text: string, templateSrv: TemplateSrvLike, scopedVars?: ScopedVars): string[] {
  const slots: string[][] = [];
  // Grafana calls a format function with the variable's value: an array for a multi-value selection,
  // a string otherwise (also for "All" with a custom all value). Each variable leaves a numbered slot.
  const template = templateSrv.replace(text, scopedVars, (value: unknown) => {
    slots.push((Array.isArray(value) ? value : [value]).map((v) => String(v ?? '')));
    return `${SLOT}${slots.length - 1}${SLOT}`;
  });
  let results = [''];
  template.split(SLOT).forEach((part, i) => {
    // Odd parts are slot numbers, even parts literal text.
    const options = i % 2 ? (slots[Number(part)] ?? []) : [part];
    results = results.flatMap((prefix) => options.map((option) => prefix + option));
  });
  return distinct(results.map((r) => r.trim()));
}

/**
 * Replaces template variables in every string field. Service, model, series and type go to `filters`
 * with all their values (see {@link expandTemplate}) and stay in their field only when single-valued;
 * severities are a list anyway, so a multi-value `$severity` expands in place.
 */
export function interpolateQuery(query: SentinelQuery, templateSrv: TemplateSrvLike, scopedVars?: ScopedVars): InterpolatedQuery {
  const values = (value: string | undefined) => (value === undefined ? [] : expandTemplate(value, templateSrv, scopedVars));
  // A variable whose "All" is a match-everything regex (allValue ".*", so that Prometheus panels on the same
  // dashboard can use `=~"$service"`) means no filter here, not a service named ".*".
  const filter = (value: string | undefined) => {
    const list = values(value);
    return list.some((v) => MATCH_ALL.has(v)) ? [] : list;
  };
  const single = (value: string | undefined) => (value === undefined ? undefined : templateSrv.replace(value, scopedVars));
  const filters: QueryFilters = {
    seriesKeys: filter(query.seriesKey),
    services: filter(query.service),
    models: filter(query.model),
    types: filter(query.anomalyType),
  };
  const only = (list: string[]) => (list.length === 1 ? list[0] : undefined);
  const severity = query.severity ? distinct(query.severity.flatMap((s) => values(s))) : undefined;
  return {
    ...query,
    seriesKey: only(filters.seriesKeys),
    service: only(filters.services),
    model: only(filters.models),
    anomalyType: only(filters.types),
    feature: single(query.feature),
    anomalyId: single(query.anomalyId),
    severity,
    filters,
  };
}

/** What the backend is asked for one query: one request per parameter set, answers kept by `matches`. */
export interface RequestPlan {
  requests: QueryParams[];
  /** Whether an item (a series or an anomaly) passes every filter, including those not sent. */
  matches: (item: { seriesKey: string; labels?: Labels; type?: string }) => boolean;
  /** Whether `matches` rejects anything the requests can return (so paging must read further). */
  filtersLocally: boolean;
}

type FilterName = keyof QueryFilters;

/** Backend parameter of each filter, per endpoint; a filter without one is applied to the answers. */
const SCORES_PARAMS: Partial<Record<FilterName, string>> = { seriesKeys: 'series', services: 'service', models: 'model' };
// `GET /api/v1/anomalies` filters by series, service and type, not by model.
const ANOMALIES_PARAMS: Partial<Record<FilterName, string>> = { seriesKeys: 'series', services: 'service', types: 'type' };

/**
 * Splits a query's filters into backend requests. A single value is a parameter; of the filters with
 * several values, the one with the fewest fans out to one request per value (at most {@link MAX_FANOUT});
 * the rest are checked on the answers by `matches`.
 */
export function planRequests(kind: 'scores' | 'anomalies', filters: QueryFilters, base: QueryParams): RequestPlan {
  const params = kind === 'scores' ? SCORES_PARAMS : ANOMALIES_PARAMS;
  const fixed: QueryParams = { ...base };
  let fanout: { param: string; values: string[] } | undefined;
  let filtersLocally = false;
  for (const name of ['seriesKeys', 'services', 'models', 'types'] as const) {
    const values = filters[name];
    const param = params[name];
    if (!values.length) {
      continue;
    }
    if (param && values.length === 1) {
      fixed[param] = values[0];
    } else if (param && values.length <= MAX_FANOUT && (!fanout || values.length < fanout.values.length)) {
      filtersLocally ||= Boolean(fanout);
      fanout = { param, values };
    } else {
      filtersLocally = true;
    }
  }
  const requests = fanout ? fanout.values.map((v) => ({ ...fixed, [fanout!.param]: v })) : [fixed];
  const accepts = (list: string[], value: string | undefined) => !list.length || (value !== undefined && list.includes(value));
  return {
    requests,
    filtersLocally,
    matches: (item) =>
      accepts(filters.seriesKeys, item.seriesKey) &&
      accepts(filters.services, item.labels?.service) &&
      accepts(filters.models, item.labels?.model) &&
      (kind !== 'anomalies' || accepts(filters.types, item.type)),
  };
}

/** Parameters of `GET /api/v1/scores` for a scores or features query, without the label filters. */
export function buildScoresParams(query: SentinelQuery, range: TimeRangeMs): QueryParams {
  const limit = positiveInt(query.limit);
  return {
    feature: blankToUndefined(query.feature),
    ...apiRange(range),
    limit: limit === undefined ? undefined : Math.min(limit, MAX_POINTS_LIMIT),
  };
}

/** Parameters of `GET /api/v1/anomalies` without the label filters and without `limit`/`cursor` (paging sets them). */
export function buildAnomaliesParams(query: SentinelQuery, range: TimeRangeMs): QueryParams {
  const severity = (query.severity ?? []).filter(Boolean);
  return {
    ...apiRange(range),
    severity: severity.length ? severity.join(',') : undefined,
  };
}

/** Rows an anomalies query fetches: its limit clamped to 1..MAX_ANOMALY_LIMIT, else the API default. */
export function anomalyLimit(query: SentinelQuery): number {
  const limit = positiveInt(query.limit);
  return limit === undefined ? DEFAULT_ANOMALY_LIMIT : Math.min(limit, MAX_ANOMALY_LIMIT);
}

/**
 * The range as the API accepts it: whole milliseconds within [MIN_API_TIME_MS, MAX_API_TIME_MS]. A range
 * reaching back before 1973 ("Last 60 years") starts at the earliest time the API takes; the backend has
 * nothing older anyway.
 */
export function apiRange(range: TimeRangeMs): { from: number; to: number } {
  const clamp = (ms: number) => Math.min(MAX_API_TIME_MS, Math.max(MIN_API_TIME_MS, ms));
  return { from: clamp(Math.floor(range.from)), to: clamp(Math.ceil(range.to)) };
}

function blankToUndefined(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function positiveInt(value: number | undefined): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value >= 1 ? Math.floor(value) : undefined;
}

function distinct(values: string[]): string[] {
  return [...new Set(values.filter(Boolean))];
}
