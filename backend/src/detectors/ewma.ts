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
      const sd = Math.max(Math.sqrt(m.variance[j]), state.minScale[j]);
      z[j] = (features[j] - m.mean[j]) / sd;
      if (Math.abs(z[j]) > max) max = Math.abs(z[j]);
    }
    return { raw: max, featureZ: z };
  },
  update({ state, features }: DetectionInput, held: boolean): void {
    // An event series' held windows (anomalous, or still elevated inside an open incident) do not move it:
    // clipped at 3 sd a step, the variance grew ~1.7x per window and the chart had absorbed a 4x latency
    // incident within 5-8 windows (QA: incidents ended as recovered after 8-9 windows while they went on;
    // letting it learn them again, with everything else held, covered 9 of 20 windows instead of 20).
    // Plain series learn every point (their NAB figures were measured so).
    if (held && state.kind === 'events') return;
    let m = state.state<Moments | null>('ewma', () => null);
    if (!m) {
      m = { mean: Float64Array.from(features), variance: new Float64Array(features.length), n: 1 };
      state.detectorState.set('ewma', m);
      return;
    }
    m.n++;
    if (m.n <= INIT) {
      // Welford: exact running mean and (population) variance of the first windows.
      for (let j = 0; j < features.length; j++) {
        const d = features[j] - m.mean[j];
        m.mean[j] += d / m.n;
        m.variance[j] += (d * (features[j] - m.mean[j]) - m.variance[j]) / m.n;
      }
      return;
    }
    for (let j = 0; j < features.length; j++) {
      const sd = Math.max(Math.sqrt(m.variance[j]), state.minScale[j]);
      const d = Math.max(-CLIP * sd, Math.min(CLIP * sd, features[j] - m.mean[j]));
      m.mean[j] += ALPHA * d;
      m.variance[j] = (1 - ALPHA) * (m.variance[j] + ALPHA * d * d);
    }
  },
};
