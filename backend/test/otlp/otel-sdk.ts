/**
 * Test helpers that produce REAL OTLP payloads: the OpenTelemetry JS SDK (tracer and meter providers) and
 * its own OTLP exporters, pointed at the in-process service on loopback. Spans carry explicit start and end
 * times so that scenarios can be laid out in event time.
 */
import { context, trace, SpanKind, SpanStatusCode, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, BatchSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** Which exporter: OTLP/HTTP binary protobuf or OTLP/HTTP JSON, optionally gzip-compressed. */
export interface ExporterKind {
  encoding: 'protobuf' | 'json';
  gzip: boolean;
}

/** A tracer whose spans go through a real OTLP exporter to `baseUrl`. */
export interface SdkTracer {
  tracer: Tracer;
  /** Exports everything ended so far and waits for the export to finish. */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function sdkTracer(baseUrl: string, service: string, kind: ExporterKind, headers: Record<string, string> = {}): SdkTracer {
  const options = { url: `${baseUrl}/v1/traces`, headers, compression: kind.gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE };
  const exporter = kind.encoding === 'protobuf' ? new ProtoTraceExporter(options) : new JsonTraceExporter(options);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    // Large queue and a long delay: the test decides when to export (flush), so batches are deterministic.
    spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 20_000, maxExportBatchSize: 2_000, scheduledDelayMillis: 3_600_000 })],
  });
  return {
    tracer: provider.getTracer('sentinel-test', '1.0.0'),
    flush: () => provider.forceFlush(),
    shutdown: () => provider.shutdown(),
  };
}

/** What a GenAI model-call span carries. */
export interface CallSpec {
  start: number;
  durationMs: number;
  model?: string;
  operation?: string;
  provider?: string;
  inputTokens?: number;
  outputTokens?: number;
  error?: string;
  attributes?: Attributes;
  parent?: Span;
}

/** Starts and ends one GenAI span with semconv attributes at explicit times; returns it (ended). */
export function genAiSpan(tracer: Tracer, spec: CallSpec): Span {
  const operation = spec.operation ?? 'chat';
  const attributes: Attributes = {
    'gen_ai.operation.name': operation,
    ...(spec.model !== undefined ? { 'gen_ai.request.model': spec.model, 'gen_ai.response.model': `${spec.model}-2024-08-06` } : {}),
    ...(spec.provider !== undefined ? { 'gen_ai.provider.name': spec.provider } : {}),
    ...(spec.inputTokens !== undefined ? { 'gen_ai.usage.input_tokens': spec.inputTokens } : {}),
    ...(spec.outputTokens !== undefined ? { 'gen_ai.usage.output_tokens': spec.outputTokens } : {}),
    ...(spec.error ? { 'error.type': spec.error } : {}),
    ...spec.attributes,
  };
  const ctx = spec.parent ? trace.setSpan(context.active(), spec.parent) : context.active();
  const span = tracer.startSpan(`${operation} ${spec.model ?? ''}`.trim(), { kind: SpanKind.CLIENT, startTime: spec.start, attributes }, ctx);
  if (spec.error) span.setStatus({ code: SpanStatusCode.ERROR, message: spec.error });
  span.end(spec.start + spec.durationMs);
  return span;
}

/** Starts a span (e.g. an agent's root) that the caller ends. */
export function startSpan(tracer: Tracer, name: string, start: number, attributes: Attributes = {}, parent?: Span): Span {
  const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
  return tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: start, attributes }, ctx);
}

/** A meter whose measurements go through a real OTLP metric exporter to `baseUrl` on `flush()`. */
export interface SdkMeter {
  provider: MeterProvider;
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

export function sdkMeter(baseUrl: string, service: string, kind: ExporterKind, headers: Record<string, string> = {}): SdkMeter {
  const options = { url: `${baseUrl}/v1/metrics`, headers, compression: kind.gzip ? CompressionAlgorithm.GZIP : CompressionAlgorithm.NONE };
  const exporter = kind.encoding === 'protobuf' ? new ProtoMetricExporter(options) : new JsonMetricExporter(options);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': service }), readers: [reader] });
  return { provider, flush: () => reader.forceFlush(), shutdown: () => provider.shutdown() };
}

/** Deterministic pseudo-random numbers in [0, 1) (tests must not depend on luck). */
export function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}
