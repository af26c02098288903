import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Windower } from '../../src/windowing/windower';
import { FEATURE_INDEX as F } from '../../src/windowing/features';
import { event } from '../helpers';

const W = 60_000;
/** Every window, whole or not (what a test of the features wants). */
const closeAll = (w: Windower) => [...w.closeEnded(), ...w.takeOpen().flatMap((o) => w.closeTaken(o))];
const make = (over: Partial<ConstructorParameters<typeof Windower>[0]> = {}) =>
  new Windower({ windowMs: W, latenessMs: 10_000, keyDimensions: ['service', 'model'], maxSeries: 100, ...over });

test('a window closes only when event time passes its end plus the lateness', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  w.add(event(t0 + 1000));
  w.add(event(t0 + 59_000));
  w.add(event(t0 + W + 5_000));
  assert.equal(w.collect().length, 0, 'watermark is t0+W-5s: nothing closes');
  w.add(event(t0 + W + 10_000));
  const closed = w.collect();
  assert.equal(closed.length, 1);
  assert.equal(closed[0].start, t0);
  assert.equal(closed[0].features[F.request_count], 2);
  assert.equal(closed[0].seriesKey, 'service=chat|model=m1');
});

test('events for a closed window are refused as late; within the lateness they still count', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  w.add(event(t0 + 1000));
  w.add(event(t0 + W + 8_000));
  assert.equal(w.add(event(t0 + 30_000)), null, 'within lateness');
  w.add(event(t0 + W + 11_000));
  const closed = w.collect();
  assert.equal(closed[0].features[F.request_count], 2);
  assert.equal(w.add(event(t0 + 40_000)), 'late');
});

test('silent stretches become empty windows (a drop to zero is a signal), bounded in length', () => {
  const w = make({ maxGapWindows: 3 });
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  w.add(event(t0));
  w.add(event(t0 + 10 * W + 30_000));
  const first = w.collect();
  w.add(event(t0 + 11 * W + 20_000));
  const all = [...first, ...w.collect()];
  const starts = all.map((c) => (c.start - t0) / W);
  assert.deepEqual(starts, [0, 1, 2, 3, 10]);
  assert.ok(all.slice(1, 4).every((c) => c.features[F.request_count] === 0));
});

test('a window cannot observe per-request features without requests: NaN, while counts and sums are 0', () => {
  const w = make({ maxGapWindows: 3 });
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  // Three requests: a latency quantile rests on at least three (LATENCY_SUPPORT; see the next tests).
  for (let i = 0; i < 3; i++) w.add(event(t0 + i, { cacheHit: true, ttftMs: 200 }));
  // The next window's requests report no latency, TTFT or cache verdict.
  w.add(event(t0 + 2 * W + 1_000, { latencyMs: undefined }));
  w.add(event(t0 + 4 * W));
  const [full, empty, noLatency] = w.collect();
  assert.equal(full.features[F.latency_p50_ms], 900);
  assert.equal(full.features[F.cache_hit_rate], 1);
  assert.equal(empty.features[F.request_count], 0);
  assert.equal(empty.features[F.input_tokens_sum], 0);
  assert.equal(empty.features[F.cost_usd], 0);
  for (const f of ['input_tokens_mean', 'output_input_ratio', 'latency_p50_ms', 'latency_p99_ms', 'ttft_p95_ms', 'error_rate', 'cache_hit_rate', 'top_key_token_share'] as const) {
    assert.ok(Number.isNaN(empty.features[F[f]]), `${f} of an empty window`);
  }
  assert.equal(noLatency.features[F.request_count], 1);
  assert.equal(noLatency.features[F.error_rate], 0);
  assert.ok(Number.isNaN(noLatency.features[F.latency_p95_ms]) && Number.isNaN(noLatency.features[F.ttft_p95_ms]) && Number.isNaN(noLatency.features[F.cache_hit_rate]));
});

test('the series limit counts live series: one silent for its longest run of empty windows makes room', () => {
  const w = make({ maxSeries: 2, maxGapWindows: 3 });
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  assert.equal(w.add(event(t0, { service: 'a' })), null);
  assert.equal(w.add(event(t0, { service: 'b' })), null);
  assert.equal(w.add(event(t0 + 1000, { service: 'c' })), 'series_limit', 'both are live');
  // b keeps sending; a is silent: three empty windows, then idle.
  for (let m = 1; m <= 5; m++) {
    w.add(event(t0 + m * W, { service: 'b' }));
    w.collect();
  }
  assert.equal(w.add(event(t0 + 5 * W + 1000, { service: 'c' })), null, 'c takes idle a\'s place');
  assert.equal(w.add(event(t0 + 5 * W + 2000, { service: 'a' })), 'series_limit', 'a comes back to a full house');
  assert.equal(w.seriesCount, 2);
});

test('the series limit refuses new series, not events of known ones', () => {
  const w = make({ maxSeries: 1 });
  const t = 1_800_000_000_000;
  assert.equal(w.add(event(t)), null);
  assert.equal(w.add(event(t, { service: 'other' })), 'series_limit');
  assert.equal(w.add(event(t + 1)), null);
});

test('end of input: ended windows close without waiting for the lateness; the window the input ends in is taken out with its share', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  w.add(event(t0 + 1000));
  w.add(event(t0 + 2 * W + 1000, { service: 'b' }));
  w.add(event(t0 + 3 * W + 6_000));
  const name = (c: { seriesKey: string; start: number }) => `${c.seriesKey.split('|')[0]}@${(c.start - t0) / W}`;
  // Watermark t0+3W-4s: chat's t0 closes; b's t0+2W waits for the lateness.
  assert.deepEqual(w.collect().map(name), ['service=chat@0']);
  // At the end of input nothing can be late: b's t0+2W closes; chat's t0+3W has not ended.
  assert.deepEqual(w.closeEnded().map(name), ['service=b@2']);
  const open = w.takeOpen();
  assert.equal(open.length, 1);
  assert.equal(open[0].start, t0 + 3 * W);
  assert.equal(open[0].share, 0.1);
  assert.equal(open[0].acc.count, 1);
  assert.equal(w.openWindowCount, 0);
  assert.equal(w.add(event(t0 + 2 * W + 30_000)), 'late', 'a window closed at the end of input is closed');
  // Closing it emits chat's silence before it first.
  const taken = w.closeTaken(open[0]);
  assert.deepEqual(taken.map(name), ['service=chat@1', 'service=chat@2', 'service=chat@3']);
  assert.equal(taken[2].features[F.request_count], 1);
});

test('a window that began before the intake and was mostly missed is not emitted; one it saw 90 % of is', () => {
  const w = make({ latenessMs: 0 });
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  w.add(event(t0 + 30_000));
  w.add(event(t0 + W + 1000));
  w.add(event(t0 + 3 * W + 5000, { service: 'b' }));
  // chat's first window was seen from its 30th second: left out; its second and the empty third are whole.
  assert.deepEqual(w.collect().map((c) => (c.start - t0) / W), [1, 2]);
  assert.deepEqual(w.startedEarly, { windows: 1, events: 1 });
  const v = make({ latenessMs: 0 });
  v.add(event(t0 + 6000));
  v.add(event(t0 + W + 1000));
  assert.deepEqual(v.collect().map((c) => c.start), [t0], 'covered from its 6th second: 90 %');
  assert.deepEqual(v.startedEarly, { windows: 0, events: 0 });
});

test('an open window restored in a new windower keeps what it held and closes with the watermark', () => {
  const a = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  a.add(event(t0 + 1000));
  a.add(event(t0 + 20_000));
  const saved = a.takeOpen();
  const b = make();
  assert.equal(b.restoreOpen(saved, a.eventTime), 1);
  assert.equal(b.add(event(t0 + 40_000)), null);
  b.add(event(t0 + W + 10_000));
  const [c] = b.collect();
  assert.equal(c.start, t0);
  assert.equal(c.features[F.request_count], 3);
});

test('features: quantiles, rates, shares and security counts of a window', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  for (let i = 1; i <= 100; i++) {
    w.add(event(t0 + i, { latencyMs: i * 10, status: i <= 5 ? 'error' : 'ok', errorType: i <= 5 ? 'timeout' : undefined, apiKeyId: i <= 60 ? 'k1' : `k${i}`, user: `u${i % 7}`, cacheHit: i % 4 === 0, securityEvents: i === 1 ? ['jailbreak', 'prompt_injection'] : undefined }));
  }
  const [c] = closeAll(w);
  assert.equal(c.features[F.request_count], 100);
  assert.ok(Math.abs(c.features[F.latency_p50_ms] - 505) < 1e-9);
  // p99 (990.1 interpolated) rests on the 3 slowest requests at least: the third largest, 980.
  assert.equal(c.features[F.latency_p99_ms], 980);
  assert.equal(c.features[F.error_rate], 0.05);
  assert.equal(c.features[F.distinct_users], 7);
  assert.equal(c.features[F.security_events], 2);
  assert.equal(c.features[F.cache_hit_rate], 0.25);
  assert.ok(Math.abs(c.features[F.top_key_token_share] - 0.6) < 1e-9);
  assert.deepEqual(c.extras.errorsByType, { timeout: 5 });
  assert.equal(c.extras.topKey?.id, 'k1');
});

test('an event without latencyMs counts as a request, not as a 0 ms one in the latency quantiles', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  for (let i = 1; i <= 100; i++) {
    const e = event(t0 + i, { latencyMs: i * 10 });
    if (i % 2 === 0) delete e.latencyMs;
    w.add(e);
  }
  const [c] = closeAll(w);
  assert.equal(c.features[F.request_count], 100);
  // The 50 odd latencies 10, 30, ..., 990: median 500 (with the 50 missing read as 0 it would be 5).
  assert.ok(Math.abs(c.features[F.latency_p50_ms] - 500) < 1e-9, String(c.features[F.latency_p50_ms]));
});
