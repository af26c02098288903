import { finite } from './robust';

/**
 * Per-feature reference a window is normalised against: typically the median and MAD-scale of the
 * series' recent history (see `robustStats`).
 */
export interface Baseline {
  center: ArrayLike<number>;
  scale: ArrayLike<number>;
}

/** Options of {@link embedWindows}. */
export interface WindowEmbeddingOptions {
  /**
   * How many of the most recent windows the vector covers (the current one last).
   * @default 3
   */
  length?: number;
  /**
   * Weight of the current window relative to the older ones; older windows decay geometrically so the
   * distance is dominated by the present state but still sees the trajectory into it.
   * @default 0.5
   */
  decay?: number;
}

/** Dimension of the vector {@link embedWindows} returns for `featureCount` features. */
export function windowEmbeddingDimension(featureCount: number, options: WindowEmbeddingOptions = {}): number {
  return featureCount * (options.length ?? 3);
}

/**
 * Turns the recent windows of one series into a fixed-length vector.
 *
 * Each feature of each window is robust-normalised against `baseline` (z = (x - median) / scale) and
 * compressed with asinh, which is linear near 0 and logarithmic in the tails: a 10x spike and a 100x spike
 * stay distinguishable without one feature swamping the distance. Vectors are therefore comparable across
 * series of very different volume (scale-robust), and two windows are close when they deviate from their
 * own baseline in the same way.
 *
 * `windows` is oldest first; the last `length` are used, and missing ones are zero-padded (i.e. "at the
 * baseline"). Non-finite inputs count as 0. Deterministic and always finite.
 */
export function embedWindows(
  windows: ReadonlyArray<ArrayLike<number>>,
  baseline: Baseline,
  options: WindowEmbeddingOptions = {},
): Float32Array {
  const length = options.length ?? 3;
  const decay = options.decay ?? 0.5;
  const f = baseline.center.length;
  const out = new Float32Array(f * length);
  const available = Math.min(length, windows.length);
  for (let slot = 0; slot < available; slot++) {
    // slot 0 is the current window; it lands in the last block of the vector.
    const w = windows[windows.length - 1 - slot];
    const weight = Math.pow(decay, slot);
    const base = (length - 1 - slot) * f;
    for (let j = 0; j < f; j++) {
      const scale = baseline.scale[j] > 0 ? baseline.scale[j] : 1;
      const z = (finite(w[j]) - finite(baseline.center[j])) / scale;
      out[base + j] = finite(weight * Math.asinh(z));
    }
  }
  return out;
}
