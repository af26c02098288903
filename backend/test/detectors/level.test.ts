import { test } from 'node:test';
import assert from 'node:assert/strict';
import { levelDetector } from '../../src/detectors/level';
import { rangeDetector } from '../../src/detectors/range';
import { feedPoints } from './feed';
import type { DetectionInput, DetectorOutput } from '../../src/detectors/types';
import { SeriesState } from '../../src/pipeline/series-state';

const feed = (values: number[]) => feedPoints(levelDetector, values);

/**
 * 600 points of a spiky count series: a level rising and falling between 40 and 60 every 100 points, with
 * noise of +-3 and a single spike to 600 (12x) every 50 points.
 */
const SPIKY = Array.from({ length: 600 }, (_, i) => (i % 50 === 25 ? 600 : 50 + 10 * Math.sin((2 * Math.PI * i) / 100) + (i % 2 ? 3 : -3)));

test('level rule: silent for the first 500 points and on spikes as high as ever; fires on a plateau that never leaves the range', () => {
  const plateau = Array.from({ length: 20 }, (_, i) => 150 + (i % 2 ? 3 : -3));
  const scores = feed([...SPIKY, ...plateau, ...SPIKY.slice(0, 40)]);
  assert.ok(scores.slice(0, 500).every((s) => s === -1), 'no opinion before 500 points');
  assert.ok(scores.slice(500, 600).every((s) => s === 0), 'the spikes and the daily level are what the series does');
  // The plateau (3x the usual level, a quarter of the spikes) is within the range of its values: the range
  // rule is silent on it; its 12-point median crosses the highest earlier median (about 62, plus 10 % of the
  // levels' range) once half its points are in.
  const range = feedPoints(rangeDetector, [...SPIKY, ...plateau]);
  assert.ok(range.slice(600).every((s) => s === 0), 'the range rule does not see the plateau');
  const first = scores.findIndex((s, i) => i >= 600 && s === 2);
  assert.equal(first, 605, 'fires when the median of the last 12 points is on the plateau');
  // ... and until the plateau's own levels start to join the range 12 points later: from then on the record
  // it passes is its own, set a moment ago (the same move going on), and a new level is news once.
  assert.ok(scores.slice(605, 617).every((s) => s === 2));
  assert.ok(scores.slice(617).every((s) => s === 0));
});

test('level rule: fires on a new low level and says which side', () => {
  const state = new SeriesState('s', {}, 'points', ['value'], Float64Array.of(1e-9), 64);
  const findings = [...SPIKY, ...Array.from({ length: 20 }, () => 10)].map((v) => {
    const input = { state, features: Float64Array.of(v) } as unknown as DetectionInput;
    const out = levelDetector.detect(input) as DetectorOutput | null;
    levelDetector.update!(input, false);
    return out?.raw === 2 ? out.finding : null;
  });
  assert.ok(findings.slice(0, 600).every((f) => f === null));
  // Half the points on it, the median (between 10 and about 40) is below every earlier level but not yet
  // 1.3 spreads of the recent levels (about 18 each) below their median (50); one more point and it is.
  assert.equal(findings.slice(600).findIndex((f) => f !== null), 6, 'the median is on the new low once more than half the points are');
  assert.equal(findings[606], 'below');
});

test('level rule: a slow trend moves the levels a little at a time and never fires; a jump of the level does once the trend has stopped', () => {
  const trend = Array.from({ length: 2000 }, (_, i) => i * 0.01 + (i % 2));
  const flat = Array.from({ length: 100 }, (_, i) => 20 + (i % 2));
  const scores = feed([...trend, ...flat, ...Array.from({ length: 12 }, () => 40)]);
  assert.ok(scores.slice(0, 2100).every((s) => s <= 0));
  assert.equal(scores[2105], 2);
  // Straight off the trend, the record the jump passes was set 12 points before by the trend itself: the
  // level rule leaves it to the range rule, for which 40 is a value the series has never had.
  const off = [...trend, ...Array.from({ length: 12 }, () => 40)];
  assert.ok(feed(off).every((s) => s <= 0));
  assert.equal(feedPoints(rangeDetector, off)[2000], 2);
});

test('level rule: a level just past the range of a series that swings across it all the time is no news', () => {
  // SPIKY's levels swing between about 40 and 60 every 100 points: their median is 50, their 10th-90th
  // percentile spread about 18. Plateaus at 64 to 70 are past the highest level (about 60) by more than 11 %
  // of the levels' range, but less than 1.3 spreads (about 23) above their median: silent. One at 80 fires
  // once its median is on it.
  const plateau = (v: number) => Array.from({ length: 20 }, (_, i) => v + (i % 2 ? 0.5 : -0.5));
  for (const v of [64, 70]) assert.ok(feed([...SPIKY, ...plateau(v)]).slice(600).every((s) => s === 0), `${v}: within the spread of the recent levels`);
  const far = feed([...SPIKY, ...plateau(80)]);
  assert.equal(far.slice(600).findIndex((s) => s === 2), 6, 'beyond it');
});

test('level rule: a jump right after a creep that set the record is the same move; after the record has stood, it is news', () => {
  // 600 points swinging slowly between 49 and 51, then a creep to 52 (0.01 a point: each level only
  // 0.12 past the last, inside the tolerance), then a jump to 60 at once, or after 100 points at 52.
  const base = Array.from({ length: 600 }, (_, i) => 50 + Math.sin((2 * Math.PI * i) / 200) + (i % 2 ? 0.05 : -0.05));
  const creep = Array.from({ length: 100 }, (_, i) => 51 + 0.01 * (i + 1) + (i % 2 ? 0.05 : -0.05));
  const jump = Array.from({ length: 20 }, (_, i) => 60 + (i % 2 ? 0.05 : -0.05));
  const hold = Array.from({ length: 100 }, (_, i) => 52 + (i % 2 ? 0.05 : -0.05));
  const atOnce = feed([...base, ...creep, ...jump]);
  assert.ok(atOnce.slice(500).every((s) => s === 0), 'the record it passes was set 12 points before');
  const later = feed([...base, ...creep, ...hold, ...jump]);
  assert.ok(later.slice(500, 800).every((s) => s === 0));
  assert.equal(later.slice(800).findIndex((s) => s === 2), 5, 'the record stood 100 points');
});

test('level rule: state saved before the ring of recent levels (12 levels, no record ages) goes on and still fires', () => {
  const state = new SeriesState('s', {}, 'points', ['value'], Float64Array.of(1e-9), 64);
  const step = (v: number) => {
    const input = { state, features: Float64Array.of(v) } as unknown as DetectionInput;
    const out = levelDetector.detect(input) as DetectorOutput | null;
    levelDetector.update!(input, false);
    return out?.raw ?? -1;
  };
  for (const v of SPIKY) step(v);
  // What the previous version saved: the levels of the last 12 points in a ring of 12, no ages, no `since`.
  const r = state.detectorState.get('level') as { levels: Float64Array; n: number; loAt?: number; hiAt?: number; since?: number };
  const old = new Float64Array(12);
  for (let k = r.n - 12; k < r.n; k++) old[k % 12] = r.levels[k % 512];
  r.levels = old;
  delete r.loAt;
  delete r.hiAt;
  delete r.since;
  const scores = Array.from({ length: 20 }, (_, i) => step(150 + (i % 2 ? 3 : -3)));
  assert.ok(scores.every((s) => s === 0 || s === 2));
  assert.equal(scores.indexOf(2), 5);
  assert.equal((state.detectorState.get('level') as { levels: Float64Array }).levels.length, 512);
});
