import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ERROR_SUPPORT, FEATURE_INDEX as F, LATENCY_SUPPORT, POOL_MIN, RATIO_SUPPORT, WindowAccumulator, supportedMean, supportedQuantile, thinSorted } from '../../src/windowing/features';
import { event } from '../helpers';
import { POOL_LOOKBACK, poolWindow, pooledErrors, pooledSample, withPooledFeatures, type PooledSamples } from '../../src/windowing/latency-pool';

const sorted = (xs: number[]) => Float64Array.from(xs).sort();

test('a latency quantile rests on LATENCY_SUPPORT requests: none over fewer, never above the k-th largest', () => {
  assert.equal(LATENCY_SUPPORT, 3);
  assert.ok(Number.isNaN(supportedQuantile(sorted([900]), 0.5)), 'one request is no quantile');
  assert.ok(Number.isNaN(supportedQuantile(sorted([900, 60_000]), 0.99)));
  assert.equal(supportedQuantile(sorted([400, 500, 60_000]), 0.99), 400, 'one timeout among 3: p99 is the third largest');
  assert.equal(supportedQuantile(sorted([400, 60_000, 60_000, 60_000]), 0.95), 60_000, 'three timeouts are a tail');
  // A busy window: p50 is untouched, p99 of 100 requests is the third largest at most.
  const busy = sorted(Array.from({ length: 100 }, (_, i) => (i + 1) * 10));
  assert.equal(supportedQuantile(busy, 0.5), 505);
  assert.equal(supportedQuantile(busy, 0.99), 980);
});

test('property: fewer than LATENCY_SUPPORT slow requests, however slow, move no quantile above the fast ones', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 50, max: 5_000 }), { minLength: 1, maxLength: 60 }),
      fc.array(fc.integer({ min: 10_000, max: 600_000 }), { minLength: 0, maxLength: LATENCY_SUPPORT - 1 }),
      fc.constantFrom(0.5, 0.95, 0.99),
      (fast, slow, q) => {
        const v = supportedQuantile(sorted([...fast, ...slow]), q);
        return Number.isNaN(v) || v <= Math.max(...fast);
      },
    ),
  );
});

test('a window keeps all its samples up to POOL_MIN, else POOL_MIN evenly spaced order statistics', () => {
  assert.deepEqual([...thinSorted(sorted([3, 1, 2]))], [1, 2, 3]);
  const big = thinSorted(sorted(Array.from({ length: 1000 }, (_, i) => i)));
  assert.equal(big.length, POOL_MIN);
  assert.equal(big[0], 25);
  assert.equal(big[POOL_MIN - 1], 975);
});

const entry = (seq: number, latency: number[]): PooledSamples => ({ seq, latency: sorted(latency), ttft: new Float64Array(0) });

test('a small window borrows the latest samples of the windows before it, newest first, up to POOL_LOOKBACK windows back', () => {
  const pool = [entry(1, Array(15).fill(100)), entry(5, Array(10).fill(200)), entry(8, [300, 300])];
  // Window 9 with 3 requests: 3 + 2 (window 8) + 10 (window 5) + 15 (window 1) >= POOL_MIN.
  const s = pooledSample(sorted([1000, 1000, 1000]), pool, 9, (p) => p.latency);
  assert.equal(s.length, 30);
  // Window 14: window 1 is more than POOL_LOOKBACK windows back.
  assert.equal(POOL_LOOKBACK, 10);
  assert.equal(pooledSample(sorted([1000, 1000, 1000]), pool, 14, (p) => p.latency).length, 15);
  // A window with POOL_MIN samples of its own, or none, is left as it is.
  const own = sorted(Array(POOL_MIN).fill(5));
  assert.equal(pooledSample(own, pool, 9, (p) => p.latency), own);
  assert.equal(pooledSample(new Float64Array(0), pool, 9, (p) => p.latency).length, 0);
});

test('pooled latency quantiles: one timeout among the last 20 requests is no tail, three are', () => {
  const features = new Float64Array(16).fill(NaN);
  const pool: PooledSamples[] = [];
  for (let seq = 1; seq <= 6; seq++) poolWindow(pool, { latency: sorted([400, 450, 500]), ttft: sorted([100, 110, 120]) }, seq);
  const one = withPooledFeatures(features, { latency: sorted([420, 60_000]), ttft: sorted([100]) }, pool, 7);
  assert.notEqual(one, features);
  assert.equal(one[F.latency_p99_ms], 500);
  assert.equal(one[F.latency_p50_ms], 450);
  assert.equal(one[F.ttft_p95_ms], 120);
  poolWindow(pool, { latency: sorted([420, 60_000]), ttft: sorted([100]) }, 7);
  const three = withPooledFeatures(features, { latency: sorted([60_000, 60_000]), ttft: sorted([100, 100]) }, pool, 8);
  assert.equal(three[F.latency_p99_ms], 60_000);
  // Enough requests of its own: the window's own features, untouched.
  const busy = { latency: sorted(Array(POOL_MIN).fill(700)), ttft: sorted(Array(POOL_MIN).fill(90)) };
  assert.equal(withPooledFeatures(features, busy, pool, 9), features);
});

test('the pool keeps only what a next window may borrow', () => {
  const pool: PooledSamples[] = [];
  for (let seq = 1; seq <= 30; seq++) poolWindow(pool, { latency: sorted([1, 2, 3, 4, 5]), ttft: sorted([1, 2, 3, 4, 5]) }, seq);
  assert.deepEqual(
    pool.map((p) => p.seq),
    [27, 28, 29, 30],
    'POOL_MIN samples of each kind',
  );
  poolWindow(pool, undefined, 45);
  assert.deepEqual(pool, [], 'all of it beyond POOL_LOOKBACK');
});

test('a small window with a failure takes its error rate over the latest requests; one without a failure over its own', () => {
  const features = new Float64Array(16);
  const window = (requests: number, errors: number) => ({ latency: new Float64Array(0), ttft: new Float64Array(0), requests, errors });
  const pool: PooledSamples[] = [];
  for (let seq = 1; seq <= 6; seq++) poolWindow(pool, window(4, seq === 6 ? 1 : 0), seq);
  // Window 7: 1 of its 5 requests failed, 1 failure among the 4 + 4 + 4 + 4 requests before it.
  assert.deepEqual(pooledErrors(window(5, 1), pool, 7), { requests: 21, errors: 2 });
  assert.equal(withPooledFeatures(features, window(5, 1), pool, 7)[F.error_rate], 2 / 21);
  // No failure of its own: its own rate (0), not the failures of the windows before it.
  assert.deepEqual(pooledErrors(window(5, 0), pool, 7), { requests: 5, errors: 0 });
  assert.equal(withPooledFeatures(features, window(5, 0), pool, 7), features);
  // POOL_MIN requests of its own: its own.
  assert.deepEqual(pooledErrors(window(POOL_MIN, 2), pool, 7), { requests: POOL_MIN, errors: 2 });
  assert.equal(ERROR_SUPPORT, 3);
});

test('a mean rests on LATENCY_SUPPORT requests: none over fewer, one or two extreme requests either way do not make it', () => {
  assert.ok(Number.isNaN(supportedMean(sorted([50, 2_000]))), 'two requests are no mean');
  assert.equal(supportedMean(sorted([50, 1_900, 2_100])), 1_900, 'over 3 the median');
  assert.equal(supportedMean(sorted([10, 20, 20, 20, 20, 20, 8_000])), 20, 'one short and one long answer among 7');
  assert.equal(supportedMean(sorted([20, 20, 20, 20, 400, 400, 400])), 1_280 / 7, 'three long answers move it');
  const busy = sorted(Array.from({ length: 100 }, (_, i) => 100 + i));
  assert.equal(supportedMean(busy), busy.reduce((a, b) => a + b, 0) / 100, 'a busy window whose extremes are not alone: its plain mean');
});

test('property: a supported mean lies between the k-th smallest and the k-th largest sample (their median below 2k - 1)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 100_000 }), { minLength: LATENCY_SUPPORT, maxLength: 40 }), (xs) => {
      const s = sorted(xs);
      const n = s.length;
      const m = supportedMean(s);
      const lo = Math.min(s[LATENCY_SUPPORT - 1], s[(n - 1) >> 1]);
      const hi = Math.max(s[n - LATENCY_SUPPORT], s[(n - 1) >> 1]);
      return m >= lo - 1e-9 && m <= hi + 1e-9;
    }),
  );
});

test('a window\'s output/input ratio rests on RATIO_SUPPORT requests, in its own window and pooled', () => {
  assert.equal(RATIO_SUPPORT, 3);
  const window = (reqs: [number, number][]) => {
    const acc = new WindowAccumulator();
    for (const [input, output] of reqs) acc.add(event(0, { inputTokens: input, outputTokens: output }));
    return { f: acc.features(), samples: acc.extras().samples! };
  };
  // One short prompt with a long answer among long prompts: the sums say 0.05 (10x the usual 0.01), the
  // third largest request ratio 0.01.
  const one = window([[50, 2_000], ...Array.from({ length: 9 }, (): [number, number] => [2_000, 20])]);
  assert.ok(Math.abs(one.f[F.output_input_ratio] - 0.01) < 1e-12, String(one.f[F.output_input_ratio]));
  assert.ok(Number.isNaN(window([[50, 100], [2_000, 20]]).f[F.output_input_ratio]), 'two requests are no ratio');
  const three = window([[2_000, 2_000], [2_000, 2_000], [2_000, 2_000], [2_000, 20]]);
  assert.ok(Math.abs(three.f[F.output_input_ratio] - 6_020 / 8_000) < 1e-12, 'three long answers are the window\'s ratio');
  // Pooled: the short prompt's window (1 request) with two ordinary windows before it reads the usual ratio.
  const pool: PooledSamples[] = [
    { seq: 1, ...window([[2_000, 20]]).samples },
    { seq: 2, ...window([[1_900, 20]]).samples },
  ];
  const small = window([[50, 100]]);
  const pooled = withPooledFeatures(small.f, small.samples, pool, 3);
  assert.ok(pooled[F.output_input_ratio] <= 20 / 1_900 + 1e-12, String(pooled[F.output_input_ratio]));
});
