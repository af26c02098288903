import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Points a plain series must have reported before its range means anything. */
const MIN_POINTS = 500;
/** How far beyond the range seen so far a value must land, as a share of that range. */
const TOLERANCE = 0.05;
/** The rule's score when it fires (calibrated units: > 1 anomalous; 2 is a clear, medium-severity call). */
const SCORE = 2;

interface Range {
  min: number;
  max: number;
  n: number;
}

/**
 * New extreme of a plain series: a value more than 5 % of its range above the highest or below the lowest
 * value it has reported since it was first seen (from its 500th point on). A failing machine that reads
 * colder than it ever has, a queue deeper than it has ever been: whatever the detectors' calibrated view of
 * recent noise says, a value outside everything the series has ever done is news. Numenta's HTM detector
 * has the same "spatial anomaly" rule, with the range NAB hands it up front; here the range is learnt as the
 * points arrive (no look-ahead). A slow trend moves the range a little at a time and does not fire; a jump
 * beyond it does. A rule: it counts on its own in the ensemble.
 */
export const rangeDetector: Detector = {
  name: 'range',
  floor: 0,
  appliesTo: (kind) => kind === 'points',
  detect({ state, features }: DetectionInput): DetectorOutput | null {
    const r = state.state<Range | null>('range', () => null);
    if (!r || r.n < MIN_POINTS) return null;
    const x = features[0];
    const margin = TOLERANCE * (r.max - r.min);
    if (!(r.max > r.min)) return { raw: 0, calibrated: true };
    const beyond = x > r.max + margin ? 'above' : x < r.min - margin ? 'below' : null;
    if (!beyond) return { raw: 0, calibrated: true };
    return {
      raw: SCORE,
      calibrated: true,
      type: 'other',
      reason: `value ${x} is ${beyond} everything this series has reported (range ${r.min} to ${r.max} over ${r.n} points)`,
    };
  },
  update({ state, features }: DetectionInput): void {
    const x = features[0];
    if (!Number.isFinite(x)) return;
    const r = state.state<Range | null>('range', () => null);
    if (!r) {
      state.detectorState.set('range', { min: x, max: x, n: 1 });
      return;
    }
    if (x < r.min) r.min = x;
    if (x > r.max) r.max = x;
    r.n++;
  },
};
