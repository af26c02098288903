/**
 * The receiver's own view of OTLP data, flattened and normalised: what the mappers read. The protobuf
 * adapter (otlp-codec.ts) builds these from decoded messages of either encoding, so nothing past it sees
 * protobufjs types, Long values or byte arrays.
 */

/** An attribute value after normalisation: int64 becomes a number (exact up to 2^53). */
export type AttrValue = string | number | boolean | null | AttrValue[] | { [key: string]: AttrValue };

/** Attributes by key. The last occurrence of a duplicated key wins. */
export type Attrs = Record<string, AttrValue>;

/** OTLP span status codes (trace.proto Status.StatusCode). */
export const STATUS_UNSET = 0;
export const STATUS_OK = 1;
export const STATUS_ERROR = 2;

/** One span with its resource and scope flattened in. */
export interface OtlpSpan {
  /** Lower-case hex, "" when absent. */
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  /** Epoch milliseconds (fractional) of start and end. */
  startMs: number;
  endMs: number;
  attributes: Attrs;
  resource: Attrs;
  scopeName: string;
  status: { code: number; message: string };
  events: { name: string; timeMs: number; attributes: Attrs }[];
}

/** AggregationTemporality of metrics.proto. */
export const TEMPORALITY_DELTA = 1;
export const TEMPORALITY_CUMULATIVE = 2;

/**
 * One data point of a histogram (explicit-bucket or exponential): the receiver only needs count and sum
 * (and the bounds of its interval) to compute a mean per export.
 */
export interface OtlpHistogramPoint {
  metric: string;
  unit: string;
  temporality: number;
  resource: Attrs;
  attributes: Attrs;
  /** Epoch ms of the interval start (0 when the sender left it out) and of the point itself. */
  startMs: number;
  timeMs: number;
  count: number;
  /** Undefined when the sender omitted it (allowed for histograms with negative measurements). */
  sum?: number;
}

/** A decoded export request of traces: every span in it (spans are the unit of rejected_spans). */
export interface TraceBatch {
  spans: OtlpSpan[];
}

/**
 * A decoded export request of metrics: the histogram points the receiver maps and the number of data
 * points of every kind (the unit of rejected_data_points).
 */
export interface MetricBatch {
  histograms: OtlpHistogramPoint[];
  totalDataPoints: number;
}

/** First present attribute among `keys`, as a string (numbers and booleans are stringified). */
export function attrString(attrs: Attrs, keys: readonly string[]): string | undefined {
  for (const k of keys) {
    const v = attrs[k];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  }
  return undefined;
}

/** First present attribute among `keys` that is a finite number (numeric strings are accepted too). */
export function attrNumber(attrs: Attrs, keys: readonly string[]): number | undefined {
  for (const k of keys) {
    const v = attrs[k];
    if (typeof v === 'number' && Number.isFinite(v)) return v;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  }
  return undefined;
}
