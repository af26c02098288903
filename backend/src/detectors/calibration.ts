/**
 * Turns a detector's raw score into a calibrated one (1 = the boundary of normal) from the distribution of
 * that detector's raw scores on this series' normal windows.
 *
 * threshold = max(floor, q_hi + spread * (q_hi - q_mid)), with q_hi the 98th and q_mid the 50th percentile
 * of recent normal raw scores: the tail of what this series normally does, plus a margin proportional to
 * its spread. `spread` comes from the one sensitivity knob. While a series has too few samples, a pooled
 * reservoir over all series of the same kind stands in; with none at all, twice the floor.
 */
export class ScoreReservoir {
  private readonly buf: Float64Array;
  private n = 0;
  private head = 0;
  private cached = NaN;
  private readonly scratch: Float64Array;

  constructor(readonly capacity = 256) {
    this.buf = new Float64Array(capacity);
    this.scratch = new Float64Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  add(raw: number): void {
    if (!Number.isFinite(raw)) return;
    this.buf[this.head] = raw;
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
    this.cached = NaN;
  }

  /** [q_mid, q_hi] of the kept scores; cached until the next add. */
  quantiles(): [number, number] {
    if (this.n === 0) return [0, 0];
    this.scratch.set(this.buf.subarray(0, this.n));
    const s = this.scratch.subarray(0, this.n).sort();
    const at = (q: number) => s[Math.min(this.n - 1, Math.floor(q * (this.n - 1) + 0.5))];
    return [at(0.5), at(0.98)];
  }

  threshold(floor: number, spread: number): number {
    if (!Number.isNaN(this.cached)) return this.cached;
    const [mid, hi] = this.quantiles();
    this.cached = Math.max(floor, hi + spread * (hi - mid));
    return this.cached;
  }
}

/** Fewest samples for a series' own reservoir to be trusted over the pooled one. */
export const MIN_OWN_SAMPLES = 30;

/** Maps sensitivity in (0, 1) to the margin above the 98th percentile (0.5 -> 1.5, 0.9 -> 0.7). */
export function spreadFor(sensitivity: number): number {
  return 0.5 + 2 * (1 - sensitivity);
}

/** The calibrated threshold of one detector on one series. */
export function calibratedThreshold(
  own: ScoreReservoir | undefined,
  pooled: ScoreReservoir | undefined,
  floor: number,
  sensitivity: number,
): number {
  const spread = spreadFor(sensitivity);
  if (own && own.size >= MIN_OWN_SAMPLES) return own.threshold(floor, spread);
  if (pooled && pooled.size >= MIN_OWN_SAMPLES) return pooled.threshold(floor, spread);
  return 2 * floor;
}
