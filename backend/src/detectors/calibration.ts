/**
 * Turns a detector's raw score into a calibrated one (1 = the boundary of normal) from the distribution of
 * that detector's raw scores on this series' normal windows.
 *
 * threshold = max(floor, q_hi + spread * (q_hi - q_mid)), with q_hi the 98th and q_mid the 50th percentile
 * of recent normal raw scores: the tail of what this series normally does, plus a margin proportional to
 * its spread. `spread` comes from the one sensitivity knob. While a series has too few samples, a pooled
 * reservoir over all series of the same kind stands in; with neither, the detector abstains.
 *
 * Per-feature detectors (robust z, EWMA, seasonal) are calibrated per feature: one heavy-tailed feature
 * must not widen the band of all the others.
 */
export class ScoreReservoir {
  private readonly buf: Float32Array;
  private n = 0;
  private head = 0;
  private cached = NaN;
  private readsSinceCompute = 0;

  constructor(readonly capacity = 128) {
    this.buf = new Float32Array(capacity);
  }

  get size(): number {
    return this.n;
  }

  add(raw: number): void {
    if (!Number.isFinite(raw)) return;
    this.buf[this.head] = raw;
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
  }

  /** [q_mid, q_hi] of the kept scores. */
  quantiles(): [number, number] {
    if (this.n === 0) return [0, 0];
    const s = SCRATCH.subarray(0, this.n);
    s.set(this.buf.subarray(0, this.n));
    s.sort();
    const at = (q: number) => s[Math.min(this.n - 1, Math.floor(q * (this.n - 1) + 0.5))];
    return [at(0.5), at(0.98)];
  }

  /**
   * The threshold, recomputed every `size / 16` reads (at every read while small): quantiles drift slowly,
   * and sorting per feature per window would dominate the scoring cost. The clock is the reads (one per
   * scored point), not the samples added: held points add nothing, and counting adds shifted every later
   * refresh of the series by the number of points ever held, so one held point changed verdicts thousands
   * of points later (NAB step 23 in docs/BENCHMARKS.md). For a series that holds nothing both clocks agree.
   */
  threshold(floor: number, spread: number): number {
    if (!Number.isNaN(this.cached) && ++this.readsSinceCompute < Math.max(1, this.n >> 4)) return this.cached;
    const [mid, hi] = this.quantiles();
    this.cached = Math.max(floor, hi + spread * (hi - mid));
    this.readsSinceCompute = 0;
    return this.cached;
  }
}

/** Shared sort buffer: scoring is single-threaded, and one buffer beats one per reservoir. */
const SCRATCH = new Float32Array(4096);

/**
 * Fewest samples for a series' own reservoir to be trusted over the pooled one. With few samples the 98th
 * percentile is the maximum, so the threshold is conservative: max + margin * (max - median).
 */
export const MIN_OWN_SAMPLES = 8;

/** Maps sensitivity in (0, 1) to the margin above the 98th percentile (0.5 -> 1.5, 0.9 -> 0.7). */
export function spreadFor(sensitivity: number): number {
  return 0.5 + 2 * (1 - sensitivity);
}

/**
 * Samples below which an event series' own reservoir sets no threshold lower than the pooled one of all
 * series of its kind. With 8-63 samples the 98th percentile is about the maximum: a sparse series (a key
 * sending a request a minute, whose per-request features are heavy-tailed) set its threshold from its
 * first few requests and paged whenever a later one went past them. On 80 minutes of clean traffic with a
 * series per API key (`npm run bench:series-key`, 400 series) that was 412 records; with this floor, 79. A
 * busy series reaches 64 samples within about an hour of 1-minute windows. Plain series keep their own
 * reservoir from 8 samples (NAB was measured so).
 */
export const YOUNG_OWN_SAMPLES = 64;

/**
 * The calibrated threshold of one detector (or one feature of it) on one series, or undefined while
 * neither the series nor the pool has seen enough normal scores: without a distribution there is no
 * calibrated opinion, and the detector abstains (its raw scores still feed the reservoirs). While the own
 * reservoir holds fewer than `youngUntil` samples the threshold is no lower than the pooled one.
 */
export function calibratedThreshold(
  own: ScoreReservoir | undefined,
  pooled: ScoreReservoir | undefined,
  floor: number,
  sensitivity: number,
  youngUntil = 0,
): number | undefined {
  const spread = spreadFor(sensitivity);
  if (own && own.size >= MIN_OWN_SAMPLES) {
    const t = own.threshold(floor, spread);
    return own.size < youngUntil && pooled && pooled.size >= MIN_OWN_SAMPLES ? Math.max(t, pooled.threshold(floor, spread)) : t;
  }
  if (pooled && pooled.size >= MIN_OWN_SAMPLES) return pooled.threshold(floor, spread);
  return undefined;
}

/** Reservoir key of feature j of a per-feature detector. */
export const featureKey = (detector: string, j: number) => `${detector}#${j}`;
