import type { AnomalyPage, AnomalyQuery, AnomalyRecord, Feedback, Neighbour, Pattern, PatternKind } from '../domain/types';
import { StoreRateLimitedError, StoreTimeoutError, StoreUnavailableError } from '../errors';
import type { Logger } from '../logger';
import type { StoreHealth, VectorStore } from './vector-store';

/** Options of {@link ResilientStore}. */
export interface ResilientStoreOptions {
  /** Most writes held while the store is down, counting each pattern and each anomaly record. @default 10000 */
  maxBuffered?: number;
  /** First delay before probing a store that went down; doubles up to `maxProbeDelayMs`. @default 500 */
  initialProbeDelayMs?: number;
  /** @default 30000 */
  maxProbeDelayMs?: number;
  /**
   * Anomaly records remembered from recent saves and reads, so that an open incident saved before an
   * outage can still be read (and merged into) while the store is down. @default 1000
   */
  recentRecords?: number;
  /** Receives outage, recovery and discarded-write reports. */
  log?: Logger;
}

/** Counters of {@link ResilientStore}, for health output and metrics. */
export interface ResilientStoreStats {
  /** "down" from the first transient failure until a probe succeeds. */
  state: 'up' | 'down';
  /** ISO time the current outage began, null while up. */
  downSince: string | null;
  /** Message of the most recent transient error (our own messages, which never hold secrets). */
  lastError: string | null;
  /** Patterns waiting in the buffer. */
  queuedPatterns: number;
  /** Anomaly records waiting in the buffer. */
  queuedAnomalies: number;
  /** Buffered patterns discarded to make room (oldest first). Patterns are re-learnt; records are not. */
  droppedPatterns: number;
  /** Anomaly records refused (with an error to the caller) because the buffer held only anomaly records. */
  rejectedAnomalies: number;
  /** Buffered patterns written once the store came back. */
  flushedPatterns: number;
  /** Buffered anomaly records written once the store came back. */
  flushedAnomalies: number;
  /** Buffered patterns and records the store refused for a non-transient reason when flushed (logged, not retried). */
  failedWrites: number;
  /** Outages seen since start. */
  outages: number;
}

type Op = { kind: 'patterns'; patterns: Pattern[] } | { kind: 'anomaly'; record: AnomalyRecord };

/** Failures that waiting can fix; anything else is the caller's problem and passes through. */
function isTransient(err: unknown): err is StoreUnavailableError | StoreTimeoutError | StoreRateLimitedError {
  return err instanceof StoreUnavailableError || err instanceof StoreTimeoutError || err instanceof StoreRateLimitedError;
}

/**
 * Wraps a remote VectorStore so that its outage degrades the service instead of failing it.
 *
 * While the store is down, pattern upserts and anomaly saves are accepted into a bounded in-memory
 * buffer and flushed in order once a probe (exponential backoff) finds the store healthy again; reads
 * fail fast with StoreUnavailableError (the kNN detector then contributes nothing; the detector runner
 * isolates it), except anomaly records still buffered or recently seen, which are served from memory
 * so open incidents keep merging; pruning is skipped; health() reports `ok: false` with what is buffered. When the buffer is full the
 * oldest buffered patterns are dropped first and counted; an anomaly record is never dropped: if only
 * anomaly records are left in a full buffer, a new one is refused with an error the caller sees.
 */
export class ResilientStore implements VectorStore {
  private readonly queue: Op[] = [];
  private state: 'up' | 'down' = 'up';
  private downSince: number | null = null;
  private lastError: Error | null = null;
  private probeDelay: number;
  private probeTimer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> | null = null;
  private lastProbeLatencyMs = 0;
  private closed = false;
  private readonly counts = {
    queuedPatterns: 0,
    queuedAnomalies: 0,
    droppedPatterns: 0,
    rejectedAnomalies: 0,
    flushedPatterns: 0,
    flushedAnomalies: 0,
    failedWrites: 0,
    outages: 0,
  };
  /** Recently saved or read records, least recently used first (a Map keeps insertion order). */
  private readonly recent = new Map<string, AnomalyRecord>();
  private readonly maxBuffered: number;
  private readonly initialProbeDelay: number;
  private readonly maxProbeDelay: number;

  constructor(
    private readonly inner: VectorStore,
    private readonly opts: ResilientStoreOptions = {},
  ) {
    this.maxBuffered = opts.maxBuffered ?? 10_000;
    this.initialProbeDelay = opts.initialProbeDelayMs ?? 500;
    this.maxProbeDelay = opts.maxProbeDelayMs ?? 30_000;
    this.probeDelay = this.initialProbeDelay;
    if (!(this.maxBuffered >= 1)) throw new RangeError('maxBuffered must be at least 1');
  }

  get kind(): string {
    return this.inner.kind;
  }

  /** Start-up is not degraded: the inner store's own bounded retry decides, and its error stops the start. */
  async init(): Promise<void> {
    await this.inner.init();
  }

  stats(): ResilientStoreStats {
    return {
      state: this.state,
      downSince: this.downSince === null ? null : new Date(this.downSince).toISOString(),
      lastError: this.lastError?.message ?? null,
      ...this.counts,
    };
  }

  private remember(record: AnomalyRecord): void {
    this.recent.delete(record.id);
    this.recent.set(record.id, record);
    if (this.recent.size > (this.opts.recentRecords ?? 1000)) this.recent.delete(this.recent.keys().next().value!);
  }

  private buffered(): number {
    return this.counts.queuedPatterns + this.counts.queuedAnomalies;
  }

  /** Whether a write must wait its turn behind buffered ones (or the store is known to be down). */
  private mustBuffer(): boolean {
    return this.state === 'down' || this.queue.length > 0;
  }

  private markDown(err: Error): void {
    this.lastError = err;
    if (err instanceof StoreRateLimitedError) this.probeDelay = Math.max(this.probeDelay, err.retryAfterMs);
    if (this.state === 'down') return;
    this.state = 'down';
    this.downSince = Date.now();
    this.counts.outages++;
    this.opts.log?.warn({ store: this.inner.kind, err: err.message }, 'vector store unavailable; buffering writes, kNN searches fail fast');
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.closed || this.probeTimer) return;
    const delay = this.probeDelay;
    this.probeDelay = Math.min(this.probeDelay * 2, this.maxProbeDelay);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      void this.probe();
    }, delay);
    // The buffer must not keep a stopping process alive; close() flushes what it can.
    this.probeTimer.unref();
  }

  private async probe(): Promise<void> {
    if (this.closed) return;
    const h = await this.inner.health().catch((err: Error): StoreHealth => ({ kind: this.inner.kind, ok: false, latencyMs: 0, detail: err.message }));
    this.lastProbeLatencyMs = h.latencyMs;
    if (!h.ok) {
      this.scheduleProbe();
      return;
    }
    this.state = 'up';
    const downFor = this.downSince === null ? 0 : Date.now() - this.downSince;
    this.opts.log?.info({ store: this.inner.kind, downForMs: downFor, buffered: this.buffered() }, 'vector store back; flushing buffered writes');
    this.downSince = null;
    await this.flush();
  }

  /** Writes the buffer out in order; stops (and goes down again) at the first transient failure. */
  private flush(): Promise<void> {
    if (!this.flushing) {
      this.flushing = (async () => {
        while (this.queue.length > 0 && this.state === 'up') {
          const op = this.queue[0];
          const n = op.kind === 'patterns' ? op.patterns.length : 1;
          let written = true;
          try {
            if (op.kind === 'patterns') await this.inner.upsertPatterns(op.patterns);
            else await this.inner.saveAnomaly(op.record);
          } catch (err) {
            if (isTransient(err)) {
              this.markDown(err);
              break;
            }
            // A write the store refuses for good would block everything behind it: log it and move on.
            written = false;
            this.counts.failedWrites += n;
            this.opts.log?.error(
              { store: this.inner.kind, err: (err as Error).message, op: op.kind, ...(op.kind === 'anomaly' ? { anomalyId: op.record.id } : { patterns: op.patterns.length }) },
              'buffered write refused by the store; discarded',
            );
          }
          this.queue.shift();
          if (op.kind === 'patterns') this.counts.queuedPatterns -= n;
          else this.counts.queuedAnomalies -= n;
          if (written && op.kind === 'patterns') this.counts.flushedPatterns += n;
          if (written && op.kind === 'anomaly') this.counts.flushedAnomalies += n;
        }
        // Only a completed flush proves the store healthy enough to probe eagerly next time.
        if (this.state === 'up' && this.queue.length === 0) this.probeDelay = this.initialProbeDelay;
      })().finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  /** Drops up to `n` of the oldest buffered patterns; returns how many it dropped. */
  private dropOldestPatterns(n: number): number {
    let dropped = 0;
    // Never trim the head while a flush may be writing it: that batch is already on its way.
    const start = this.flushing ? 1 : 0;
    for (let i = start; i < this.queue.length && dropped < n; ) {
      const op = this.queue[i];
      if (op.kind !== 'patterns') {
        i++;
        continue;
      }
      const take = Math.min(op.patterns.length, n - dropped);
      op.patterns.splice(0, take);
      dropped += take;
      if (op.patterns.length === 0) this.queue.splice(i, 1);
      else i++;
    }
    this.counts.queuedPatterns -= dropped;
    this.counts.droppedPatterns += dropped;
    return dropped;
  }

  private enqueuePatterns(patterns: Pattern[]): void {
    let incoming = patterns.slice();
    const over = this.buffered() + incoming.length - this.maxBuffered;
    if (over > 0) {
      const freed = this.dropOldestPatterns(over);
      // Still too many (the buffer is mostly anomaly records): the oldest of the new patterns go too.
      const still = over - freed;
      if (still > 0) {
        incoming = incoming.slice(still);
        this.counts.droppedPatterns += still;
      }
    }
    if (incoming.length === 0) return;
    this.queue.push({ kind: 'patterns', patterns: incoming });
    this.counts.queuedPatterns += incoming.length;
  }

  private enqueueAnomaly(record: AnomalyRecord): void {
    // An incident is re-saved every window while open: keep only its latest state, in its first place.
    // Not the head while a flush writes it: the newer state must be written after the older one.
    const start = this.flushing ? 1 : 0;
    const same = this.queue.findIndex((op, i) => i >= start && op.kind === 'anomaly' && op.record.id === record.id);
    if (same >= 0) {
      this.queue[same] = { kind: 'anomaly', record };
      return;
    }
    if (this.buffered() + 1 > this.maxBuffered && this.dropOldestPatterns(1) === 0) {
      this.counts.rejectedAnomalies++;
      throw new StoreUnavailableError(
        `${this.inner.kind} is unavailable and the write buffer is full of anomaly records (${this.counts.queuedAnomalies}); anomaly ${record.id} was not stored`,
        this.lastError ?? undefined,
      );
    }
    this.queue.push({ kind: 'anomaly', record });
    this.counts.queuedAnomalies++;
  }

  private unavailable(op: string): StoreUnavailableError {
    const since = this.downSince === null ? '' : ` since ${new Date(this.downSince).toISOString()}`;
    return new StoreUnavailableError(`${this.inner.kind} is unavailable${since}; ${op} skipped while it recovers`, this.lastError ?? undefined);
  }

  /** Runs a read against the inner store; fails fast while down and notices an outage when it starts. */
  private async read<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.state === 'down') throw this.unavailable(op);
    try {
      return await fn();
    } catch (err) {
      if (isTransient(err)) this.markDown(err);
      throw err;
    }
  }

  async upsertPatterns(patterns: Pattern[]): Promise<void> {
    if (patterns.length === 0) return;
    if (this.mustBuffer()) return this.enqueuePatterns(patterns);
    try {
      await this.inner.upsertPatterns(patterns);
    } catch (err) {
      if (!isTransient(err)) throw err;
      this.markDown(err);
      this.enqueuePatterns(patterns);
    }
  }

  async saveAnomaly(record: AnomalyRecord): Promise<void> {
    if (this.mustBuffer()) this.enqueueAnomaly(record);
    else {
      try {
        await this.inner.saveAnomaly(record);
      } catch (err) {
        if (!isTransient(err)) throw err;
        this.markDown(err);
        this.enqueueAnomaly(record);
      }
    }
    this.remember(record);
  }

  releaseSeries(seriesKey: string): void {
    this.inner.releaseSeries?.(seriesKey);
  }

  searchPatterns(seriesKey: string, vector: Float32Array, k: number, kind?: PatternKind): Promise<Neighbour[]> {
    return this.read('pattern search', () => this.inner.searchPatterns(seriesKey, vector, k, kind));
  }

  countPatterns(filter?: { seriesKey?: string; kind?: PatternKind }): Promise<number> {
    return this.read('pattern count', () => this.inner.countPatterns(filter));
  }

  /** Retention is best effort: while the store is down nothing is pruned (0), the next prune catches up. */
  async prunePatterns(seriesKey: string, kind: PatternKind, keep: number): Promise<number> {
    if (this.state === 'down') return 0;
    return this.read('pattern pruning', () => this.inner.prunePatterns(seriesKey, kind, keep));
  }

  async *scanPatterns(batchSize: number): AsyncIterable<Pattern[]> {
    if (this.state === 'down') throw this.unavailable('pattern scan');
    yield* this.inner.scanPatterns(batchSize);
  }

  /**
   * A record still in the buffer is returned from there (the API can show what it just reported); while
   * the store is down, a recently saved or read record is returned from memory, so open incidents keep
   * merging new windows through an outage.
   */
  async getAnomaly(id: string): Promise<AnomalyRecord | null> {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const op = this.queue[i];
      if (op.kind === 'anomaly' && op.record.id === id) return op.record;
    }
    if (this.state === 'down') {
      const known = this.recent.get(id);
      if (known) return known;
    }
    const record = await this.read('anomaly lookup', () => this.inner.getAnomaly(id));
    if (record) this.remember(record);
    return record;
  }

  listAnomalies(query: AnomalyQuery): Promise<AnomalyPage> {
    return this.read('anomaly listing', () => this.inner.listAnomalies(query));
  }

  async *scanAnomalies(batchSize: number): AsyncIterable<AnomalyRecord[]> {
    if (this.state === 'down') throw this.unavailable('anomaly scan');
    yield* this.inner.scanAnomalies(batchSize);
  }

  async saveFeedback(anomalyId: string, feedback: Feedback): Promise<AnomalyRecord> {
    // Feedback on a record still in the buffer must land after it: flush first (only possible while up).
    if (this.state === 'up' && this.queue.some((op) => op.kind === 'anomaly' && op.record.id === anomalyId)) await this.flush();
    const updated = await this.read('feedback', () => this.inner.saveFeedback(anomalyId, feedback));
    this.remember(updated);
    return updated;
  }

  feedbackCounts(): Promise<{ true_positive: number; false_positive: number }> {
    return this.read('feedback counts', () => this.inner.feedbackCounts());
  }

  async health(): Promise<StoreHealth> {
    const buffered = `${this.counts.queuedPatterns} patterns and ${this.counts.queuedAnomalies} anomaly records buffered`;
    const dropped = this.counts.droppedPatterns ? `, ${this.counts.droppedPatterns} patterns dropped` : '';
    if (this.state === 'down') {
      return {
        kind: this.inner.kind,
        ok: false,
        latencyMs: this.lastProbeLatencyMs,
        detail: `degraded: unavailable since ${new Date(this.downSince!).toISOString()} (${this.lastError?.message ?? 'unknown error'}); ${buffered}${dropped}`,
      };
    }
    const h = await this.inner.health();
    if (this.queue.length === 0 && !dropped) return h;
    return { ...h, detail: [h.detail, `recovering: ${buffered}${dropped}`].filter(Boolean).join('; ') };
  }

  /** Stops probing, flushes what it can once, then closes the inner store; reports anything left behind. */
  async close(): Promise<void> {
    if (this.probeTimer) clearTimeout(this.probeTimer);
    this.probeTimer = null;
    if (this.queue.length > 0) {
      if (this.state === 'down') {
        const h = await this.inner.health().catch(() => ({ ok: false }));
        if (h.ok) this.state = 'up';
      }
      if (this.state === 'up') await this.flush();
    }
    this.closed = true;
    if (this.queue.length > 0) {
      this.opts.log?.error(
        { store: this.inner.kind, patterns: this.counts.queuedPatterns, anomalies: this.counts.queuedAnomalies },
        'closing with buffered writes the store never accepted; they are lost',
      );
    }
    await this.inner.close();
  }
}
