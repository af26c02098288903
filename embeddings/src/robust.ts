/**
 * Robust location/scale helpers shared by the embedders. Pure, allocation-light, finite for any input.
 */

/** 1 / Phi^-1(3/4): makes the MAD a consistent estimator of the standard deviation for normal data. */
export const MAD_TO_SIGMA = 1.4826;

/** Replace NaN / +-Infinity by 0 so that no non-finite value can leak into a vector. */
export function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/**
 * Median of the first `n` values of `scratch` (reordered in place). Quickselect: O(n) on average, which
 * matters because the detectors call this per feature per window.
 */
export function medianInPlace(scratch: Float64Array, n: number): number {
  if (n <= 0) return 0;
  const mid = n >> 1;
  const hi = select(scratch, 0, n - 1, mid);
  if (n % 2 === 1) return hi;
  // The lower middle is the largest value left of `mid` after selection.
  let lo = -Infinity;
  for (let i = 0; i < mid; i++) if (scratch[i] > lo) lo = scratch[i];
  // Halve first: (1e308 + 1e308) / 2 would overflow to Infinity.
  return lo / 2 + hi / 2;
}

/**
 * The `k`-th smallest (0-based) of the first `n` values of `scratch` (reordered in place), by quickselect.
 * `k` is clamped to [0, n - 1]; 0 when `n` is 0.
 */
export function kthSmallestInPlace(scratch: Float64Array, n: number, k: number): number {
  if (n <= 0) return 0;
  return select(scratch, 0, n - 1, Math.min(n - 1, Math.max(0, k)));
}

function select(a: Float64Array, left: number, right: number, k: number): number {
  while (right > left) {
    const pivot = a[(left + right) >> 1];
    let i = left;
    let j = right;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) {
        const t = a[i];
        a[i] = a[j];
        a[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else return a[k];
  }
  return a[k];
}

/** Robust centre and scale of one feature. */
export interface RobustStats {
  center: number;
  scale: number;
}

/**
 * Median and MAD-based scale of `values`, with `scale >= minScale`. `scratch` must hold at least
 * `values.length` entries; it is overwritten.
 */
export function robustStats(values: ArrayLike<number>, minScale: number, scratch: Float64Array): RobustStats {
  const n = values.length;
  if (n === 0) return { center: 0, scale: Math.max(minScale, Number.MIN_VALUE) };
  for (let i = 0; i < n; i++) scratch[i] = finite(values[i]);
  const center = medianInPlace(scratch, n);
  for (let i = 0; i < n; i++) scratch[i] = Math.abs(finite(values[i]) - center);
  const mad = medianInPlace(scratch, n);
  return { center, scale: Math.min(Number.MAX_VALUE, Math.max(MAD_TO_SIGMA * mad, minScale, Number.MIN_VALUE)) };
}
