/**
 * OTLP codec: the only module that touches protobufjs and the OpenTelemetry-generated protobuf classes.
 *
 * Decoding uses the static protobufjs module that the OpenTelemetry JS project generates from the official
 * opentelemetry-proto definitions and ships in @opentelemetry/otlp-transformer (pinned to 0.216.0, the last
 * release that still ships it: later releases replaced it with encode-only serializers, and no current
 * OpenTelemetry npm package ships the .proto files). Both encodings go through the same generated classes:
 * protobuf with `decode`, OTLP/JSON with `fromObject` after the two deviations of OTLP/JSON from the
 * canonical proto3 JSON mapping are undone (trace and span ids are hex, not base64). Everything that leaves
 * this module is the receiver's own model (model.ts): no Long, no Uint8Array, no message classes.
 */
import protobuf from 'protobufjs';
// The generated module is CommonJS (`module.exports = $root`); its typings only say "a Root".
import generatedRoot from '@opentelemetry/otlp-transformer/build/src/generated/root.js';
import { OtlpDecodeError } from './errors';
import type { AttrValue, Attrs, MetricBatch, OtlpHistogramPoint, OtlpSpan, TraceBatch } from './model';

/** Wire encodings of OTLP/HTTP. */
export type OtlpEncoding = 'protobuf' | 'json';

/** Content-Type of each encoding (responses use the request's). */
export const CONTENT_TYPE: Readonly<Record<OtlpEncoding, string>> = {
  protobuf: 'application/x-protobuf',
  json: 'application/json',
};

// ---- the shapes of the generated classes this module reads (a subset; unset fields are null) ----

interface LongLike {
  toNumber(): number;
}
type Int64 = number | string | LongLike | null | undefined;

interface PbAnyValue {
  stringValue?: string | null;
  boolValue?: boolean | null;
  intValue?: Int64;
  doubleValue?: number | null;
  arrayValue?: { values?: PbAnyValue[] | null } | null;
  kvlistValue?: { values?: PbKeyValue[] | null } | null;
  bytesValue?: Uint8Array | null;
}
interface PbKeyValue {
  key?: string | null;
  value?: PbAnyValue | null;
}
interface PbResource {
  attributes?: PbKeyValue[] | null;
}
interface PbSpan {
  traceId?: Uint8Array | null;
  spanId?: Uint8Array | null;
  parentSpanId?: Uint8Array | null;
  name?: string | null;
  kind?: number | null;
  startTimeUnixNano?: Int64;
  endTimeUnixNano?: Int64;
  attributes?: PbKeyValue[] | null;
  events?: { timeUnixNano?: Int64; name?: string | null; attributes?: PbKeyValue[] | null }[] | null;
  status?: { code?: number | null; message?: string | null } | null;
}
interface PbTraceRequest {
  resourceSpans?: { resource?: PbResource | null; scopeSpans?: { scope?: { name?: string | null } | null; spans?: PbSpan[] | null }[] | null }[] | null;
}
interface PbHistogramPoint {
  attributes?: PbKeyValue[] | null;
  startTimeUnixNano?: Int64;
  timeUnixNano?: Int64;
  count?: Int64;
  sum?: number | null;
}
interface PbMetric {
  name?: string | null;
  unit?: string | null;
  gauge?: { dataPoints?: unknown[] | null } | null;
  sum?: { dataPoints?: unknown[] | null } | null;
  histogram?: { dataPoints?: PbHistogramPoint[] | null; aggregationTemporality?: number | null } | null;
  exponentialHistogram?: { dataPoints?: PbHistogramPoint[] | null; aggregationTemporality?: number | null } | null;
  summary?: { dataPoints?: unknown[] | null } | null;
}
interface PbMetricsRequest {
  resourceMetrics?: { resource?: PbResource | null; scopeMetrics?: { metrics?: PbMetric[] | null }[] | null }[] | null;
}

interface MessageClass<T> {
  decode(buf: Uint8Array): T;
  fromObject(obj: Record<string, unknown>): T;
  encode(msg: unknown): { finish(): Uint8Array };
  toObject(msg: T, opts: Record<string, unknown>): Record<string, unknown>;
  create(props: Record<string, unknown>): T;
}

interface GeneratedRoot {
  opentelemetry: {
    proto: {
      collector: {
        trace: { v1: { ExportTraceServiceRequest: MessageClass<PbTraceRequest>; ExportTraceServiceResponse: MessageClass<unknown> } };
        metrics: { v1: { ExportMetricsServiceRequest: MessageClass<PbMetricsRequest>; ExportMetricsServiceResponse: MessageClass<unknown> } };
      };
    };
  };
}

const otel = (generatedRoot as unknown as GeneratedRoot).opentelemetry.proto.collector;
const TraceRequest = otel.trace.v1.ExportTraceServiceRequest;
const TraceResponse = otel.trace.v1.ExportTraceServiceResponse;
const MetricsRequest = otel.metrics.v1.ExportMetricsServiceRequest;
const MetricsResponse = otel.metrics.v1.ExportMetricsServiceResponse;

/**
 * google.rpc.Status, the body of every OTLP/HTTP error response. Declared from its published schema
 * (google/rpc/status.proto: code = 1, message = 2; `details` is left out since the receiver sends none)
 * and encoded by protobufjs.
 */
const StatusType = new protobuf.Type('Status').add(new protobuf.Field('code', 1, 'int32')).add(new protobuf.Field('message', 2, 'string'));
new protobuf.Root().define('google.rpc').add(StatusType);

/** Depth limit for nested attribute values (arrays / key-value lists inside each other). */
const MAX_VALUE_DEPTH = 8;

const toObjectOptions = { longs: String, enums: Number, defaults: false } as const;

// ---------------------------------------------------------------- decoding

/** Decodes an ExportTraceServiceRequest body. Throws OtlpDecodeError on anything malformed. */
export function decodeTraces(body: Uint8Array, encoding: OtlpEncoding): TraceBatch {
  const msg = encoding === 'protobuf' ? decodeProtobuf(TraceRequest, body) : fromJson(TraceRequest, body, prepareTraceJson);
  const spans: OtlpSpan[] = [];
  for (const rs of msg.resourceSpans ?? []) {
    const resource = attributes(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      const scopeName = ss.scope?.name ?? '';
      for (const s of ss.spans ?? []) {
        spans.push({
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          name: s.name ?? '',
          kind: s.kind ?? 0,
          startMs: nanosToMs(s.startTimeUnixNano),
          endMs: nanosToMs(s.endTimeUnixNano),
          attributes: attributes(s.attributes),
          resource,
          scopeName,
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? '' },
          events: (s.events ?? []).map((e) => ({ name: e.name ?? '', timeMs: nanosToMs(e.timeUnixNano), attributes: attributes(e.attributes) })),
        });
      }
    }
  }
  return { spans };
}

/**
 * Decodes an ExportMetricsServiceRequest body: histogram points (explicit and exponential) of every metric,
 * and the number of data points of all kinds.
 */
export function decodeMetrics(body: Uint8Array, encoding: OtlpEncoding): MetricBatch {
  const msg = encoding === 'protobuf' ? decodeProtobuf(MetricsRequest, body) : fromJson(MetricsRequest, body, undefined);
  const histograms: OtlpHistogramPoint[] = [];
  let totalDataPoints = 0;
  for (const rm of msg.resourceMetrics ?? []) {
    const resource = attributes(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        totalDataPoints +=
          (m.gauge?.dataPoints?.length ?? 0) + (m.sum?.dataPoints?.length ?? 0) + (m.summary?.dataPoints?.length ?? 0);
        const h = m.histogram ?? m.exponentialHistogram;
        if (!h) continue;
        for (const p of h.dataPoints ?? []) {
          totalDataPoints++;
          histograms.push({
            metric: m.name ?? '',
            unit: m.unit ?? '',
            temporality: h.aggregationTemporality ?? 0,
            resource,
            attributes: attributes(p.attributes),
            startMs: nanosToMs(p.startTimeUnixNano),
            timeMs: nanosToMs(p.timeUnixNano),
            count: int64(p.count),
            ...(typeof p.sum === 'number' ? { sum: p.sum } : {}),
          });
        }
      }
    }
  }
  return { histograms, totalDataPoints };
}

function decodeProtobuf<T>(type: MessageClass<T>, body: Uint8Array): T {
  try {
    return type.decode(body);
  } catch (err) {
    throw new OtlpDecodeError(`body is not a valid protobuf ${messageName(type)}: ${(err as Error).message}`, err);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fromJson<T>(type: MessageClass<T>, body: Uint8Array, prepare: ((obj: Record<string, unknown>) => void) | undefined): T {
  let obj: unknown;
  try {
    const text = utf8.decode(body);
    obj = text.trim() === '' ? {} : JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`body is not valid UTF-8 JSON: ${(err as Error).message}`, err);
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) {
    throw new OtlpDecodeError(`body must be a JSON object (an OTLP ${messageName(type)})`);
  }
  try {
    prepare?.(obj as Record<string, unknown>);
    return type.fromObject(obj as Record<string, unknown>);
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    // protobufjs reports shape errors as TypeError(".resourceSpans: array expected") and the like.
    throw new OtlpDecodeError(`body is not a valid OTLP/JSON ${messageName(type)}: ${(err as Error).message}`, err);
  }
}

function messageName(type: MessageClass<unknown>): string {
  return type === (TraceRequest as MessageClass<unknown>) ? 'ExportTraceServiceRequest' : 'ExportMetricsServiceRequest';
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * OTLP/JSON encodes traceId / spanId / parentSpanId (of spans and links) as hex strings, where proto3 JSON
 * (and so `fromObject`) expects base64: convert them to bytes in place before `fromObject`.
 */
function prepareTraceJson(obj: Record<string, unknown>): void {
  const arr = (v: unknown, where: string): Record<string, unknown>[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new OtlpDecodeError(`${where}: array expected`);
    return v as Record<string, unknown>[];
  };
  const ids = (o: Record<string, unknown>, keys: readonly string[], where: string) => {
    for (const k of keys) {
      const v = o[k];
      if (v === undefined || v === null || v === '') continue;
      if (typeof v !== 'string' || !HEX.test(v)) throw new OtlpDecodeError(`${where}.${k}: hex string expected`);
      o[k] = Buffer.from(v, 'hex');
    }
  };
  arr(obj.resourceSpans, 'resourceSpans').forEach((rs, i) => {
    if (rs === null || typeof rs !== 'object') throw new OtlpDecodeError(`resourceSpans.${i}: object expected`);
    arr(rs.scopeSpans, `resourceSpans.${i}.scopeSpans`).forEach((ss, j) => {
      if (ss === null || typeof ss !== 'object') throw new OtlpDecodeError(`resourceSpans.${i}.scopeSpans.${j}: object expected`);
      arr(ss.spans, `resourceSpans.${i}.scopeSpans.${j}.spans`).forEach((s, k) => {
        const where = `resourceSpans.${i}.scopeSpans.${j}.spans.${k}`;
        if (s === null || typeof s !== 'object') throw new OtlpDecodeError(`${where}: object expected`);
        ids(s, ['traceId', 'spanId', 'parentSpanId'], where);
        arr(s.links, `${where}.links`).forEach((l, n) => {
          if (l === null || typeof l !== 'object') throw new OtlpDecodeError(`${where}.links.${n}: object expected`);
          ids(l, ['traceId', 'spanId'], `${where}.links.${n}`);
        });
      });
    });
  });
}

// ---------------------------------------------------------------- normalisation

function hex(b: Uint8Array | null | undefined): string {
  if (!b || b.length === 0) return '';
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

function int64(v: Int64): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return Number(v);
  return v.toNumber();
}

/** Nanoseconds since the epoch to (fractional) milliseconds; 2^53 ns of precision loss is ~0.25 µs. */
function nanosToMs(v: Int64): number {
  return int64(v) / 1e6;
}

function attributes(kvs: PbKeyValue[] | null | undefined): Attrs {
  const out: Attrs = {};
  if (!kvs) return out;
  for (const kv of kvs) if (kv.key) out[kv.key] = anyValue(kv.value, 0);
  return out;
}

function anyValue(v: PbAnyValue | null | undefined, depth: number): AttrValue {
  if (!v) return null;
  if (v.stringValue !== null && v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== null && v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== null && v.intValue !== undefined) return int64(v.intValue);
  if (v.doubleValue !== null && v.doubleValue !== undefined) return v.doubleValue;
  if (depth >= MAX_VALUE_DEPTH) return null;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map((x) => anyValue(x, depth + 1));
  if (v.kvlistValue) {
    const o: { [key: string]: AttrValue } = {};
    for (const kv of v.kvlistValue.values ?? []) if (kv.key) o[kv.key] = anyValue(kv.value, depth + 1);
    return o;
  }
  if (v.bytesValue) return Buffer.from(v.bytesValue).toString('base64');
  return null;
}

// ---------------------------------------------------------------- encoding

/** What a partially accepted request reports back (OTLP partial success). */
export interface PartialSuccess {
  rejected: number;
  errorMessage: string;
}

/**
 * ExportTraceServiceResponse / ExportMetricsServiceResponse in `encoding`. `partial_success` is set only
 * when something was rejected or there is a warning, as the specification asks; full success is an empty
 * message.
 */
export function encodeExportResponse(signal: 'traces' | 'metrics', encoding: OtlpEncoding, partial?: PartialSuccess): Buffer {
  const type = signal === 'traces' ? TraceResponse : MetricsResponse;
  const field = signal === 'traces' ? 'rejectedSpans' : 'rejectedDataPoints';
  const msg = type.create(partial ? { partialSuccess: { [field]: partial.rejected, errorMessage: partial.errorMessage } } : {});
  if (encoding === 'protobuf') return Buffer.from(type.encode(msg).finish());
  return Buffer.from(JSON.stringify(type.toObject(msg, toObjectOptions)));
}

/** google.rpc.Status in `encoding`: the body of 4xx / 5xx responses. */
export function encodeStatus(encoding: OtlpEncoding, code: number, message: string): Buffer {
  if (encoding === 'protobuf') return Buffer.from(StatusType.encode(StatusType.create({ code, message })).finish());
  return Buffer.from(JSON.stringify({ code, message }));
}

/** Decodes a google.rpc.Status (for tests and clients of this module). */
export function decodeStatus(body: Uint8Array): { code: number; message: string } {
  const o = StatusType.toObject(StatusType.decode(body), { defaults: true }) as { code: number; message: string };
  return { code: o.code, message: o.message };
}

/** Decodes an export response (for tests): the partial success, if any. */
export function decodeExportResponse(signal: 'traces' | 'metrics', body: Uint8Array): PartialSuccess | undefined {
  const type = signal === 'traces' ? TraceResponse : MetricsResponse;
  const o = type.toObject(type.decode(body), toObjectOptions) as { partialSuccess?: Record<string, string | number | undefined> };
  if (!o.partialSuccess) return undefined;
  const rejected = o.partialSuccess[signal === 'traces' ? 'rejectedSpans' : 'rejectedDataPoints'];
  return { rejected: Number(rejected ?? 0), errorMessage: String(o.partialSuccess.errorMessage ?? '') };
}
