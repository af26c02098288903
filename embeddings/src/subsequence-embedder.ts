import { finite } from './robust';

/** Options of {@link embedSubsequence}. */
export interface SubsequenceEmbeddingOptions {
  /**
   * Number of most recent points in the shape part of the vector.
   * @default 16
   */
  length?: number;
  /**
   * Standard deviation below which a subsequence counts as flat: its shape is all zeros rather than
   * amplified noise. Relative to the level scale of the baseline.
   * @default 1e-3
   */
  flatTolerance?: number;
  /**
   * Weight of the two level components (mean and spread of the subsequence against the series baseline)
   * relative to the shape. Shape alone cannot see a level shift to a flat line.
   * @default 2
   */
  levelWeight?: number;
}

/** Dimension of the vector {@link embedSubsequence} returns. */
export function subsequenceEmbeddingDimension(options: SubsequenceEmbeddingOptions = {}): number {
  return (options.length ?? 16) + 2;
}

/**
 * Embeds the last `length` points of a plain metric series (oldest first) as a z-normalised subsequence
 * plus two level components: the discord / matrix-profile view, where the distance of the current
 * subsequence to its nearest normal subsequences measures how novel the recent shape is.
 *
 * Vector layout: `length` shape values (z-normalised by the subsequence's own mean and standard
 * deviation, divided by sqrt(length) so the shape part has unit norm at most ~1), then
 * asinh((mean - baselineCenter) / baselineScale) and asinh(log(std / baselineScale)), both times
 * `levelWeight`. Fewer points than `length` are left-padded with the first point. Deterministic, finite.
 */
export function embedSubsequence(
  values: ArrayLike<number>,
  baselineCenter: number,
  baselineScale: number,
  options: SubsequenceEmbeddingOptions = {},
): Float32Array {
  const length = options.length ?? 16;
  const levelWeight = options.levelWeight ?? 2;
  const scale = Number.isFinite(baselineScale) && baselineScale > 0 ? baselineScale : 1;
  const flat = (options.flatTolerance ?? 1e-3) * scale;
  const out = new Float32Array(length + 2);
  const n = values.length;
  if (n === 0) return out;
  const start = n - length;
  let sum = 0;
  for (let i = 0; i < length; i++) sum += finite(values[Math.max(0, start + i)]);
  const mean = sum / length;
  let ss = 0;
  for (let i = 0; i < length; i++) {
    const d = finite(values[Math.max(0, start + i)]) - mean;
    ss += d * d;
  }
  const std = Math.sqrt(ss / length);
  if (std > flat) {
    const norm = std * Math.sqrt(length);
    for (let i = 0; i < length; i++) out[i] = finite((finite(values[Math.max(0, start + i)]) - mean) / norm);
  }
  out[length] = finite(levelWeight * Math.asinh((mean - finite(baselineCenter)) / scale));
  out[length + 1] = finite(levelWeight * Math.asinh(Math.log(Math.max(std, flat, Number.MIN_VALUE) / scale)));
  return out;
}
