import type { Detector, DetectionInput } from '../../src/detectors/types';
import { SeriesState } from '../../src/pipeline/series-state';

/**
 * Feeds a plain series' values through one detector's detect + update, as the runner does; returns the raw
 * score per value (-1: no opinion).
 */
export function feedPoints(detector: Detector, values: readonly number[]): number[] {
  const state = new SeriesState('s', {}, 'points', ['value'], Float64Array.of(1e-9), 64);
  return values.map((v) => {
    const input = { state, features: Float64Array.of(v) } as unknown as DetectionInput;
    const out = detector.detect(input) as { raw: number } | null;
    detector.update!(input, false);
    return out?.raw ?? -1;
  });
}
