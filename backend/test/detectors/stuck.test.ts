import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stuckDetector } from '../../src/detectors/stuck';
import { feedPoints } from './feed';

const feed = (values: number[]) => feedPoints(stuckDetector, values);

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
