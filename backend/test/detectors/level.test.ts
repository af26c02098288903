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
  // ... and until the plateau's own levels join the range 12 points later: a new level is news once.
  assert.ok(scores.slice(605, 618).every((s) => s === 2));
  assert.ok(scores.slice(618).every((s) => s === 0));
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
  assert.equal(findings.slice(600).findIndex((f) => f !== null), 5, 'the median is on the new low once half the points are');
  assert.equal(findings[605], 'below');
});

test('level rule: a slow trend moves the levels a little at a time and never fires; a jump of the level does', () => {
  const trend = Array.from({ length: 2000 }, (_, i) => i * 0.01 + (i % 2));
  const scores = feed([...trend, ...Array.from({ length: 12 }, () => 40)]);
  assert.ok(scores.slice(0, 2000).every((s) => s <= 0));
  assert.equal(scores[2005], 2);
});
