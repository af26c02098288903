import type { Detector, DetectionInput, DetectorOutput } from './types';

/** A median and MAD of fewer windows are too noisy to score against. */
const MIN_SAMPLES = 10;

/**
 * Robust z-score per feature against the series' recent history (median and MAD-scale, floored per
 * feature). Raw score: the largest |z|. Gives the per-feature attributions the explanations use.
 */
export const robustZDetector: Detector = {
  name: 'robust_z',
  floor: 4,
  appliesTo: () => true,
  detect({ features, baseline }: DetectionInput): DetectorOutput | null {
    if (baseline.samples < MIN_SAMPLES) return null;
    const z = new Float64Array(features.length);
    let max = 0;
    for (let j = 0; j < features.length; j++) {
      // A feature observed in fewer windows (a sparse series' latency) has no opinion yet.
      if (baseline.counts && baseline.counts[j] < MIN_SAMPLES) continue;
      z[j] = (features[j] - baseline.center[j]) / baseline.scale[j];
      const a = Math.abs(z[j]);
      if (a > max) max = a;
    }
    return { raw: max, featureZ: z };
  },
};
