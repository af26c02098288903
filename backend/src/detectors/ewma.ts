import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Smoothing of the exponentially weighted mean and variance (about a 20-window memory). */
const ALPHA = 0.1;
/** Updates are winsorised at this many standard deviations so a spike does not drag the baseline. */
const CLIP = 3;
/** Windows averaged exactly (Welford) before switching to exponential weights: no tiny early variance. */
const INIT = 10;

interface Moments {
  mean: Float64Array;
  variance: Float64Array;
  n: number;
  /**
   * Windows each feature was learnt from (an event series learns a per-request feature only from windows
   * that observed it); absent in state saved before it existed, where every feature has `n`.
   */
  counts?: Float64Array;
}

/**
 * EWMA control chart per feature: z = (x - mean) / sd with exponentially weighted moments, sd floored by
 * the feature's minimum scale. Adapts faster than the median baseline after legitimate level changes.
 */
export const ewmaDetector: Detector = {
  name: 'ewma',
  floor: 4,
  appliesTo: () => true,
  detect({ state, features }: DetectionInput): DetectorOutput | null {
    const m = state.state<Moments | null>('ewma', () => null);
    if (!m || m.n < INIT) return null;
    const z = new Float64Array(features.length);
    let max = 0;
    for (let j = 0; j < features.length; j++) {
      if (m.counts && m.counts[j] < INIT) continue;
      const sd = Math.max(Math.sqrt(m.variance[j]), state.minScale[j]);
      z[j] = (features[j] - m.mean[j]) / sd;
      if (Math.abs(z[j]) > max) max = Math.abs(z[j]);
    }
    return { raw: max, featureZ: z };
  },
  update({ state, features, observed }: DetectionInput, held: boolean): void {
    // An event series' held windows (anomalous, or still elevated inside an open incident) do not move it:
    // clipped at 3 sd a step, the variance grew ~1.7x per window and the chart had absorbed a 4x latency
    // incident within 5-8 windows (QA: incidents ended as recovered after 8-9 windows while they went on;
    // letting it learn them again, with everything else held, covered 9 of 20 windows instead of 20).
    // Plain series learn every point (their NAB figures were measured so).
    if (held && state.kind === 'events') return;
    let m = state.state<Moments | null>('ewma', () => null);
    if (!m) {
      m = { mean: new Float64Array(features.length), variance: new Float64Array(features.length), n: 0, counts: new Float64Array(features.length) };
      state.detectorState.set('ewma', m);
    }
    m.n++;
    const counts = (m.counts ??= new Float64Array(features.length).fill(m.n - 1));
    for (let j = 0; j < features.length; j++) {
      // What the window did not observe (NaN: no request, no latency) teaches nothing: read as the expected
      // value, it shrank a sparse series' variance towards 0.
      const x = observed ? observed[j] : features[j];
      if (Number.isNaN(x)) continue;
      const k = ++counts[j];
      if (k <= INIT) {
        // Welford: exact running mean and (population) variance of the first windows.
        const d = x - m.mean[j];
        m.mean[j] += d / k;
        m.variance[j] += (d * (x - m.mean[j]) - m.variance[j]) / k;
        continue;
      }
      const sd = Math.max(Math.sqrt(m.variance[j]), state.minScale[j]);
      const d = Math.max(-CLIP * sd, Math.min(CLIP * sd, x - m.mean[j]));
      m.mean[j] += ALPHA * d;
      m.variance[j] = (1 - ALPHA) * (m.variance[j] + ALPHA * d * d);
    }
  },
};
