import { describe, expect, it } from '@jest/globals';

import { bandPath, extent, linearScale, linePath, nearestIndex, niceTicks, regionSpan, timeTicks } from './geometry';

const x = linearScale([0, 100], [0, 1000]);
const y = linearScale([0, 10], [100, 0]);

describe('scales and ticks', () => {
  it('maps linearly and widens an empty domain', () => {
    expect(x(50)).toBe(500);
    expect(y(10)).toBe(0);
    const flat = linearScale([5, 5], [0, 100]);
    expect(flat(5)).toBe(50);
  });

  it('finds the extent of finite values only', () => {
    expect(extent([1, null, 5], [-2, Number.NaN])).toEqual([-2, 5]);
    expect(extent([null])).toBeUndefined();
  });

  it('makes round ticks', () => {
    expect(niceTicks(0, 5200, 4)).toEqual([0, 2000, 4000]);
    expect(niceTicks(0, 1, 4)).toEqual([0, 0.25, 0.5, 0.75, 1]);
  });

  it('makes time ticks on round minutes', () => {
    const t0 = Date.UTC(2026, 10, 22, 10, 0, 30);
    const ticks = timeTicks(t0, t0 + 30 * 60_000, 6);
    expect(ticks[0]).toBe(Date.UTC(2026, 10, 22, 10, 5));
    expect(ticks.every((t, i) => i === 0 || t - ticks[i - 1] === 5 * 60_000)).toBe(true);
  });
});

describe('paths', () => {
  it('breaks a line at missing values', () => {
    expect(linePath([0, 10, 20, 30], [1, null, 3, 4], x, y)).toBe('M0,90M200,70L300,60');
  });

  it('draws one closed polygon per run where both bounds exist', () => {
    const d = bandPath([0, 10, 20, 30], [1, 1, null, 2], [3, 3, 5, 4], x, y);
    expect(d).toBe('M0,70L100,70L100,90L0,90ZM300,60L301,60L301,80L300,80Z');
  });
});

describe('nearestIndex and regionSpan', () => {
  it('finds the nearest point in time', () => {
    expect(nearestIndex([0, 10, 20], 14)).toBe(1);
    expect(nearestIndex([0, 10, 20], 16)).toBe(2);
    expect(nearestIndex([], 1)).toBe(-1);
  });

  it('clips regions to the plot and keeps short ones visible', () => {
    expect(regionSpan(10, 20, x)).toEqual({ x: 100, width: 100 });
    expect(regionSpan(-50, 10, x)).toEqual({ x: 0, width: 100 });
    expect(regionSpan(50, 50, x)).toEqual({ x: 498, width: 4 });
    expect(regionSpan(200, 300, x)).toBeUndefined();
  });
});
