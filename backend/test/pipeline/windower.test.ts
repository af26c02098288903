import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Windower } from '../../src/windowing/windower';
import { FEATURE_INDEX as F } from '../../src/windowing/features';
import { event } from '../helpers';

const W = 60_000;
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

test('the series limit refuses new series, not events of known ones', () => {
  const w = make({ maxSeries: 1 });
  const t = 1_800_000_000_000;
  assert.equal(w.add(event(t)), null);
  assert.equal(w.add(event(t, { service: 'other' })), 'series_limit');
  assert.equal(w.add(event(t + 1)), null);
});

test('drain closes every open window (graceful shutdown) without inventing future ones', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  w.add(event(t0));
  w.add(event(t0 + W, { service: 'b' }));
  assert.equal(w.openWindowCount, 2);
  const d = w.drain();
  assert.equal(d.length, 2);
  assert.equal(w.openWindowCount, 0);
});

test('features: quantiles, rates, shares and security counts of a window', () => {
  const w = make();
  const t0 = 1_800_000_000_000 - (1_800_000_000_000 % W);
  for (let i = 1; i <= 100; i++) {
    w.add(event(t0 + i, { latencyMs: i * 10, status: i <= 5 ? 'error' : 'ok', errorType: i <= 5 ? 'timeout' : undefined, apiKeyId: i <= 60 ? 'k1' : `k${i}`, user: `u${i % 7}`, cacheHit: i % 4 === 0, securityEvents: i === 1 ? ['jailbreak', 'prompt_injection'] : undefined }));
  }
  const [c] = w.drain();
  assert.equal(c.features[F.request_count], 100);
  assert.ok(Math.abs(c.features[F.latency_p50_ms] - 505) < 1e-9);
  assert.ok(Math.abs(c.features[F.latency_p99_ms] - 990.1) < 1e-9);
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
  const [c] = w.drain();
  assert.equal(c.features[F.request_count], 100);
  // The 50 odd latencies 10, 30, ..., 990: median 500 (with the 50 missing read as 0 it would be 5).
  assert.ok(Math.abs(c.features[F.latency_p50_ms] - 500) < 1e-9, String(c.features[F.latency_p50_ms]));
});
