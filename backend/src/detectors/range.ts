import type { Detector, DetectionInput, DetectorOutput } from './types';

/**
 * Points a plain series must have reported before a record of it (its range here, its longest unchanged run,
 * its range of levels) means anything: the range, stuck and level rules say nothing before.
 */
export const RECORD_MIN_POINTS = 500;
/** How far beyond the range seen so far a value must land, as a share of that range. */
const TOLERANCE = 0.05;
/** The rule's score when it fires (calibrated units: > 1 anomalous; 2 is a clear, medium-severity call). */
const SCORE = 2;
/**
 * The range is that of the points before the last LAG: a fall that takes a few points (a machine cooling
 * over an hour to a temperature it has never had) would otherwise drag the minimum down with it one small
 * step at a time and never fire. Measured on NAB offline: lag 5 / 20 / 50 / 100 gave 64.7 / 64.7 / 64.7 /
 * 64.7 standard over 63.1 without.
 */
const LAG = 20;

interface Range {
  min: number;
  max: number;
  /** Points reported so far. */
  n: number;
  /** The last LAG points, not yet in min / max. */
  recent: Float64Array;
}

/**
 * New extreme of a plain series: a value more than 5 % of its range above the highest or below the lowest
 * value it had reported up to 20 points ago, since it was first seen (from its 500th point on). A failing machine that reads
 * colder than it ever has, a queue deeper than it has ever been: whatever the detectors' calibrated view of
 * recent noise says, a value outside everything the series has ever done is news. Numenta's HTM detector
 * has the same "spatial anomaly" rule, with the range NAB hands it up front; here the range is learnt as the
 * points arrive (no look-ahead). A slow trend moves the range a little at a time and does not fire; a jump
 * or a fast slide beyond it does. A rule: it counts on its own in the ensemble.
 */
export const rangeDetector: Detector = {
  name: 'range',
  floor: 0,
  appliesTo: (kind) => kind === 'points',
  detect({ state, features }: DetectionInput): DetectorOutput | null {
    const r = state.state<Range | null>('range', () => null);
    if (!r || r.n < RECORD_MIN_POINTS) return null;
    if (!(r.max > r.min)) return { raw: 0, calibrated: true };
    const x = features[0];
    const margin = TOLERANCE * (r.max - r.min);
    const beyond = x > r.max + margin ? 'above' : x < r.min - margin ? 'below' : null;
    if (!beyond) return { raw: 0, calibrated: true };
    return {
      raw: SCORE,
      calibrated: true,
      type: 'other',
      finding: beyond,
      reason: `value ${x} is ${beyond} everything this series had reported until ${LAG} points ago (range ${r.min} to ${r.max} over ${r.n - LAG} points)`,
    };
  },
  update({ state, features }: DetectionInput): void {
    const x = features[0];
    if (!Number.isFinite(x)) return;
    const r = state.state<Range | null>('range', () => null);
    if (!r) {
      const recent = new Float64Array(LAG);
      recent[0] = x;
      state.detectorState.set('range', { min: Infinity, max: -Infinity, n: 1, recent });
      return;
    }
    // The point leaving the last LAG joins the range; the new one takes its slot.
    const slot = r.n % LAG;
    if (r.n >= LAG) {
      const old = r.recent[slot];
      if (old < r.min) r.min = old;
      if (old > r.max) r.max = old;
    }
    r.recent[slot] = x;
    r.n++;
  },
};
