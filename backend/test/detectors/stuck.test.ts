import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stuckDetector } from '../../src/detectors/stuck';
import type { DetectionInput } from '../../src/detectors/types';
import { SeriesState } from '../../src/pipeline/series-state';

/** Feeds values through detect + update as the runner does; returns the raw rule scores (-1: no opinion). */
function feed(values: number[]): number[] {
  const state = new SeriesState('s', {}, 'points', ['value'], Float64Array.of(1e-9), 64);
  return values.map((v) => {
    const input = { state, features: Float64Array.of(v) } as unknown as DetectionInput;
    const out = stuckDetector.detect(input) as { raw: number } | null;
    stuckDetector.update!(input, false);
    return out?.raw ?? -1;
  });
}

/** A gauge that changes every point, with one run of 40 equal values starting at `at`. */
function series(n: number, runs: Record<number, number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = Object.keys(runs).map(Number).find((s) => i >= s && i < s + runs[s]);
    out.push(start === undefined ? 50 + (i % 7) : 10);
  }
  return out;
}

test('stuck rule: no opinion before 500 points; fires once when a run outlasts every earlier one by 20 %', () => {
  // A run of 40 before the 500th point is the record; 48 is its limit.
  const values = series(700, { 100: 40, 600: 60 });
  const scores = feed(values);
  assert.ok(scores.slice(0, 500).every((s) => s === -1));
  const fired = scores.flatMap((s, i) => (s === 2 ? [i] : []));
  // Points 600..647 are the run's first 48; the 49th (index 648) is past the limit.
  assert.deepEqual(fired, [648]);
});

test('stuck rule: a run no longer than the record, or shorter than 30 points, never fires', () => {
  assert.ok(feed(series(700, { 100: 40, 600: 45 })).every((s) => s !== 2));
  assert.ok(feed(series(700, { 600: 29 })).every((s) => s !== 2));
  // Without any earlier run, 30 points is the floor: the 31st equal value fires.
  assert.deepEqual(feed(series(700, { 600: 40 })).flatMap((s, i) => (s === 2 ? [i] : [])), [630]);
});
