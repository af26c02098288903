import { RECORD_MIN_POINTS } from './range';
import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Points in a level: the median of the last WINDOW values, the current one included. */
const WINDOW = 12;
/** How far beyond every earlier level the current one must lie, as a share of the range of those levels. */
const TOLERANCE = 0.1;
/** The rule's score when it fires (calibrated units, as the range rule). */
const SCORE = 2;

interface Levels {
  /** The last WINDOW values (ring, slot = point index % WINDOW). */
  values: Float64Array;
  /** The levels (medians) of the last WINDOW points, not yet in lo / hi (ring, slot = point index % WINDOW). */
  levels: Float64Array;
  /** Range of the levels whose WINDOW points all came before the current level's (none overlaps it). */
  lo: number;
  hi: number;
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
 * New level of a plain series: the median of its last 12 points more than 10 % of the range of its earlier
 * levels above the highest or below the lowest such median it has had (levels of 12 points that all came
 * before the current 12; from the 500th point on). The range rule sees a value beyond everything the series has
 * done; a series that spikes (tweet volumes jump 30x for a point or two every few days, a CPU gauge touches 100 %
 * on every deploy) has a range so wide that a plateau at 3.5x its usual level for two hours never leaves it, and
 * each of its points looks like the spikes the series has shown before, so the statistical detectors and the
 * shape gate call it normal. A median over 12 points ignores single spikes: it sets no record for them and
 * does not fire on them, but it crosses every level the series has held once a new one has lasted six points.
 * A mean over the same points does not work (NAB: 72.99 against 75.87 offline): the spikes set its record. A
 * rule: it counts on its own in the ensemble; its finding (`level:above` / `level:below`) is news to a range
 * alert's hold-off. Measured on NAB (docs/BENCHMARKS.md, step 21): 72.11 -> 73.79 standard (offline 75.87).
 */
export const levelDetector: Detector = {
  name: 'level',
  floor: 0,
  appliesTo: (kind) => kind === 'points',
  detect({ state, features }: DetectionInput): DetectorOutput | null {
    const r = state.state<Levels | null>('level', () => null);
    if (!r || r.n < RECORD_MIN_POINTS) return null;
    const x = features[0];
    if (!Number.isFinite(x) || !(r.hi > r.lo)) return { raw: 0, calibrated: true };
    const level = levelWith(r, x);
    const margin = TOLERANCE * (r.hi - r.lo);
    const beyond = level > r.hi + margin ? 'above' : level < r.lo - margin ? 'below' : null;
    if (!beyond) return { raw: 0, calibrated: true };
    return {
      raw: SCORE,
      calibrated: true,
      type: 'other',
      finding: beyond,
      reason: `the median of the last ${WINDOW} values (${num(level)}) is ${beyond} every earlier ${WINDOW}-point median of this series (${num(r.lo)} to ${num(r.hi)} over ${r.n - WINDOW} points)`,
    };
  },
  update({ state, features }: DetectionInput): void {
    const x = features[0];
    if (!Number.isFinite(x)) return;
    let r = state.state<Levels | null>('level', () => null);
    if (!r) {
      r = { values: new Float64Array(WINDOW), levels: new Float64Array(WINDOW), lo: Infinity, hi: -Infinity, n: 0 };
      state.detectorState.set('level', r);
    }
    const i = r.n;
    if (i >= WINDOW - 1) r.levels[i % WINDOW] = levelWith(r, x);
    r.values[i % WINDOW] = x;
    r.n = i + 1;
    // The next point's level covers points n - WINDOW + 1 .. n: the level ending at n - WINDOW is the
    // newest that shares none of them.
    const old = r.n - WINDOW;
    if (old >= WINDOW - 1) {
      const level = r.levels[old % WINDOW];
      if (level < r.lo) r.lo = level;
      if (level > r.hi) r.hi = level;
    }
  },
};
