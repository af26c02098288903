import { RECORD_MIN_POINTS } from './range';
import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Points in a level: the median of the last WINDOW values, the current one included. */
const WINDOW = 12;
/** How far beyond every earlier level the current one must lie, as a share of the range of those levels. */
const TOLERANCE = 0.11;
/**
 * Points the record a new level passes must have stood: a record set a moment ago by a trend (or by the
 * plateau's own first levels) makes the new level a continuation of the same move, not news.
 */
const RECORD_AGE = 75;
/**
 * How far the new level must lie from the median of the recent levels, in their spread (10th to 90th
 * percentile): a series whose levels swing across their whole range every day has a record that a level
 * just past it does not make news.
 */
const SPREAD = 1.3;
/** Recent levels: those ending at most RECENT points before the current point (and none overlapping it). */
const RECENT = 500;
/** Levels kept (ring): the recent ones and the WINDOW newest, not yet in lo / hi. */
const HISTORY = 512;
/** The rule's score when it fires (calibrated units, as the range rule). */
const SCORE = 2;

interface Levels {
  /** The last WINDOW values (ring, slot = point index % WINDOW). */
  values: Float64Array;
  /** The levels (medians) of the last HISTORY points (ring, slot = index of the level's last point % HISTORY). */
  levels: Float64Array;
  /** Range of the levels whose WINDOW points all came before the current level's (none overlaps it). */
  lo: number;
  hi: number;
  /** Index of the last point of the level that set lo / hi. */
  loAt: number;
  hiAt: number;
  /** Index of the last point of the oldest level in `levels` (WINDOW - 1, or later for state saved before the ring). */
  since: number;
  /** Points reported so far. */
  n: number;
}

const scratch = new Float64Array(WINDOW);
/** A median of two values prints as 3.4500000000000002 otherwise. */
const num = (x: number) => Number(x.toPrecision(6));

/** Median of the last WINDOW - 1 values before point `n` and `x`. */
function levelWith(r: Levels, x: number): number {
  let k = 0;
  for (let i = r.n - (WINDOW - 1); i < r.n; i++) scratch[k++] = r.values[i % WINDOW];
  scratch[k] = x;
  scratch.sort();
  return (scratch[(WINDOW - 1) >> 1] + scratch[WINDOW >> 1]) / 2;
}

/**
 * State saved before the levels' ring, the records' ages and `since` existed (12 levels, no ages): the ring
 * keeps the levels it has, and the records count as old.
 */
function upgrade(r: Levels): Levels {
  if (r.levels.length === HISTORY) return r;
  const levels = new Float64Array(HISTORY);
  const since = Math.max(WINDOW - 1, r.n - WINDOW);
  for (let k = since; k < r.n; k++) levels[k % HISTORY] = r.levels[k % WINDOW];
  return Object.assign(r, { levels, since, loAt: -Infinity, hiAt: -Infinity });
}

/** The levels ending RECENT .. WINDOW points before point `n` (none overlaps the current level), sorted. */
function recentLevels(r: Levels): Float64Array {
  const from = Math.max(r.since, r.n - RECENT);
  const to = r.n - WINDOW;
  const out = new Float64Array(to - from + 1);
  for (let k = from; k <= to; k++) out[k - from] = r.levels[k % HISTORY];
  return out.sort();
}

/**
 * New level of a plain series: the median of its last 12 points more than 11 % of the range of its earlier
 * levels above the highest or below the lowest such median it has had (levels of 12 points that all came
 * before the current 12; from the 500th point on), past a record that has stood at least 75 points, and
 * more than 1.3 times the spread of the levels of the last 500 points (10th to 90th percentile) from their
 * median. The range rule sees a value beyond everything the series has
 * done; a series that spikes (tweet volumes jump 30x for a point or two every few days, a CPU gauge touches 100 %
 * on every deploy) has a range so wide that a plateau at 3.5x its usual level for two hours never leaves it, and
 * each of its points looks like the spikes the series has shown before, so the statistical detectors and the
 * shape gate call it normal. A median over 12 points ignores single spikes: it sets no record for them and
 * does not fire on them, but it crosses every level the series has held once a new one has lasted six points.
 * A mean over the same points does not work (NAB: 72.99 against 75.87 offline): the spikes set its record. A
 * rule: it counts on its own in the ensemble; its finding (`level:above` / `level:below`) is news to a range
 * alert's hold-off. Measured on NAB (docs/BENCHMARKS.md, step 21): 72.11 -> 73.79 standard (offline 75.87).
 * The record's age and the spread (step 33): two thirds of the rule's alerts outside NAB's windows were a
 * level just past a record, in a series that had set that record moments before (a trend going on, or a
 * plateau that had just begun) or whose levels swing across their whole range anyway; 73.98 -> 74.66 alone.
 */
export const levelDetector: Detector = {
  name: 'level',
  floor: 0,
  appliesTo: (kind) => kind === 'points',
  detect({ state, features }: DetectionInput): DetectorOutput | null {
    const saved = state.state<Levels | null>('level', () => null);
    if (!saved || saved.n < RECORD_MIN_POINTS) return null;
    const r = upgrade(saved);
    const x = features[0];
    if (!Number.isFinite(x) || !(r.hi > r.lo)) return { raw: 0, calibrated: true };
    const level = levelWith(r, x);
    const margin = TOLERANCE * (r.hi - r.lo);
    const beyond = level > r.hi + margin ? 'above' : level < r.lo - margin ? 'below' : null;
    if (!beyond) return { raw: 0, calibrated: true };
    const sign = beyond === 'above' ? 1 : -1;
    if (r.n - WINDOW - (beyond === 'above' ? r.hiAt : r.loAt) < RECORD_AGE) return { raw: 0, calibrated: true };
    const recent = recentLevels(r);
    const spread = recent[Math.floor(recent.length * 0.9)] - recent[Math.floor(recent.length * 0.1)];
    const median = recent[recent.length >> 1];
    if (sign * (level - median) < SPREAD * spread) return { raw: 0, calibrated: true };
    return {
      raw: SCORE,
      calibrated: true,
      type: 'other',
      finding: beyond,
      reason: `the median of the last ${WINDOW} values (${num(level)}) is ${beyond} every earlier ${WINDOW}-point median of this series (${num(r.lo)} to ${num(r.hi)} over ${r.n - WINDOW} points) and ${spread > 0 ? `${num((sign * (level - median)) / spread)} spreads of its recent medians` : 'far'} from their middle (${num(median)})`,
    };
  },
  update({ state, features }: DetectionInput): void {
    const x = features[0];
    if (!Number.isFinite(x)) return;
    let r = state.state<Levels | null>('level', () => null);
    if (!r) {
      r = { values: new Float64Array(WINDOW), levels: new Float64Array(HISTORY), lo: Infinity, hi: -Infinity, loAt: -1, hiAt: -1, since: WINDOW - 1, n: 0 };
      state.detectorState.set('level', r);
    } else upgrade(r);
    const i = r.n;
    if (i >= WINDOW - 1) r.levels[i % HISTORY] = levelWith(r, x);
    r.values[i % WINDOW] = x;
    r.n = i + 1;
    // The next point's level covers points n - WINDOW + 1 .. n: the level ending at n - WINDOW is the
    // newest that shares none of them.
    const old = r.n - WINDOW;
    if (old >= WINDOW - 1) {
      const level = r.levels[old % HISTORY];
      if (level < r.lo) {
        r.lo = level;
        r.loAt = old;
      }
      if (level > r.hi) {
        r.hi = level;
        r.hiAt = old;
      }
    }
  },
};
