/**
 * What happens to a decoded OTLP request: spans are classified and model calls become events for the
 * windows, agent traces feed per-trace points, GenAI histograms become points. Independent of HTTP, so it
 * can be tested and reused (e.g. by a future gRPC receiver).
 */
import type { LlmEvent, SeriesPoint } from '../domain/types';
import { eventSchema } from '../ingest/schema';
import { issuePath } from '../ingest/parse';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { IngestResult } from '../pipeline/pipeline';
import { AgentTraceTracker, type AgentTraceOptions, type Completed } from './agent-traces';
import { classifySpan, type GenAiMappingOptions, type SpanClass } from './genai-mapping';
import { GenAiMetricsMapper } from './metrics-mapping';
import type { MetricBatch, OtlpSpan, TraceBatch } from './model';

/** The part of the pipeline the receiver needs. */
export interface IngestTarget {
  ingestEvents(events: readonly LlmEvent[], indexes?: readonly number[]): IngestResult;
  ingestPoints(points: readonly SeriesPoint[], indexes?: readonly number[]): IngestResult;
}

/** Options of the {@link OtlpIngestor}. */
export interface OtlpIngestorOptions {
  target: IngestTarget;
  mapping: GenAiMappingOptions;
  traces?: AgentTraceOptions;
  metrics?: SentinelMetrics;
  log?: Logger;
}

/** Outcome of one export request, in OTLP terms. */
export interface ExportOutcome {
  /** Spans / data points in the request. */
  received: number;
  /** Used: mapped and accepted by the pipeline. */
  accepted: number;
  /** Not GenAI telemetry (other spans, other metrics): accepted and dropped, as a filter would. */
  ignored: number;
  /** Refused: reported as rejected_spans / rejected_data_points. */
  rejected: number;
  /** Reasons of the first rejections, for partial_success.error_message. */
  reasons: string[];
}

const MAX_REASONS = 5;
/** Span ids remembered to drop an exporter's retried batches (~100 bytes each: ~20 MB at most). */
const SEEN_SPANS = 200_000;

/** Maps decoded OTLP batches onto the pipeline. */
export class OtlpIngestor {
  readonly traces: AgentTraceTracker;
  private readonly mapper = new GenAiMetricsMapper();

  /** Spans taken recently (trace id / span id), oldest first, at most SEEN_SPANS. */
  private readonly seen = new Set<string>();

  constructor(private readonly opts: OtlpIngestorOptions) {
    this.traces = new AgentTraceTracker(opts.traces);
  }

  private remember(id: string): void {
    this.seen.add(id);
    if (this.seen.size > SEEN_SPANS) this.seen.delete(this.seen.values().next().value as string);
  }

  /** Ingests the spans of one ExportTraceServiceRequest. */
  ingestTraces(batch: TraceBatch): ExportOutcome {
    const out: ExportOutcome = { received: batch.spans.length, accepted: 0, ignored: 0, rejected: 0, reasons: [] };
    const events: { event: LlmEvent; index: number; id: string }[] = [];
    // Spans for the agent-trace features, in batch order (a root completes its trace only once open). They
    // are observed once the pipeline has answered: a refused model call (invalid, late) feeds nothing.
    const observed: { span: OtlpSpan; cls: SpanClass; index: number }[] = [];
    batch.spans.forEach((span, index) => {
      // Exporters retry a whole batch after a 429, a 5xx or a timeout that may have come after it was taken:
      // a span seen recently is a repeat, not a second request (QA: one span sent twice counted twice).
      const id = `${span.traceId}/${span.spanId}`;
      if (span.spanId && this.seen.has(id)) {
        out.ignored++;
        return;
      }
      const cls = classifySpan(span, this.opts.mapping);
      if (cls.kind !== 'model') {
        observed.push({ span, cls, index });
        // Tool / agent spans are used (per-trace features) but are not events; other spans are not ours.
        if (cls.kind === 'genai') {
          out.accepted++;
          this.remember(id);
        } else out.ignored++;
        return;
      }
      const missing = missingTime(span);
      if (missing !== undefined) {
        this.refuse(out, span, index, missing);
        return;
      }
      const r = eventSchema.safeParse(cls.event);
      if (!r.success) {
        const issue = r.error.issues[0];
        this.refuse(out, span, index, `${issuePath(issue.path)}: ${issue.message}`);
        return;
      }
      events.push({ event: r.data, index, id });
      observed.push({ span, cls, index });
    });
    // Spans of one request come in end order per producer, but a collector merges producers: sorting by
    // event time keeps the windower from calling the earlier ones late.
    events.sort((a, b) => a.event.timestamp - b.event.timestamp);
    const result = this.opts.target.ingestEvents(
      events.map((e) => e.event),
      events.map((e) => e.index),
    );
    out.accepted += result.accepted;
    const refused = new Set(result.rejected.map((rj) => rj.index));
    for (const e of events) if (!refused.has(e.index) && batch.spans[e.index]?.spanId) this.remember(e.id);
    for (const rj of result.rejected) this.reject(out, `span ${batch.spans[rj.index]?.spanId || rj.index}: ${rj.field}: ${rj.message}`);
    for (const o of observed) if (!refused.has(o.index)) this.traces.observe(o.span, o.cls);
    this.ingestCompleted(this.traces.collect());
    this.count('traces', out);
    return out;
  }

  /** Ingests the data points of one ExportMetricsServiceRequest. */
  ingestMetrics(batch: MetricBatch): ExportOutcome {
    const out: ExportOutcome = { received: batch.totalDataPoints, accepted: 0, ignored: 0, rejected: 0, reasons: [] };
    const mapped = this.mapper.map(batch.histograms);
    for (const bad of mapped.invalid) {
      this.reject(out, bad.message);
      this.opts.metrics?.eventsRejected.inc({ reason: 'invalid' });
    }
    const result = this.opts.target.ingestPoints(mapped.points.map((p) => p.point));
    const refused = new Set(result.rejected.map((r) => r.index));
    this.mapper.accepted(mapped.points.filter((_, i) => !refused.has(i)).map((p) => p.point));
    mapped.points.forEach((p, i) => {
      if (refused.has(i)) {
        out.rejected += p.sources.length;
        const r = result.rejected.find((x) => x.index === i);
        if (out.reasons.length < MAX_REASONS) out.reasons.push(`${p.point.series} at ${new Date(p.point.timestamp).toISOString()}: ${r?.message ?? 'refused'}`);
      } else out.accepted += p.sources.length;
    });
    // Data points that mapped to nothing new (another metric, or no measurement since the last export).
    out.ignored = out.received - out.accepted - out.rejected;
    this.count('metrics', out);
    return out;
  }

  /** Completes idle agent traces (called on a timer). */
  tick(): void {
    this.ingestCompleted(this.traces.collect());
  }

  /** Completes every open agent trace (shutdown). */
  flush(): void {
    this.ingestCompleted(this.traces.flushAll());
  }

  private ingestCompleted(c: Completed): void {
    const m = this.opts.metrics;
    if (m) {
      for (const [reason, n] of Object.entries(c.traces)) m.otlpTracesCompleted.inc({ reason }, n);
      m.otlpOpenTraces.set(this.traces.openCount);
    }
    if (c.points.length === 0) return;
    const r = this.opts.target.ingestPoints(c.points);
    // Derived points are not the sender's data: a refusal is logged, not reported back as rejected spans.
    if (r.rejected.length) this.opts.log?.warn({ rejected: r.rejected.slice(0, 3), count: r.rejected.length }, 'agent trace points refused');
  }

  /** A model-call span that cannot become an event (counted as an invalid event). */
  private refuse(out: ExportOutcome, span: OtlpSpan, index: number, why: string): void {
    this.reject(out, `span ${span.spanId || index}: ${why}`);
    this.opts.metrics?.eventsRejected.inc({ reason: 'invalid' });
  }

  private reject(out: ExportOutcome, reason: string): void {
    out.rejected++;
    if (out.reasons.length < MAX_REASONS) out.reasons.push(reason);
  }

  private count(signal: 'traces' | 'metrics', out: ExportOutcome): void {
    const m = this.opts.metrics;
    if (!m) return;
    if (out.accepted) m.otlpReceived.inc({ signal, outcome: 'accepted' }, out.accepted);
    if (out.ignored) m.otlpReceived.inc({ signal, outcome: 'ignored' }, out.ignored);
    if (out.rejected) m.otlpReceived.inc({ signal, outcome: 'rejected' }, out.rejected);
  }
}

/**
 * Why a span cannot be placed in time, in OTLP terms: the event's timestamp is the span's end, and the
 * event contract's own wording ("an ISO 8601 time or epoch milliseconds") means nothing to an exporter.
 */
function missingTime(span: OtlpSpan): string | undefined {
  if (!(span.endMs > 0)) return 'no end time (endTimeUnixNano is 0): spans are exported once they have ended';
  if (!(span.startMs > 0)) return 'no start time (startTimeUnixNano is 0)';
  return undefined;
}
