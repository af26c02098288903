import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rangeDetector } from '../../src/detectors/range';
import { feedPoints } from './feed';

const feed = (values: number[]) => feedPoints(rangeDetector, values);

/** 600 points cycling through 40, 46.7, 53.3 and 60: the range is exactly 40..60. */
const NORMAL = Array.from({ length: 600 }, (_, i) => 40 + (20 * (i % 4)) / 3);

test('range rule: silent for the first 500 points, then fires on a value 5 % of the range beyond every earlier one', () => {
  const scores = feed([...NORMAL, 60.5, 62, 39, 37.5, 50]);
  assert.ok(scores.slice(0, 500).every((s) => s === -1), 'no opinion before 500 points');
  assert.ok(scores.slice(500, 600).every((s) => s === 0));
  // 60.5 is within 5 % of the range (20 -> 1.0) above the max, 62 beyond it (it joins the range 20 points
  // later); 39 is within 1.0 below the min, 37.5 beyond it.
  assert.deepEqual(scores.slice(600), [0, 2, 0, 2, 0]);
});

test('range rule: a slow trend widens the range as it goes and never fires; a jump beyond it does', () => {
  const trend = Array.from({ length: 2000 }, (_, i) => i * 0.01);
  const scores = feed([...trend, 25]);
  assert.ok(scores.slice(0, 2000).every((s) => s <= 0));
  assert.equal(scores[2000], 2);
});

test('range rule: a slide to a new low over a few points fires, though each step is small', () => {
  // 40 -> 30 in steps of 0.5 (5 % of the range is 1.0): each step is small, but the minimum of 20 points
  // ago is still 40, so 38.5 is past it.
  const slide = Array.from({ length: 21 }, (_, i) => 40 - i * 0.5);
  const scores = feed([...NORMAL, ...slide]);
  assert.ok(scores.slice(500, 603).every((s) => s === 0));
  assert.equal(scores[603], 2);
});
