import { RECORD_MIN_POINTS } from './range';
import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Shortest run that can fire: a gauge that sits still for a few scrapes is normal. */
const MIN_RUN = 30;
/** How much longer than the longest earlier run the current one must get. */
const TOLERANCE = 0.2;
/** The rule's score when it fires (calibrated units, as the range rule). */
const SCORE = 2;

interface Runs {
  last: number;
  /** Length of the run of `last` so far. */
  run: number;
  /** Longest finished run. */
  longest: number;
  n: number;
}

/** Run length past which the current run is news. */
const limit = (r: Runs) => Math.max(MIN_RUN, (1 + TOLERANCE) * r.longest);

/**
 * Stuck value of a plain series: the same value, exactly, for 20 % longer than any run of one value the
 * series has had since it was first seen (and at least 30 points; from its 500th point on). A sensor that
 * stopped updating, an exporter serving a cached value, a disk that stopped writing (a run of zeros): the
 * value itself is ordinary, and every statistical detector calls it normal, often the most normal point of
 * all. It fires once, on the point where the run crosses the limit; the incident stays open while the run
 * goes on only if other detectors agree. A rule: it counts on its own in the ensemble. Measured on NAB
 * (docs/BENCHMARKS.md, offline on step 12's scores): 67.74 -> 69.38; two windows found (a disk writing zeros,
 * a stuck agent key), five false rows.
 */
export const stuckDetector: Detector = {
  name: 'stuck',
  floor: 0,
  appliesTo: (kind) => kind === 'points',
  detect({ state, features }: DetectionInput): DetectorOutput | null {
    const r = state.state<Runs | null>('stuck', () => null);
    if (!r || r.n < RECORD_MIN_POINTS) return null;
    const x = features[0];
    if (x !== r.last) return { raw: 0, calibrated: true };
    const run = r.run + 1;
    const over = limit(r);
    if (!(run > over && r.run <= over)) return { raw: 0, calibrated: true };
    return {
      raw: SCORE,
      calibrated: true,
      type: 'other',
      reason: `value ${x} has not changed for ${run} points, longer than any run since the series was first seen (longest ${r.longest})`,
    };
  },
  update({ state, features }: DetectionInput): void {
    const x = features[0];
    if (!Number.isFinite(x)) return;
    const r = state.state<Runs | null>('stuck', () => null);
    if (!r) {
      state.detectorState.set('stuck', { last: x, run: 1, longest: 0, n: 1 });
      return;
    }
    if (x === r.last) r.run++;
    else {
      if (r.run > r.longest) r.longest = r.run;
      r.last = x;
      r.run = 1;
    }
    r.n++;
  },
};
