import type { Config } from '../config';
import type { AnomalyRecord, Explanation, SimilarIncident } from '../domain/types';
import { ConfigError } from '../errors';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { AnomalyListener } from '../pipeline/pipeline';
import type { VectorStore } from '../store/vector-store';
import { CircuitBreaker, type CircuitBreakerOptions } from './circuit-breaker';
import { mdText } from './evidence';
import { ExplainQueueFullError, LlmCircuitOpenError, LlmError, LlmTimeoutError } from './errors';
import { LlmExplainer, type ExplainResult } from './llm-explainer';
import { buildPrompt, type Answer, type Prompt } from './prompt';
import { processSalt } from './redact';

/**
 * LLM explanations off the hot path. The pipeline listener only enqueues; a bounded queue runs at most
 * `concurrency` calls at once, each attempt under a timeout; a circuit breaker stops calling an endpoint
 * that keeps failing; answers are cached by anomaly id (in memory, and on the record itself, so a restart
 * does not re-ask) and re-applied when the pipeline rewrites the record. Advisory only: the answer is
 * stored on the record and nothing acts on it.
 */

/** What one explanation job ended with (also the `outcome` label of sentinel_explanations_total). */
export type ExplainOutcome = 'llm' | 'cached' | 'invalid_output' | 'timeout' | 'error' | 'breaker_open' | 'dropped' | 'not_found' | 'cancelled';

/** Report of one job. `error` is set for timeout / error / breaker_open / cancelled; `problem` for invalid_output. */
export interface ExplainReport {
  anomalyId: string;
  outcome: ExplainOutcome;
  explanation?: Explanation;
  error?: LlmError;
  problem?: string;
}

/** The part of {@link LlmExplainer} the queue uses (tests may pass a slower or failing one). */
export interface ExplainBackend {
  readonly model: string;
  explain(prompt: Prompt, signal?: AbortSignal): Promise<ExplainResult>;
}

/** Options of {@link ExplainQueue}. */
export interface ExplainQueueOptions {
  store: VectorStore;
  backend: ExplainBackend;
  log: Logger;
  metrics?: SentinelMetrics;
  /** LLM calls in flight at once. @default 2 */
  concurrency?: number;
  /** Jobs waiting; beyond it the oldest automatic job is dropped (on-demand requests get 503). @default 100 */
  maxQueue?: number;
  /** @default failureThreshold 5, openMs 30000, maxOpenMs 300000 */
  breaker?: CircuitBreakerOptions;
  /** Answers kept in memory by anomaly id. @default 1000 */
  cacheSize?: number;
  /** Similar incident patterns retrieved from the vector store per prompt. @default 5 */
  similarK?: number;
  /** Salt of the pseudonyms in prompts. @default a random per-process salt */
  salt?: Buffer;
  /** @default Date.now */
  now?: () => number;
}

/** The LLM's part of an explanation, as cached. */
interface LlmFields {
  answer: Answer;
  model: string;
  generatedAt: string;
  /** Severity, type and score of the record the answer explained. */
  explained: { severity: string; type: string; score: number };
}

interface Job {
  anomalyId: string;
  force: boolean;
  promise: Promise<ExplainReport>;
  resolve: (r: ExplainReport) => void;
  started: boolean;
}

/** Separates the LLM's sections from the evidence markdown, so a re-ask can rebuild from the evidence. */
const EVIDENCE_DIVIDER = '\n\n---\n\n#### Evidence\n\n';

/**
 * A cached answer explains a rewritten record only while its score is at most this many times the score
 * the answer explained: a window three times stronger at the same severity (critical 4,035 ms then
 * 11,763 ms, from the QA) has other numbers than the ones the answer quotes.
 */
const REUSE_MAX_RATIO = 1.5;

/**
 * After an automatic explanation of an incident failed (the endpoint refused or timed out on it, or its
 * answers were unusable twice), the incident's later windows ask again only when it changed as a cached
 * answer would not cover (escalated, changed type, grew past REUSE_MAX_RATIO) or this long after the last
 * attempt, doubling with each failure up to RETRY_MAX_MS. Before, every window of an open incident asked
 * again: one call (two with the retry of unusable output) a minute for as long as the incident lasted,
 * and unusable output or a prompt the endpoint refuses while it answers other incidents never opens the
 * breaker. On-demand requests are not held back.
 */
const RETRY_BASE_MS = 5 * 60_000;
const RETRY_MAX_MS = 60 * 60_000;

/** The last failed automatic attempt at an incident's explanation. */
interface FailedAttempt {
  /** Severity, type and score of the record the attempt was for. */
  explained: LlmFields['explained'];
  at: number;
  failures: number;
}

/** The bounded, breaker-guarded explanation queue. */
export class ExplainQueue {
  readonly breaker: CircuitBreaker;
  private readonly waiting: Job[] = [];
  private readonly jobs = new Map<string, Job>();
  private readonly cache = new Map<string, LlmFields>();
  private readonly failed = new Map<string, FailedAttempt>();
  private readonly running = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private readonly concurrency: number;
  private readonly maxQueue: number;
  private readonly cacheSize: number;
  private readonly salt: Buffer;
  private readonly now: () => number;
  private active = 0;
  private closed = false;

  constructor(private readonly opts: ExplainQueueOptions) {
    this.concurrency = Math.max(1, opts.concurrency ?? 2);
    this.maxQueue = Math.max(1, opts.maxQueue ?? 100);
    this.cacheSize = Math.max(1, opts.cacheSize ?? 1000);
    this.salt = opts.salt ?? processSalt();
    this.now = opts.now ?? Date.now;
    this.breaker = new CircuitBreaker({ now: this.now, ...opts.breaker });
  }

  /**
   * The pipeline listener: an opened incident is queued (never awaited, so scoring is not slowed). A later
   * change that rewrote the record's evidence (a stronger window) gets its cached answer back when the
   * answer explained the same severity and type and a score at least 1 / REUSE_MAX_RATIO of the new one;
   * when the incident escalated, changed type, grew past that, or has no
   * answer in memory (after a restart, or the first call failed), it is explained again: put back, the old
   * answer would describe the first window over the new window's evidence.
   */
  readonly listener: AnomalyListener = async (event, record) => {
    if (this.closed) return;
    const ask = () => this.request(record.id, { force: false }).catch((err) => this.opts.log.error({ err, anomalyId: record.id }, 'explanation request failed'));
    if (event === 'opened') {
      void ask();
      return;
    }
    if (event !== 'updated' || record.explanation.source === 'llm') return;
    const cached = this.cache.get(record.id);
    if (cached && covers(cached.explained, record)) {
      // Runs inside the pipeline's listener call, so it is ordered with the pipeline's own writes.
      await this.opts.store.saveAnomaly({ ...record, explanation: compose(record.explanation, cached) });
      return;
    }
    this.cache.delete(record.id);
    const failed = this.failed.get(record.id);
    if (failed && covers(failed.explained, record) && this.now() - failed.at < retryDelay(failed.failures)) return;
    void ask();
  };

  /**
   * Queues an explanation of one anomaly and resolves when it is done. Without `force`, an id that already
   * has an LLM answer is not asked again. On-demand (`force`) requests fail fast with LlmCircuitOpenError
   * while the breaker is open and ExplainQueueFullError when the queue is full.
   */
  request(anomalyId: string, opts: { force: boolean }): Promise<ExplainReport> {
    if (this.closed) return Promise.resolve(this.report(anomalyId, 'cancelled', { error: new LlmError('the explanation queue is closed', { code: 'llm_cancelled', status: 503 }) }));
    if (!opts.force) {
      const cached = this.cache.get(anomalyId);
      if (cached) {
        this.touch(anomalyId, cached);
        return Promise.resolve(this.report(anomalyId, 'cached'));
      }
    }
    const existing = this.jobs.get(anomalyId);
    if (existing) {
      // One job per id: a forced request upgrades a queued one; a running one is already a fresh answer.
      if (opts.force && !existing.started) existing.force = true;
      return existing.promise;
    }
    if (opts.force && this.breaker.refusing) throw new LlmCircuitOpenError(this.breaker.retryAfterMs, this.breaker.lastError);
    if (this.waiting.length >= this.maxQueue) {
      if (opts.force) throw new ExplainQueueFullError(this.maxQueue);
      // Bursts: keep the newest incidents, drop the oldest automatic job.
      const i = this.waiting.findIndex((j) => !j.force);
      if (i < 0) return Promise.resolve(this.report(anomalyId, 'dropped'));
      const [old] = this.waiting.splice(i, 1);
      this.jobs.delete(old.anomalyId);
      old.resolve(this.report(old.anomalyId, 'dropped'));
    }
    let resolve!: (r: ExplainReport) => void;
    const promise = new Promise<ExplainReport>((r) => (resolve = r));
    const job: Job = { anomalyId, force: opts.force, promise, resolve, started: false };
    this.jobs.set(anomalyId, job);
    // On-demand requests go first: someone is waiting for them.
    if (opts.force) this.waiting.unshift(job);
    else this.waiting.push(job);
    this.opts.metrics?.explainQueueDepth.set(this.waiting.length);
    this.pump();
    return promise;
  }

  /** Jobs waiting (not yet started). */
  get depth(): number {
    return this.waiting.length;
  }

  /** Resolves when no job is waiting or running. */
  async idle(): Promise<void> {
    while (this.running.size || this.waiting.length) await Promise.all([...this.running]);
  }

  /** Stops: waiting jobs end as cancelled, running calls are aborted, and their ends awaited. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.waiting.splice(0)) {
      this.jobs.delete(job.anomalyId);
      job.resolve(this.report(job.anomalyId, 'cancelled'));
    }
    this.abort.abort();
    await Promise.all([...this.running]);
    this.opts.metrics?.explainQueueDepth.set(0);
  }

  private pump(): void {
    while (!this.closed && this.active < this.concurrency && this.waiting.length) {
      const job = this.waiting.shift()!;
      job.started = true;
      this.active++;
      const run = this.run(job)
        .catch((err): ExplainReport => {
          this.opts.log.error({ err, anomalyId: job.anomalyId }, 'explanation job failed');
          return this.report(job.anomalyId, 'error', { error: err instanceof LlmError ? err : new LlmError('explanation job failed', { cause: err }) });
        })
        .then((r) => {
          this.jobs.delete(job.anomalyId);
          this.active--;
          job.resolve(r);
          this.running.delete(run);
          this.opts.metrics?.explainQueueDepth.set(this.waiting.length);
          this.pump();
        });
      this.running.add(run);
    }
    this.opts.metrics?.explainQueueDepth.set(this.waiting.length);
  }

  private async run(job: Job): Promise<ExplainReport> {
    const { store, log } = this.opts;
    const id = job.anomalyId;
    const record = await store.getAnomaly(id);
    if (!record) return this.report(id, 'not_found');
    if (!job.force && record.explanation.source === 'llm') {
      // Answered before (e.g. before a restart): the record is the cache.
      const e = record.explanation;
      if (e.rootCause && e.immediateFix && e.longTermFix && e.confidence !== undefined) {
        this.touch(id, {
          answer: { summary: e.summary, rootCause: e.rootCause, immediateFix: e.immediateFix, longTermFix: e.longTermFix, confidence: e.confidence, evidenceRefs: e.evidenceRefs ?? [] },
          model: e.model ?? this.opts.backend.model,
          generatedAt: e.generatedAt ?? new Date(this.now()).toISOString(),
          explained: explainedOf(record),
        });
      }
      return this.report(id, 'cached', { explanation: e });
    }
    const prompt = buildPrompt(record, await this.retrieve(record), { salt: this.salt });
    if (!this.breaker.tryAcquire()) {
      this.syncBreakerGauge();
      return this.report(id, 'breaker_open', { error: new LlmCircuitOpenError(this.breaker.retryAfterMs, this.breaker.lastError) });
    }
    const t0 = performance.now();
    let result: ExplainResult;
    try {
      result = await this.opts.backend.explain(prompt, this.abort.signal);
    } catch (err) {
      const error = err instanceof LlmError ? err : new LlmError('LLM call failed', { cause: err });
      if (this.abort.signal.aborted) {
        this.breaker.release();
        return this.report(id, 'cancelled', { error });
      }
      this.breaker.failure(error);
      this.syncBreakerGauge();
      this.noteFailure(id, record);
      log.warn({ err: error, anomalyId: id, breaker: this.breaker.state }, 'LLM explanation failed; the evidence explanation stands');
      return this.report(id, error instanceof LlmTimeoutError ? 'timeout' : 'error', { error });
    } finally {
      this.opts.metrics?.llmDuration.observe((performance.now() - t0) / 1000);
    }
    // The endpoint answered: even unusable output means it is up.
    this.breaker.success();
    this.syncBreakerGauge();
    if (!result.ok) {
      this.noteFailure(id, record);
      log.warn({ anomalyId: id, problem: result.problem }, 'LLM output invalid after one retry; the evidence explanation stands');
      return this.report(id, 'invalid_output', { problem: result.problem });
    }
    const fields: LlmFields = {
      answer: result.answer,
      model: result.model,
      generatedAt: new Date(this.now()).toISOString(),
      explained: explainedOf(record),
    };
    this.failed.delete(id);
    this.touch(id, fields);
    const explanation = await this.apply(id, fields);
    return this.report(id, 'llm', { explanation });
  }

  /** Incident patterns near the anomaly's vector, with the causes operators confirmed in feedback. */
  private async retrieve(record: AnomalyRecord): Promise<SimilarIncident[]> {
    if (!record.vector?.length) return [];
    try {
      const found = await this.opts.store.searchPatterns(record.seriesKey, Float32Array.from(record.vector), this.opts.similarK ?? 5, 'incident');
      return found
        .filter((n) => n.meta?.anomalyId !== record.id)
        .map((n) => ({
          anomalyId: n.meta?.anomalyId ?? n.id,
          distance: n.distance,
          type: n.meta?.type ?? 'other',
          ...(n.meta?.cause ? { cause: n.meta.cause } : {}),
          timestamp: new Date(n.timestamp).toISOString(),
        }));
    } catch (err) {
      // Retrieval is evidence, not a precondition: explain with what the record carries.
      this.opts.log.warn({ err, anomalyId: record.id }, 'similar-incident search failed; prompting without it');
      return [];
    }
  }

  /** Stores the answer on the freshest copy of the record (the pipeline may have updated it meanwhile). */
  private async apply(id: string, fields: LlmFields): Promise<Explanation | undefined> {
    const fresh = await this.opts.store.getAnomaly(id);
    if (!fresh) return undefined;
    const explanation = compose(fresh.explanation, fields);
    await this.opts.store.saveAnomaly({ ...fresh, explanation });
    return explanation;
  }

  /** Remembers a failed attempt at `id` (bounded like the cache: the oldest falls out). */
  private noteFailure(id: string, record: AnomalyRecord): void {
    const failures = (this.failed.get(id)?.failures ?? 0) + 1;
    putNewest(this.failed, id, { explained: explainedOf(record), at: this.now(), failures }, this.cacheSize);
  }

  /** LRU: a hit moves to the end; the oldest falls out beyond cacheSize. */
  private touch(id: string, fields: LlmFields): void {
    putNewest(this.cache, id, fields, this.cacheSize);
  }

  private syncBreakerGauge(): void {
    const m = this.opts.metrics;
    if (!m) return;
    const refusing = this.breaker.refusing;
    m.llmCircuitOpen.set(refusing ? 1 : 0);
    // The breaker half-opens by the clock, not by a call: bring the gauge down when it does.
    if (refusing && !this.closed) setTimeout(() => m.llmCircuitOpen.set(this.breaker.refusing ? 1 : 0), this.breaker.retryAfterMs + 1).unref();
  }

  private report(anomalyId: string, outcome: ExplainOutcome, extra: Partial<ExplainReport> = {}): ExplainReport {
    this.opts.metrics?.explanations.inc({ outcome });
    return { anomalyId, outcome, ...extra };
  }
}

/** What an answer (or a failed attempt) was for: the record's severity, type and score then. */
function explainedOf(record: AnomalyRecord): LlmFields['explained'] {
  return { severity: record.severity, type: record.type, score: record.score };
}

/** Sets `key` as the newest entry of an insertion-ordered map, dropping the oldest beyond `max`. */
function putNewest<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) map.delete(map.keys().next().value as string);
}

/** Whether what was explained (or attempted) still describes `record`: same severity and type, not much stronger. */
function covers(explained: LlmFields['explained'], record: AnomalyRecord): boolean {
  return explained.severity === record.severity && explained.type === record.type && record.score <= REUSE_MAX_RATIO * explained.score;
}

/** How long after its `failures`-th failed attempt an unchanged incident waits before asking again. */
function retryDelay(failures: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(failures - 1, 16));
}

/**
 * The stored explanation: the LLM's summary and sections over the evidence explanation, whose `evidence`
 * object is kept as it is (the answer cites it by ref).
 */
export function compose(base: Explanation, fields: LlmFields): Explanation {
  const evidenceMarkdown = base.source === 'llm' && base.markdown.includes(EVIDENCE_DIVIDER) ? base.markdown.split(EVIDENCE_DIVIDER)[1] : base.markdown;
  const a = fields.answer;
  const md = [
    `**${mdText(a.summary)}**`,
    '',
    `_Advisory explanation by ${mdText(fields.model)} (confidence ${Math.round(a.confidence * 100)}%), from the evidence below._`,
    '',
    '### Likely root cause',
    mdText(a.rootCause),
    '',
    '### Immediate fix',
    mdText(a.immediateFix),
    '',
    '### Long-term fix',
    mdText(a.longTermFix),
    ...(a.evidenceRefs.length ? ['', `Evidence cited: ${a.evidenceRefs.map(mdText).join(', ')}`] : []),
  ].join('\n');
  return {
    summary: a.summary,
    source: 'llm',
    markdown: md + EVIDENCE_DIVIDER + evidenceMarkdown,
    evidence: base.evidence,
    rootCause: a.rootCause,
    immediateFix: a.immediateFix,
    longTermFix: a.longTermFix,
    confidence: a.confidence,
    evidenceRefs: a.evidenceRefs,
    model: fields.model,
    generatedAt: fields.generatedAt,
  };
}

/** What {@link attachExplainer} wires up. `queue` is null when no LLM is configured. */
export interface AttachedExplainer {
  queue: ExplainQueue | null;
  close(): Promise<void>;
}

/**
 * Builds the explainer from config and registers its pipeline listener. No LLM configured (neither
 * SENTINEL_LLM_BASE_URL nor SENTINEL_LLM_API_KEY): explanations stay evidence-only and `queue` is null.
 */
export function attachExplainer(
  deps: { config: Readonly<Config>; log: Logger; store: VectorStore; metrics?: SentinelMetrics; onAnomaly: (l: AnomalyListener) => void },
  overrides: Partial<Omit<ExplainQueueOptions, 'store' | 'log' | 'metrics'>> = {},
): AttachedExplainer {
  const { config } = deps;
  if (!config.llmBaseUrl && !config.llmApiKey) return { queue: null, close: async () => {} };
  if (!config.llmModel) throw new ConfigError('SENTINEL_LLM_MODEL', 'required when SENTINEL_LLM_BASE_URL or SENTINEL_LLM_API_KEY is set (for Azure: the deployment name)');
  const log = deps.log.child({ component: 'explain' });
  const backend =
    overrides.backend ??
    new LlmExplainer({
      baseUrl: config.llmBaseUrl,
      apiKey: config.llmApiKey,
      model: config.llmModel,
      timeoutMs: config.llmTimeoutMs,
      responseFormat: config.llmResponseFormat,
      log,
    });
  const queue = new ExplainQueue({ concurrency: config.llmConcurrency, ...overrides, backend, store: deps.store, log, metrics: deps.metrics });
  deps.onAnomaly(queue.listener);
  log.info({ model: config.llmModel, endpoint: config.llmBaseUrl ? new URL(config.llmBaseUrl).host : 'api.openai.com', timeoutMs: config.llmTimeoutMs }, 'LLM explanations on');
  return { queue, close: () => queue.close() };
}

