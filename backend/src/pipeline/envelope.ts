/**
 * What a plain series' values did around this time of day on its last `days` days: per time-of-day bucket
 * (UTC) and day, the lowest and highest value seen. A point is inside the envelope when its value lies between
 * the lowest and the highest value of all the buckets within `reach` buckets of its own on the previous `days`
 * days (today's buckets are not evidence for today); with fewer than MIN_VALUES such values it is not.
 * `insideRun` counts the points in a row that were inside.
 *
 * Used to confirm a sustained alert (see Scorer.evaluate): a recent average score the series has not reached
 * in 1,000 points is news to the detectors, whose baselines and subsequences cover a few days at most, but
 * when every one of the last `window` values lies where the series has been at this hour on an earlier day
 * (a daily peak a little busier than the last ones, the rush hour of a road), nothing the series does is new.
 * Fixed memory: (days + 1) x buckets per day (+ reach + 1) slots of [bucket, min, max, count], 30 KB with the
 * defaults.
 */
export class DailyEnvelope {
  private readonly perDay: number;
  private readonly bucketMs: number;
  private readonly slots: number;
  private readonly id: Int32Array;
  private readonly lo: Float64Array;
  private readonly hi: Float64Array;
  private readonly count: Uint8Array;
  /** Points in a row (the last one included) whose value was inside the envelope when it came. */
  insideRun = 0;

  constructor(
    readonly days = ENVELOPE_DAYS,
    bucketMinutes = BUCKET_MINUTES,
    readonly reach = REACH,
  ) {
    this.bucketMs = bucketMinutes * 60_000;
    this.perDay = Math.round(DAY_MS / this.bucketMs);
    this.slots = (days + 1) * this.perDay + reach + 1;
    this.id = new Int32Array(this.slots).fill(-1);
    this.lo = new Float64Array(this.slots);
    this.hi = new Float64Array(this.slots);
    this.count = new Uint8Array(this.slots);
  }

  /** Whether `value` at time `t` (ms) lies within the envelope of the earlier days. Read-only. */
  inside(t: number, value: number): boolean {
    if (!Number.isFinite(value)) return false;
    const b = Math.floor(t / this.bucketMs);
    let lo = Infinity;
    let hi = -Infinity;
    let n = 0;
    for (let d = 1; d <= this.days; d++) {
      for (let o = -this.reach; o <= this.reach; o++) {
        const q = b - d * this.perDay + o;
        const s = ((q % this.slots) + this.slots) % this.slots;
        if (this.id[s] !== q) continue;
        if (this.lo[s] < lo) lo = this.lo[s];
        if (this.hi[s] > hi) hi = this.hi[s];
        n += this.count[s];
      }
    }
    return n >= MIN_VALUES && value >= lo && value <= hi;
  }

  /** The run of inside points if the point (`t`, `value`) were the next one. Read-only. */
  runWith(t: number, value: number): number {
    return this.inside(t, value) ? this.insideRun + 1 : 0;
  }

  /** Takes the point into its bucket and the run. */
  push(t: number, value: number): void {
    this.insideRun = this.runWith(t, value);
    if (!Number.isFinite(value)) return;
    const q = Math.floor(t / this.bucketMs);
    const s = ((q % this.slots) + this.slots) % this.slots;
    if (this.id[s] !== q) {
      this.id[s] = q;
      this.lo[s] = value;
      this.hi[s] = value;
      this.count[s] = 0;
    }
    if (value < this.lo[s]) this.lo[s] = value;
    if (value > this.hi[s]) this.hi[s] = value;
    if (this.count[s] < 255) this.count[s]++;
  }
}

/**
 * Whether a plain series' sustained score is routine at this hour: it is what would make the point anomalous
 * (above 1 and above the point's own score) and the last `window` values, the point's (`t`, `value`) included,
 * were all inside the envelope. Scorer.evaluate then caps it just below the boundary.
 */
export function routineSustained(sustained: number, pointScore: number, window: number, envelope: DailyEnvelope, t: number, value: number): boolean {
  return sustained > 1 && sustained > pointScore && envelope.runWith(t, value) >= window;
}

const DAY_MS = 86_400_000;
/**
 * Days of memory: two weeks, so a weekly rhythm (a quieter weekend) is in it twice. NAB (docs/BENCHMARKS.md,
 * step 32; offline on step 30's dump, 15-minute buckets, reach 2): 7 / 10 / 14 / 21 days 75.61 / 75.88 /
 * 76.21 / 75.60 (73.98 without the envelope); real runs at 7 and 14 days 75.66 and 76.34.
 */
const ENVELOPE_DAYS = 14;
/** Width of a time-of-day bucket. NAB (offline, 14 days): 10 / 15 / 30 / 60 minutes at reach 1 75.09 / 75.57 / 76.23 / 75.32. */
const BUCKET_MINUTES = 15;
/**
 * Buckets on each side of the point's own that count as the same time of day (2: +-30 to 45 minutes): a daily
 * routine does not start at the same minute every day. NAB (offline, 14 days): reach 1 / 2 / 3 75.57 / 76.21 /
 * 76.33; real run at reach 1 75.57.
 */
const REACH = 2;
/** Values the envelope must hold before it can say a point is inside. */
const MIN_VALUES = 3;
