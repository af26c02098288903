import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { driftDetector } from '../../src/detectors/drift';
import type { DetectionInput, DetectorOutput } from '../../src/detectors/types';
import { SeriesState } from '../../src/pipeline/series-state';
import { EVENT_FEATURE_MIN_SCALE, EVENT_FEATURE_NAMES, FEATURE_INDEX as F } from '../../src/windowing/features';

const MINUTE = 60_000;
const T0 = Date.UTC(2026, 2, 2);

/** One 1-minute window's observed features: `n` requests at median latency `latency`, `output` tokens each. */
function window(latency: number, output = 200, n = 100): Float64Array {
  const f = new Float64Array(EVENT_FEATURE_NAMES.length);
  f[F.request_count] = n;
  f[F.latency_p50_ms] = latency;
  f[F.output_tokens_mean] = output;
  f[F.cost_usd] = n * 0.001;
  return f;
}

/** Feeds windows (one a minute from T0) through the drift detector as the runner does; its output per window. */
function feed(windows: readonly Float64Array[]): (DetectorOutput | null)[] {
  const state = new SeriesState('s', {}, 'events', EVENT_FEATURE_NAMES, EVENT_FEATURE_MIN_SCALE.slice(), 16);
  return windows.map((features, m) => {
    const input = { state, start: T0 + m * MINUTE, end: T0 + (m + 1) * MINUTE, features, observed: features } as unknown as DetectionInput;
    const out = driftDetector.detect(input) as DetectorOutput | null;
    driftDetector.update!(input, false);
    return out;
  });
}

/** Where the drifts below begin: after a day of steady level (the detector has no opinion before) and 4 hours. */
const B = 1440 + 240;
const fired = (outs: (DetectorOutput | null)[]) => outs.flatMap((o, m) => (o && o.raw > 1 ? [m] : []));
/** `minutes` of a level wobbling +-5 % around `level` (deterministic). */
const steady = (minutes: number, level: number, from = 0) => Array.from({ length: minutes }, (_, i) => level * (1 + 0.05 * Math.sin(from + i * 1.7)));

test('a latency that creeps up 2x over 3 hours is a latency drift, with the levels and the time it took', () => {
  const ramp = Array.from({ length: 180 }, (_, i) => 800 * (1 + i / 180) * (1 + 0.05 * Math.sin(i * 1.7)));
  const outs = feed([...steady(B, 800), ...ramp].map((l) => window(l)));
  assert.deepEqual(fired(outs.slice(0, B)), [], 'nothing before the drift');
  const first = fired(outs)[0];
  assert.ok(first >= B && first < B + 120, `found ${first - B} minutes into the drift`);
  const o = outs[first]!;
  assert.equal(o.type, 'latency_spike');
  assert.match(o.reason!, /^median latency drifted up from 8\d\d ms to 1,\d{3} ms \(1\.\dx\) over (\d+ minutes|[\d.]+ h)/);
});

test('longer answers drift as an output blow-up (the cause), though latency and cost drift with them', () => {
  const outs = feed([...steady(B, 1), ...Array.from({ length: 180 }, (_, i) => 1 + i / 180)].map((k, m) => window(800 * k, 300 * k * (1 + 0.03 * Math.sin(m)))));
  const first = fired(outs)[0];
  assert.ok(first >= B, String(first));
  assert.equal(outs[first]!.type, 'output_blowup');
  assert.match(outs[first]!.reason!, /^output tokens per request drifted up/);
});

test('a level the series keeps for 4 hours is its new normal: the drift ends', () => {
  const outs = feed([...steady(B, 800), ...steady(480, 1600, 3)].map((l) => window(l)));
  const found = fired(outs);
  assert.ok(found.length > 0 && found[0] < B + 60, 'the step is a rise');
  assert.ok(found[found.length - 1] < B + 300, `last fired ${found[found.length - 1] - B} minutes after the step`);
  assert.deepEqual(fired(outs.slice(B + 300)), []);
});

test('what the series does every hour (answers 3x longer for 20 minutes) or every day is not a drift', () => {
  const hourly = Array.from({ length: 12 * 60 }, (_, m) => (m % 60 < 20 ? 2400 : 800) * (1 + 0.05 * Math.sin(m * 1.7)));
  assert.deepEqual(fired(feed(hourly.map((l) => window(l)))), [], 'an hourly mix');
  // A daily cycle of +-40 %: no opinion on its first day, the next days are "this time yesterday".
  const daily = Array.from({ length: 3 * 1440 }, (_, m) => 800 * (1 + 0.4 * Math.sin((2 * Math.PI * (m - 360)) / 1440)) * (1 + 0.05 * Math.sin(m * 1.7)));
  assert.deepEqual(fired(feed(daily.map((l) => window(l)))), [], 'no opinion on day 1; days 2 and 3 are "this time yesterday"');
});

test('no opinion before a day of levels: a rise in the first hours is the other detectors\' finding', () => {
  const ramp = Array.from({ length: 180 }, (_, i) => 800 * (1 + i / 180) * (1 + 0.05 * Math.sin(i * 1.7)));
  assert.deepEqual(fired(feed([...steady(240, 800), ...ramp].map((l) => window(l)))), []);
});

test('a window without requests carries a drift in progress and starts none', () => {
  const ramp = Array.from({ length: 180 }, (_, i) => window(800 * (1 + i / 180)));
  const windows = [...steady(B, 800).map((l) => window(l)), ...ramp];
  const first = fired(feed(windows))[0];
  const empty = window(NaN, NaN, 0);
  const withGap = [...windows.slice(0, first + 1), empty, empty, ...windows.slice(first + 1)];
  const outs = feed(withGap);
  assert.ok(outs[first + 1]!.raw > 1 && outs[first + 2]!.raw > 1, 'the drift goes on through empty windows');
  assert.equal(feed([...steady(B, 800).map((l) => window(l)), empty])[B], null);
});

test('property: a level that stays within +-8 % of where it started never drifts', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -0.08, max: 0.08, noNaN: true }), { minLength: 300, maxLength: 600 }), fc.double({ min: 50, max: 50_000, noNaN: true }), (wobble, level) => {
      return fired(feed(wobble.map((w) => window(level * (1 + w), 200 * (1 + w))))).length === 0;
    }),
    { numRuns: 30 },
  );
});
