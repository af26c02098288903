import type { Pattern } from '../domain/types';
import type { VectorStore } from '../store/vector-store';

/** Options of the {@link PatternWriter}. */
export interface PatternWriterOptions {
  /** Patterns kept per series; older ones are pruned. */
  maxPerSeries: number;
  /** Largest number of pending patterns; beyond it new ones are dropped and counted. @default 50000 */
  maxPending?: number;
  /** Inserts into one series between two retention prunes. @default 256 */
  pruneEvery?: number;
}

/**
 * Batches normal-pattern upserts into one store transaction per flush, bounds what is pending, and keeps
 * each series under its retention limit. The pipeline flushes after each batch of windows and before
 * scoring a series that has pending patterns, so every window sees all earlier normal windows of its
 * series (deterministic for replays), while windows of many series still share one write.
 */
export class PatternWriter {
  private pending: Pattern[] = [];
  private readonly pendingSeries = new Set<string>();
  private readonly sinceprune = new Map<string, number>();
  dropped = 0;
  written = 0;

  constructor(
    private readonly store: VectorStore,
    private readonly opts: PatternWriterOptions,
  ) {}

  get pendingCount(): number {
    return this.pending.length;
  }

  add(p: Pattern): boolean {
    if (this.pending.length >= (this.opts.maxPending ?? 50_000)) {
      this.dropped++;
      return false;
    }
    this.pending.push(p);
    this.pendingSeries.add(p.seriesKey);
    return true;
  }

  /** Whether a series has patterns not yet in the store (its next window must see them). */
  hasPending(seriesKey: string): boolean {
    return this.pendingSeries.has(seriesKey);
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingSeries.clear();
    try {
      await this.store.upsertPatterns(batch);
    } catch (err) {
      // Keep what failed for the next flush (bounded): a store hiccup must not lose accepted patterns.
      const keep = batch.concat(this.pending);
      const max = this.opts.maxPending ?? 50_000;
      this.dropped += Math.max(0, keep.length - max);
      this.pending = keep.slice(-max);
      for (const p of this.pending) this.pendingSeries.add(p.seriesKey);
      throw err;
    }
    this.written += batch.length;
    const every = this.opts.pruneEvery ?? 256;
    for (const p of batch) {
      const n = (this.sinceprune.get(p.seriesKey) ?? 0) + 1;
      if (n >= every) {
        this.sinceprune.set(p.seriesKey, 0);
        await this.store.prunePatterns(p.seriesKey, p.kind, this.opts.maxPerSeries);
      } else this.sinceprune.set(p.seriesKey, n);
    }
  }
}
