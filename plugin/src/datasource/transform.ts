import { createDataFrame, FieldType, type DataFrame, type FieldConfig, type QueryResultMetaNotice } from '@grafana/data';

import type { AnomalyRecord, Attribution, ScoreSeries, ScoresResponse } from '../shared/api-types';
import { featureUnit, type SentinelFrameMeta } from '../shared/frame-kinds';
import type { AnomaliesResult } from './api-client';
import { MAX_ANOMALY_LIMIT } from './types';

/*
 * API response -> DataFrame. Pure functions only: no Grafana services, no I/O, so each is tested on
 * plain fixtures. Times become epoch milliseconds (Grafana's time fields); absent numbers become null
 * so panels draw gaps instead of zeros.
 */

/**
 * One frame per scored series: `time`, `value` (the feature), `expected`, `lower`, `upper`, `score`,
 * `isAnomaly`. The numeric fields carry the series labels so several series stay distinguishable.
 */
export function scoresToFrames(response: ScoresResponse, refId: string): DataFrame[] {
  const items = response.items ?? [];
  return items.map((item) => {
    const points = [...(item.points ?? [])].sort((a, b) => toMs(a.timestamp) - toMs(b.timestamp));
    const unit = featureUnit(item.feature);
    const suffix = items.length > 1 ? ` ${item.seriesKey}` : '';
    const numeric = (name: string, values: Array<number | null>, config: FieldConfig) => ({
      name,
      type: FieldType.number,
      values,
      labels: item.labels,
      config,
    });
    const meta: SentinelFrameMeta = { sentinelKind: 'scores', seriesKey: item.seriesKey, feature: item.feature };
    return createDataFrame({
      refId,
      name: item.seriesKey,
      meta: { custom: meta },
      fields: [
        { name: 'time', type: FieldType.time, values: points.map((p) => toMs(p.timestamp)) },
        numeric('value', points.map((p) => num(p.value)), { unit, displayNameFromDS: `${item.feature}${suffix}` }),
        numeric('expected', points.map((p) => num(p.expected)), { unit, displayNameFromDS: `${item.feature} expected${suffix}` }),
        numeric('lower', points.map((p) => num(p.lower)), { unit, displayNameFromDS: `${item.feature} lower${suffix}` }),
        numeric('upper', points.map((p) => num(p.upper)), { unit, displayNameFromDS: `${item.feature} upper${suffix}` }),
        numeric('score', points.map((p) => num(p.score)), { min: 0, displayNameFromDS: `anomaly score${suffix}` }),
        { name: 'isAnomaly', type: FieldType.boolean, values: points.map((p) => Boolean(p.isAnomaly)) },
      ],
    });
  });
}

/** One frame per series with only `time` and `value`, the raw feature (no score, no band). */
export function featuresToFrames(response: ScoresResponse, refId: string): DataFrame[] {
  const items = response.items ?? [];
  return items.map((item) => {
    const points = [...(item.points ?? [])].sort((a, b) => toMs(a.timestamp) - toMs(b.timestamp));
    const meta: SentinelFrameMeta = { sentinelKind: 'features', seriesKey: item.seriesKey, feature: item.feature };
    return createDataFrame({
      refId,
      name: item.seriesKey,
      meta: { custom: meta },
      fields: [
        { name: 'time', type: FieldType.time, values: points.map((p) => toMs(p.timestamp)) },
        {
          name: 'value',
          type: FieldType.number,
          values: points.map((p) => num(p.value)),
          labels: item.labels,
          config: { unit: featureUnit(item.feature), displayNameFromDS: item.feature },
        },
      ],
    });
  });
}

/**
 * Anomalies as one table: `time` (start), `timeEnd`, `severity`, `type`, `service`, `score`,
 * `summary` (the explanation summary), then `id`, `model`, `seriesKey`, `status`, `resolution` (why a
 * resolved one resolved: `recovered`, `stale` when its series stopped reporting, `state_lost`), `feedback` for
 * links, annotations and the panel.
 */
export function anomaliesToFrame(records: AnomalyRecord[], refId: string, notices: QueryResultMetaNotice[] = []): DataFrame {
  const meta: SentinelFrameMeta = { sentinelKind: 'anomalies' };
  return createDataFrame({
    refId,
    name: 'anomalies',
    meta: { custom: meta, preferredVisualisationType: 'table', ...(notices.length ? { notices } : {}) },
    fields: [
      { name: 'time', type: FieldType.time, values: records.map((r) => toMs(r.start)) },
      { name: 'timeEnd', type: FieldType.time, values: records.map((r) => toMs(r.end)) },
      { name: 'severity', type: FieldType.string, values: records.map((r) => r.severity) },
      { name: 'type', type: FieldType.string, values: records.map((r) => r.type) },
      { name: 'service', type: FieldType.string, values: records.map((r) => r.labels?.service ?? '') },
      { name: 'score', type: FieldType.number, values: records.map((r) => num(r.score)), config: { decimals: 2 } },
      { name: 'summary', type: FieldType.string, values: records.map((r) => r.explanation?.summary ?? '') },
      { name: 'id', type: FieldType.string, values: records.map((r) => r.id) },
      { name: 'model', type: FieldType.string, values: records.map((r) => r.labels?.model ?? '') },
      { name: 'seriesKey', type: FieldType.string, values: records.map((r) => r.seriesKey) },
      { name: 'status', type: FieldType.string, values: records.map((r) => r.status ?? '') },
      { name: 'resolution', type: FieldType.string, values: records.map((r) => r.resolution ?? '') },
      { name: 'feedback', type: FieldType.string, values: records.map((r) => r.feedback?.verdict ?? '') },
    ],
  });
}

/**
 * One anomaly's explanation as three frames: `explanation` (one row: summary, markdown, fixes,
 * feedback), `evidence` (features that moved, actual against expected band) and `similar_incidents`.
 */
export function explanationToFrames(record: AnomalyRecord, refId: string): DataFrame[] {
  const ex = record.explanation;
  const features: Attribution[] = ex?.evidence?.features ?? record.attributions ?? [];
  const similar = ex?.evidence?.similarIncidents ?? [];
  const one = <T,>(value: T) => [value];
  const explanationMeta: SentinelFrameMeta = { sentinelKind: 'explanation', seriesKey: record.seriesKey };
  const evidenceMeta: SentinelFrameMeta = { sentinelKind: 'evidence', seriesKey: record.seriesKey };
  const similarMeta: SentinelFrameMeta = { sentinelKind: 'similar_incidents', seriesKey: record.seriesKey };
  return [
    createDataFrame({
      refId,
      name: 'explanation',
      meta: { custom: explanationMeta, preferredVisualisationType: 'table' },
      fields: [
        { name: 'id', type: FieldType.string, values: one(record.id) },
        { name: 'time', type: FieldType.time, values: one(toMs(record.start)) },
        { name: 'timeEnd', type: FieldType.time, values: one(toMs(record.end)) },
        { name: 'severity', type: FieldType.string, values: one(record.severity) },
        { name: 'type', type: FieldType.string, values: one(record.type) },
        { name: 'seriesKey', type: FieldType.string, values: one(record.seriesKey) },
        { name: 'score', type: FieldType.number, values: one(num(record.score)) },
        { name: 'source', type: FieldType.string, values: one(ex?.source ?? '') },
        { name: 'summary', type: FieldType.string, values: one(ex?.summary ?? '') },
        { name: 'markdown', type: FieldType.string, values: one(ex?.markdown ?? '') },
        { name: 'rootCause', type: FieldType.string, values: one(ex?.rootCause ?? '') },
        { name: 'immediateFix', type: FieldType.string, values: one(ex?.immediateFix ?? '') },
        { name: 'longTermFix', type: FieldType.string, values: one(ex?.longTermFix ?? '') },
        { name: 'confidence', type: FieldType.number, values: one(num(ex?.confidence)) },
        { name: 'feedback', type: FieldType.string, values: one(record.feedback?.verdict ?? '') },
      ],
    }),
    createDataFrame({
      refId,
      name: 'evidence',
      meta: { custom: evidenceMeta, preferredVisualisationType: 'table' },
      fields: [
        { name: 'feature', type: FieldType.string, values: features.map((f) => f.feature) },
        { name: 'actual', type: FieldType.number, values: features.map((f) => num(f.actual)) },
        { name: 'expected', type: FieldType.number, values: features.map((f) => num(f.expected)) },
        { name: 'lower', type: FieldType.number, values: features.map((f) => num(f.lower)) },
        { name: 'upper', type: FieldType.number, values: features.map((f) => num(f.upper)) },
        { name: 'z', type: FieldType.number, values: features.map((f) => num(f.z)) },
      ],
    }),
    createDataFrame({
      refId,
      name: 'similar_incidents',
      meta: { custom: similarMeta, preferredVisualisationType: 'table' },
      fields: [
        { name: 'anomalyId', type: FieldType.string, values: similar.map((s) => s.anomalyId) },
        { name: 'time', type: FieldType.time, values: similar.map((s) => (s.timestamp ? toMs(s.timestamp) : null)) },
        { name: 'type', type: FieldType.string, values: similar.map((s) => s.type ?? '') },
        { name: 'cause', type: FieldType.string, values: similar.map((s) => s.cause ?? '') },
        { name: 'distance', type: FieldType.number, values: similar.map((s) => num(s.distance)) },
      ],
    }),
  ];
}

/** ISO 8601 string or epoch ms -> epoch ms (NaN for garbage, which Grafana shows as a gap). */
export function toMs(timestamp: string | number): number {
  return typeof timestamp === 'number' ? timestamp : Date.parse(timestamp);
}

function num(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * The frame notice of an anomalies result that was cut off (Grafana shows it on the panel; the Sentinel
 * panel and the annotations editor too), or none when the result is complete. A panel that filters the
 * anomalies by series would otherwise silently miss the shown series' ones.
 */
export function anomaliesNotices(result: AnomaliesResult, limit: number): QueryResultMetaNotice[] {
  if (!result.more) {
    return [];
  }
  const text =
    result.items.length >= limit
      ? `Showing the newest ${result.items.length} anomalies; more match this query. Narrow it (series, service, model, ` +
        `severity, type) or raise the limit (max ${MAX_ANOMALY_LIMIT}).`
      : `Showing ${result.items.length} anomalies that match among the newest ${result.scanned} read; older ones in this ` +
        `range were not checked. Narrow the query by series or service, which the API filters itself.`;
  return [{ severity: 'warning', text }];
}

/**
 * Merges the answers of several `GET /api/v1/anomalies` requests (one per value of a multi-value
 * variable): distinct by id, newest first as the API orders them, at most `limit`.
 */
export function mergeAnomalies(results: AnomaliesResult[], limit: number): AnomaliesResult {
  if (results.length === 1) {
    return results[0];
  }
  const byId = new Map<string, AnomalyRecord>();
  results.forEach((r) => r.items.forEach((item) => byId.has(item.id) || byId.set(item.id, item)));
  const items = [...byId.values()].sort((a, b) => toMs(b.start) - toMs(a.start) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  return {
    items: items.slice(0, limit),
    more: items.length > limit || results.some((r) => r.more),
    scanned: results.reduce((sum, r) => sum + r.scanned, 0),
  };
}

/** Merges `GET /api/v1/scores` answers: the series `keep` accepts, each series and feature once. */
export function mergeScores(responses: ScoresResponse[], keep: (item: ScoreSeries) => boolean): ScoresResponse {
  const seen = new Set<string>();
  const items = responses
    .flatMap((r) => r.items)
    .filter((item) => {
      const key = `${item.seriesKey}\u0000${item.feature}`;
      return keep(item) && !seen.has(key) && Boolean(seen.add(key));
    });
  return { items };
}
