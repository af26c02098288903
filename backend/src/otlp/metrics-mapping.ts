/**
 * GenAI client metrics -> series points.
 *
 * `gen_ai.client.token.usage`, `gen_ai.client.operation.duration` and, for streamed calls,
 * `gen_ai.client.operation.time_to_first_chunk` are histograms (one measurement per operation). Each
 * export becomes, per series, one point whose value is the MEAN of the measurements made since the
 * previous export: delta sum / delta count. Cumulative streams (the SDK default) are turned into
 * deltas here, with bounded per-stream state; delta streams are used as they are. An export with no new
 * measurement for a series yields no point (a mean of nothing is not zero).
 *
 * Series: the metric name; labels `service` (resource service.name), `model` (gen_ai.request.model, else
 * gen_ai.response.model) and, for token usage, `token_type` (input | output | other). Streams that differ
 * only in other attributes (operation, server.address, error.type, response model) are merged.
 *
 * Replicas: a stream is identified by its whole resource (service.instance.id included) and attributes, so
 * each replica of a service has its own cumulative state, and all of them feed the one series of the
 * service, as their spans feed one event series. Replicas export at their own times and a collector may
 * deliver them in any order: a point stamped at or before the series' last accepted point is moved to 1 ms
 * after it (its value is the mean over its own export interval either way) instead of being refused.
 */
import type { SeriesPoint } from '../domain/types';
import { GENAI_ATTRIBUTES, UNKNOWN_MODEL, UNKNOWN_SERVICE } from './genai-mapping';
import { TEMPORALITY_CUMULATIVE, TEMPORALITY_DELTA, attrString, type Attrs, type OtlpHistogramPoint } from './model';

/** The metrics the receiver maps (semconv names). */
export const TOKEN_USAGE_METRIC = 'gen_ai.client.token.usage';
export const OPERATION_DURATION_METRIC = 'gen_ai.client.operation.duration';
export const TIME_TO_FIRST_CHUNK_METRIC = 'gen_ai.client.operation.time_to_first_chunk';
export const MAPPED_METRICS: ReadonlySet<string> = new Set([TOKEN_USAGE_METRIC, OPERATION_DURATION_METRIC, TIME_TO_FIRST_CHUNK_METRIC]);

const TOKEN_TYPES = new Set(['input', 'output']);

/** A point to ingest and the indexes (in the request) of the data points it was computed from. */
export interface MappedPoint {
  point: SeriesPoint;
  sources: number[];
}

/** Outcome of mapping one request's histogram points. */
export interface MetricsMapping {
  points: MappedPoint[];
  /** Data points of mapped metrics that could not be used (bad temporality, no sum), with why. */
  invalid: { index: number; message: string }[];
}

interface StreamState {
  startMs: number;
  timeMs: number;
  count: number;
  sum: number;
}

/**
 * Turns histogram points of the GenAI metrics into series points. Holds the last cumulative value of each
 * stream (bounded: the least recently seen streams are forgotten first, which at worst makes one export of
 * such a stream count from its start again) and the time of each series' last accepted point (bounded
 * alike).
 */
export class GenAiMetricsMapper {
  private readonly streams = new Map<string, StreamState>();
  /** Per series, the time of its last point the pipeline accepted (see {@link accepted}). */
  private readonly lastTs = new Map<string, number>();

  constructor(private readonly maxStreams = 10_000) {}

  /** Number of cumulative streams remembered. */
  get streamCount(): number {
    return this.streams.size;
  }

  map(histograms: readonly OtlpHistogramPoint[]): MetricsMapping {
    const invalid: MetricsMapping['invalid'] = [];
    const groups = new Map<string, { point: SeriesPoint; count: number; sum: number; sources: number[] }>();
    histograms.forEach((h, index) => {
      if (!MAPPED_METRICS.has(h.metric)) return;
      if (h.sum === undefined) {
        invalid.push({ index, message: `${h.metric}: data point without sum` });
        return;
      }
      // Token counts and durations are never negative: such a point is a producer bug, and its mean would
      // be learnt as a level the series can have.
      if (!(h.sum >= 0) || !Number.isFinite(h.sum)) {
        invalid.push({ index, message: `${h.metric}: sum ${h.sum} (tokens and durations cannot be negative)` });
        return;
      }
      const delta = this.delta(h);
      if (delta === 'invalid') {
        invalid.push({ index, message: `${h.metric}: unknown aggregation temporality ${h.temporality}` });
        return;
      }
      if (delta.count <= 0) return;
      if (delta.sum < 0) {
        invalid.push({ index, message: `${h.metric}: cumulative sum went down from one export to the next while the count went up` });
        return;
      }
      const labels = labelsOf(h);
      const timestamp = Math.round(h.timeMs);
      const key = `${seriesKey(h.metric, labels)}\u0000${timestamp}`;
      let g = groups.get(key);
      if (!g) {
        g = { point: { series: h.metric, labels, timestamp, value: 0 }, count: 0, sum: 0, sources: [] };
        groups.set(key, g);
      }
      g.count += delta.count;
      g.sum += delta.sum;
      g.sources.push(index);
    });
    const points: MappedPoint[] = [];
    for (const g of groups.values()) points.push({ point: { ...g.point, value: g.sum / g.count }, sources: g.sources });
    // Per series, points must arrive in time order (the pipeline refuses older ones).
    points.sort((a, b) => a.point.timestamp - b.point.timestamp);
    // Another replica's export may have been accepted already with a later time: move past it.
    const last = new Map<string, number>();
    for (const { point } of points) {
      const key = seriesKey(point.series, point.labels);
      const prev = last.get(key) ?? this.lastTs.get(key);
      if (prev !== undefined && point.timestamp <= prev) point.timestamp = prev + 1;
      last.set(key, point.timestamp);
    }
    return { points, invalid };
  }

  /**
   * Records points the pipeline accepted: later points of their series are moved past them. Only accepted
   * ones: a point refused as too far in the future must not drag the series' next points after it.
   */
  accepted(points: readonly SeriesPoint[]): void {
    for (const p of points) {
      const key = seriesKey(p.series, p.labels);
      const ts = Math.max(p.timestamp, this.lastTs.get(key) ?? -Infinity);
      this.lastTs.delete(key);
      this.lastTs.set(key, ts);
      if (this.lastTs.size > this.maxStreams) this.lastTs.delete(this.lastTs.keys().next().value as string);
    }
  }

  private delta(h: OtlpHistogramPoint): { count: number; sum: number } | 'invalid' {
    const sum = h.sum ?? 0;
    if (h.temporality === TEMPORALITY_DELTA) return { count: h.count, sum };
    if (h.temporality !== TEMPORALITY_CUMULATIVE) return 'invalid';
    const key = streamKey(h);
    const prev = this.streams.get(key);
    // A point of the same run not after the last one is a repeat (a retried export) or arrived out of
    // order: nothing new, and taken as a restart it would count the whole run again.
    if (prev && prev.startMs === h.startMs && h.timeMs <= prev.timeMs) return { count: 0, sum: 0 };
    this.streams.delete(key);
    this.streams.set(key, { startMs: h.startMs, timeMs: h.timeMs, count: h.count, sum });
    if (this.streams.size > this.maxStreams) this.streams.delete(this.streams.keys().next().value as string);
    // A new start time or a smaller count means the producer restarted: the cumulative value is all new.
    if (!prev || prev.startMs !== h.startMs || h.count < prev.count) return { count: h.count, sum };
    return { count: h.count - prev.count, sum: sum - prev.sum };
  }
}

function labelsOf(h: OtlpHistogramPoint): Record<string, string> {
  const labels: Record<string, string> = {
    service: clip(attrString(h.resource, GENAI_ATTRIBUTES.service) ?? UNKNOWN_SERVICE),
    model: clip(attrString(h.attributes, GENAI_ATTRIBUTES.model) ?? UNKNOWN_MODEL),
  };
  if (h.metric === TOKEN_USAGE_METRIC) {
    const t = attrString(h.attributes, ['gen_ai.token.type']);
    labels.token_type = t !== undefined && TOKEN_TYPES.has(t) ? t : 'other';
  }
  return labels;
}

/** Identity of a series: metric and labels. */
function seriesKey(metric: string, labels: Record<string, string>): string {
  return `${metric}\u0000${labels.service}\u0000${labels.model}\u0000${labels.token_type ?? ''}`;
}

/**
 * Identity of a stream: metric, resource (service.instance.id included) and point attributes (sorted, so
 * order does not matter).
 */
function streamKey(h: OtlpHistogramPoint): string {
  return `${h.metric}\u0000${canonical(h.resource)}\u0000${canonical(h.attributes)}`;
}

function canonical(a: Attrs): string {
  return JSON.stringify(Object.keys(a).sort().map((k) => [k, a[k]]));
}

function clip(s: string): string {
  return s.length > 256 ? s.slice(0, 256) : s;
}
