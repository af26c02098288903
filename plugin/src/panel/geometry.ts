/**
 * Scales, ticks and SVG paths for the timeline. Pure: the component only maps these to elements.
 */

/** A linear map from a data domain to pixels. */
export interface Scale {
  (value: number): number;
  domain: [number, number];
  range: [number, number];
}

/** Linear scale; a zero-width domain is widened so a flat series still draws in the middle. */
export function linearScale(domain: [number, number], range: [number, number]): Scale {
  let [d0, d1] = domain;
  if (!(d1 > d0)) {
    const pad = Math.abs(d0) > 0 ? Math.abs(d0) * 0.1 : 1;
    d0 -= pad;
    d1 += pad;
  }
  const [r0, r1] = range;
  const k = (r1 - r0) / (d1 - d0);
  const scale = ((v: number) => r0 + (v - d0) * k) as Scale;
  scale.domain = [d0, d1];
  scale.range = [r0, r1];
  return scale;
}

/** Min and max of the finite numbers among the arrays, or undefined when there are none. */
export function extent(...arrays: Array<ReadonlyArray<number | null>>): [number, number] | undefined {
  let min = Infinity;
  let max = -Infinity;
  for (const arr of arrays) {
    for (const v of arr) {
      if (v !== null && Number.isFinite(v)) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
  }
  return min <= max ? [min, max] : undefined;
}

/** About `count` round tick values (1, 2, 5 x 10^k steps) covering [min, max]. */
export function niceTicks(min: number, max: number, count = 4): number[] {
  if (!(max > min)) {
    return [min];
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

const TIME_STEPS_MS = [
  1_000, 5_000, 15_000, 30_000, 60_000, 2 * 60_000, 5 * 60_000, 10 * 60_000, 15 * 60_000, 30 * 60_000, 3600_000,
  2 * 3600_000, 3 * 3600_000, 6 * 3600_000, 12 * 3600_000, 86_400_000, 2 * 86_400_000, 7 * 86_400_000,
];

/** Tick times on round boundaries (UTC multiples of a step) giving at most about `count` ticks. */
export function timeTicks(from: number, to: number, count = 6): number[] {
  if (!(to > from)) {
    return [from];
  }
  const step = TIME_STEPS_MS.find((s) => (to - from) / s <= count) ?? 30 * 86_400_000;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) {
    ticks.push(t);
  }
  return ticks;
}

/** SVG path through the points, broken where a value is missing (gaps stay gaps). */
export function linePath(xs: readonly number[], ys: ReadonlyArray<number | null>, x: Scale, y: Scale): string {
  let d = '';
  let pen = false;
  for (let i = 0; i < xs.length; i++) {
    const v = ys[i];
    if (v === null || v === undefined || !Number.isFinite(v) || !Number.isFinite(xs[i])) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${round(x(xs[i]))},${round(y(v))}`;
    pen = true;
  }
  return d;
}

/**
 * Closed SVG path(s) of the band between `lower` and `upper`: one polygon per run of points where both
 * bounds exist, so a gap in the band is not bridged.
 */
export function bandPath(
  xs: readonly number[],
  lower: ReadonlyArray<number | null>,
  upper: ReadonlyArray<number | null>,
  x: Scale,
  y: Scale
): string {
  const runs: number[][] = [];
  let run: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    if (isNum(lower[i]) && isNum(upper[i]) && Number.isFinite(xs[i])) {
      run.push(i);
    } else if (run.length) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length) {
    runs.push(run);
  }
  return runs
    .map((idx) => {
      // A single point gets a sliver of width so it stays visible.
      const pts = idx.length === 1 ? [idx[0], idx[0]] : idx;
      const top = pts.map((i, k) => `${k ? 'L' : 'M'}${round(x(xs[i]) + (idx.length === 1 && k ? 1 : 0))},${round(y(upper[i]!))}`);
      const bottom = [...pts]
        .reverse()
        .map((i, k) => `L${round(x(xs[i]) + (idx.length === 1 && !k ? 1 : 0))},${round(y(lower[i]!))}`);
      return `${top.join('')}${bottom.join('')}Z`;
    })
    .join('');
}

/** Index of the point nearest in time to `t` (binary search; `xs` sorted ascending). */
export function nearestIndex(xs: readonly number[], t: number): number {
  if (!xs.length) {
    return -1;
  }
  let lo = 0;
  let hi = xs.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (xs[mid] <= t) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return Math.abs(xs[hi] - t) < Math.abs(xs[lo] - t) ? hi : lo;
}

/** Pixel span of a region clipped to the plot, at least `minWidth` wide so short anomalies stay visible. */
export function regionSpan(start: number, end: number, x: Scale, minWidth = 4): { x: number; width: number } | undefined {
  const [left, right] = x.range;
  let x0 = Math.max(left, x(start));
  let x1 = Math.min(right, x(end));
  if (x0 > right || x1 < left) {
    return undefined;
  }
  if (x1 - x0 < minWidth) {
    const mid = (x0 + x1) / 2;
    x0 = Math.max(left, mid - minWidth / 2);
    x1 = Math.min(right, x0 + minWidth);
  }
  return { x: round(x0), width: round(x1 - x0) };
}

function isNum(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function round(v: number): number {
  return Math.round(v * 10) / 10;
}
