/**
 * Per-trace features of agent workflows. An agent run is one trace holding many GenAI spans (model calls,
 * tool calls); its shape is a signal the per-request windows cannot see: a run that suddenly makes 40 model
 * calls, burns 10x the tokens, or loops (the same model called again and again with about the same prompt
 * size). Spans are gathered per trace; when the trace completes (its root span arrived, or no span of it
 * arrived for an idle timeout) one point per feature is emitted for the trace's service:
 *
 * - `agent_trace_llm_calls`         model calls in the trace
 * - `agent_trace_tokens`            input + output tokens of those calls
 * - `agent_trace_tool_calls`        execute_tool spans in the trace
 * - `agent_trace_max_similar_calls` size of the largest group of near-identical model calls (same
 *                                   operation and model, input tokens within 10 % (at least 16) of each
 *                                   other): the loop indicator
 *
 * Only agent traces emit: at least two model calls, or any tool / agent span. A plain chat request is one
 * model call per trace and is fully covered by the event windows; emitting for it would score one point
 * per request per feature. Memory is bounded: at most `maxOpenTraces` traces and `maxCallsPerTrace` calls
 * each (counts and token sums stay exact beyond that; only the loop grouping is computed on the first
 * calls). When the bound is hit the oldest open trace is completed early rather than dropped.
 */
import type { SeriesPoint } from '../domain/types';
import { TOOL_OPERATION, UNKNOWN_SERVICE, type SpanClass } from './genai-mapping';
import { attrString, type OtlpSpan } from './model';

/** Series names of the per-trace features. */
export const AGENT_SERIES = {
  llmCalls: 'agent_trace_llm_calls',
  tokens: 'agent_trace_tokens',
  toolCalls: 'agent_trace_tool_calls',
  maxSimilarCalls: 'agent_trace_max_similar_calls',
} as const;

/** Options of the {@link AgentTraceTracker}. */
export interface AgentTraceOptions {
  /** A trace with no new span for this long (wall clock) is complete. @default 30000 */
  idleMs?: number;
  /** Most traces held open at once. @default 10000 */
  maxOpenTraces?: number;
  /** Model calls kept per trace for the loop grouping. @default 1000 */
  maxCallsPerTrace?: number;
  /** Wall clock. @default Date.now */
  now?: () => number;
}

interface Call {
  group: string;
  inputTokens: number;
}

interface OpenTrace {
  service?: string;
  rootService?: string;
  /** The root span arrived: the trace completes at the end of the request that carried it. */
  rootSeen: boolean;
  lastSeen: number;
  endMs: number;
  llmCalls: number;
  tokens: number;
  toolCalls: number;
  agentSpans: number;
  calls: Call[];
}

/** Why a trace was completed (for metrics). */
export type CompletionReason = 'root' | 'idle' | 'evicted' | 'shutdown';

/** Points of completed traces, and how many traces completed for each reason. */
export interface Completed {
  points: SeriesPoint[];
  traces: Partial<Record<CompletionReason, number>>;
}

/** Tracks open traces and turns completed agent traces into series points. */
export class AgentTraceTracker {
  private readonly open = new Map<string, OpenTrace>();
  /** Traces completed since the last collect, in completion order. */
  private readonly completed: { trace: OpenTrace; reason: CompletionReason }[] = [];
  /** Recently completed trace ids, so a straggler span does not reopen (and re-emit) its trace. */
  private readonly done = new Set<string>();
  /** Last timestamp emitted per series, to keep each series strictly increasing. */
  private readonly lastTs = new Map<string, number>();
  private readonly idleMs: number;
  private readonly maxOpen: number;
  private readonly maxCalls: number;
  private readonly now: () => number;

  constructor(opts: AgentTraceOptions = {}) {
    this.idleMs = opts.idleMs ?? 30_000;
    this.maxOpen = opts.maxOpenTraces ?? 10_000;
    this.maxCalls = opts.maxCallsPerTrace ?? 1000;
    this.now = opts.now ?? Date.now;
  }

  /** Traces currently held open. */
  get openCount(): number {
    return this.open.size;
  }

  /**
   * Observes one span with its classification. GenAI spans open (or extend) their trace; a root span
   * completes a trace that is open. Spans without a trace id are ignored.
   */
  observe(span: OtlpSpan, cls: SpanClass): void {
    const id = span.traceId;
    if (!id || this.done.has(id)) return;
    let t = this.open.get(id);
    if (!t) {
      if (cls.kind === 'other') return;
      if (this.open.size >= this.maxOpen) this.complete(this.open.keys().next().value as string, 'evicted');
      t = { rootSeen: false, lastSeen: 0, endMs: 0, llmCalls: 0, tokens: 0, toolCalls: 0, agentSpans: 0, calls: [] };
      this.open.set(id, t);
    }
    t.lastSeen = this.now();
    t.endMs = Math.max(t.endMs, span.endMs);
    if (cls.kind === 'model') {
      const e = cls.event;
      t.service ??= e.service;
      t.llmCalls++;
      t.tokens += e.inputTokens + e.outputTokens;
      if (t.calls.length < this.maxCalls) t.calls.push({ group: `${cls.operation}\u0000${e.model}`, inputTokens: e.inputTokens });
    } else if (cls.kind === 'genai') {
      t.agentSpans++;
      if (cls.operation === TOOL_OPERATION) t.toolCalls++;
    }
    if (!span.parentSpanId) {
      // Not completed here: spans after the root in the same request (a collector may reorder) still count.
      t.rootSeen = true;
      t.rootService = attrString(span.resource, ['service.name']);
    }
  }

  /**
   * Completes traces whose root arrived or that went idle, and returns the points of every trace completed
   * since the last call. Called after each request and on a timer.
   */
  collect(): Completed {
    const now = this.now();
    for (const [id, t] of this.open) {
      if (t.rootSeen) this.complete(id, 'root');
      else if (now - t.lastSeen >= this.idleMs) this.complete(id, 'idle');
    }
    return this.drain();
  }

  /** Completes every open trace (shutdown) and returns the points. */
  flushAll(): Completed {
    for (const [id, t] of [...this.open]) this.complete(id, t.rootSeen ? 'root' : 'shutdown');
    return this.drain();
  }

  private complete(id: string, reason: CompletionReason): void {
    const t = this.open.get(id);
    if (!t) return;
    this.open.delete(id);
    this.completed.push({ trace: t, reason });
    this.done.add(id);
    if (this.done.size > this.maxOpen) this.done.delete(this.done.values().next().value as string);
  }

  private drain(): Completed {
    const points: SeriesPoint[] = [];
    const traces: Partial<Record<CompletionReason, number>> = {};
    for (const { trace: t, reason } of this.completed.splice(0)) {
      traces[reason] = (traces[reason] ?? 0) + 1;
      if (t.llmCalls < 2 && t.agentSpans === 0) continue;
      const service = t.rootService ?? t.service ?? UNKNOWN_SERVICE;
      const values: [string, number][] = [
        [AGENT_SERIES.llmCalls, t.llmCalls],
        [AGENT_SERIES.tokens, t.tokens],
        [AGENT_SERIES.toolCalls, t.toolCalls],
        [AGENT_SERIES.maxSimilarCalls, maxSimilarCalls(t.calls)],
      ];
      for (const [series, value] of values) {
        points.push({ series, labels: { service }, timestamp: this.timestamp(series, service, t.endMs), value });
      }
    }
    return { points, traces };
  }

  /** The trace's end time, moved 1 ms past the series' previous point when needed (points must increase). */
  private timestamp(series: string, service: string, endMs: number): number {
    const key = `${series}\u0000${service}`;
    const last = this.lastTs.get(key) ?? -Infinity;
    const ts = Math.max(Math.round(endMs), last + 1);
    this.lastTs.delete(key);
    this.lastTs.set(key, ts);
    if (this.lastTs.size > this.maxOpen) this.lastTs.delete(this.lastTs.keys().next().value as string);
    return ts;
  }
}

/**
 * Largest number of calls of one (operation, model) whose input token counts all lie within
 * max(16, 10 %) of the smallest of them: a sliding window over the sorted counts.
 */
export function maxSimilarCalls(calls: readonly { group: string; inputTokens: number }[]): number {
  const byGroup = new Map<string, number[]>();
  for (const c of calls) {
    const g = byGroup.get(c.group);
    if (g) g.push(c.inputTokens);
    else byGroup.set(c.group, [c.inputTokens]);
  }
  let best = 0;
  for (const xs of byGroup.values()) {
    xs.sort((a, b) => a - b);
    let lo = 0;
    for (let hi = 0; hi < xs.length; hi++) {
      while (xs[hi] - xs[lo] > Math.max(16, xs[lo] * 0.1)) lo++;
      best = Math.max(best, hi - lo + 1);
    }
  }
  return best;
}
