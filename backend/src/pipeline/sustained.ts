/**
 * The sustained score of a plain series: how the mean anomaly score of its last `window` points compares
 * with the highest such mean of its previous `memory` points.
 *
 * A single point's score catches spikes, but many failures of a scraped gauge (a machine heating up, a
 * service slowly saturating, a metric that starts to wobble) never push one point far past its
 * boundary: each point is only mildly unusual, for a long time. Numenta's HTM detector handles this with
 * the "likelihood" of its recent average score; this is the same idea made distribution-free: a recent
 * average anomaly level the series has not reached in its last `memory` points is itself anomalous.
 * sustained = mean(last `window` scores, each capped at 1.5) / max(that mean over the last `memory` points), refreshed every
 * `REFRESH` points once `MIN_HISTORY` points have been seen (before that there is no record to beat).
 * Measured on NAB (docs/BENCHMARKS.md, offline on step 7's scores): 46.97 -> 55.74 standard with 20 and
 * 1,000 points; 15-50 and 1,000-4,000 all gave 52-56.
 * A sustained alert whose last `window` values all lie in the series' daily envelope is routine, not an
 * incident (see DailyEnvelope and Scorer.evaluate).
 */
export class SustainedScore {
  private readonly recent: Float64Array;
  private readonly means: Float32Array;
  private recentHead = 0;
  private recentCount = 0;
  private recentSum = 0;
  private meansHead = 0;
  private meansCount = 0;
  private seen = 0;
  private record = NaN;

  constructor(
    readonly window = 20,
    readonly memory = 1000,
  ) {
    this.recent = new Float64Array(window);
    this.means = new Float32Array(memory);
  }

  /** Mean of the last `window` (capped) scores if `score` were the next one. */
  meanWith(score: number): number {
    const full = this.recentCount === this.window;
    const sum = this.recentSum + Math.min(score, POINT_CAP) - (full ? this.recent[this.recentHead] : 0);
    return sum / (full ? this.window : this.recentCount + 1);
  }

  /** The sustained score of a next point scoring `score` (0 while there is no record yet). Read-only. */
  evaluate(score: number): number {
    if (Number.isNaN(this.record)) return 0;
    return this.meanWith(score) / Math.max(this.record, RECORD_FLOOR);
  }

  /** Takes the point's score into the history. */
  push(score: number): void {
    const mean = this.meanWith(score);
    score = Math.min(score, POINT_CAP);
    if (this.recentCount === this.window) this.recentSum -= this.recent[this.recentHead];
    else this.recentCount++;
    this.recent[this.recentHead] = score;
    this.recentSum += score;
    this.recentHead = (this.recentHead + 1) % this.window;
    this.means[this.meansHead] = mean;
    this.meansHead = (this.meansHead + 1) % this.memory;
    if (this.meansCount < this.memory) this.meansCount++;
    this.seen++;
    if (this.seen >= MIN_HISTORY && this.seen % REFRESH === 0) {
      let max = 0;
      for (let i = 0; i < this.meansCount; i++) if (this.means[i] > max) max = this.means[i];
      this.record = max;
    }
    // Drift-free running sum: recompute exactly once per window.
    if (this.recentHead === 0) this.recentSum = this.recent.reduce((a, b) => a + b, 0);
  }
}

/**
 * A point counts in the mean at most as a clear anomaly: the sustained score measures how many recent points
 * are unusual, not how unusual one was. Uncapped, one spike scoring 30 lifts the mean past 1.5 for 20 points
 * and sets a record that masks the next 1,000 points. NAB (offline on step 15's scores): cap 1 / 1.25 / 1.5 /
 * 2 / 3 gave 70.55 / 70.71 / 71.13 / 70.92 / 70.24, none 70.16.
 */
const POINT_CAP = 1.5;
/** Points seen before the record means anything. */
const MIN_HISTORY = 200;
/** The record (a max over `memory` points) is refreshed this often. */
const REFRESH = 32;
/** A series whose scores have been ~0 throughout still needs a real rise to count. */
const RECORD_FLOOR = 0.05;
