/**
 * Latency quantiles, token means and the error rate of small windows, estimated over the latest requests
 * of their series.
 *
 * A window of a quiet series holds 2-5 requests: its p50 is one or two of them and its p95 / p99 its
 * slowest, so one long generation or one timeout moved the feature by 10-100x, and each such minute scored
 * as a latency spike. Quantiles need samples. A window with fewer than POOL_MIN latencies of its own is
 * given those of the windows just before it (newest first, whole windows, up to POOL_LOOKBACK windows
 * back) until it has POOL_MIN, and its quantiles are taken over them with the window's own requests, never
 * above the LATENCY_SUPPORT-th largest (features.ts). So a single slow request among them is not a tail,
 * three are; a shift of every request shows once it holds the pool's median (a few windows at 3 requests a
 * minute). A window with enough requests of its own (every window of a busy series) is unchanged, and one
 * without any latency still observes none.
 *
 * The per-request means (input and output tokens per request, output/input ratio) and the error rate had the
 * same problem: one long answer made a 1-request window's mean output 30x the usual, and one failed request
 * among 5 an error rate of 20 %. A window with fewer than POOL_MIN requests takes them over its own requests
 * and those of the windows before it, the same way (until POOL_MIN requests). A mean rests on LATENCY_SUPPORT
 * requests like a quantile: no request counts above the k-th largest of the pooled sample, so one or two
 * long answers among the last 20 are not a blow-up and a shift of every answer is. An error rate rests on
 * ERROR_SUPPORT failed requests, which the scorer applies (it needs the series' usual rate): fewer failures
 * than that among the requests it was taken over never read above the usual rate.
 *
 * Evaluated read-only (Scorer.evaluate, also for POST /detect); the window's samples join its series' pool
 * when it is committed.
 */
import { FEATURE_INDEX, LATENCY_SUPPORT, POOL_MIN, supportedMean, supportedQuantile, supportedRatio, type WindowSamples } from './features';

/**
 * Windows back a small window borrows latency samples from: the pool is the recent past, not the series'
 * usual level (a series with a request every 10 minutes has no latency quantile to speak of).
 */
export const POOL_LOOKBACK = 10;

/**
 * The samples of one window a later, smaller window may borrow (sorted, at most POOL_MIN each); tokens and
 * request / failure counts are absent in state saved before they existed.
 */
export interface PooledSamples extends WindowSamples {
  /** windowsSeen of the series when the window was scored (1-based sequence number). */
  seq: number;
}

/**
 * The window's own sorted samples, with the most recent pooled samples of the windows before it (newest
 * first, whole windows, at most POOL_LOOKBACK windows before `seq`) until POOL_MIN: sorted. The window's own
 * samples alone when it has POOL_MIN, or none (a window without latency observes none).
 */
export function pooledSample(own: Float64Array, pool: readonly PooledSamples[], seq: number, pick: (p: PooledSamples) => Float64Array): Float64Array {
  if (own.length === 0 || own.length >= POOL_MIN) return own;
  const parts: Float64Array[] = [own];
  let n = own.length;
  for (let i = pool.length - 1; i >= 0 && n < POOL_MIN; i--) {
    if (seq - pool[i].seq > POOL_LOOKBACK) break;
    const s = pick(pool[i]);
    if (!s.length) continue;
    parts.push(s);
    n += s.length;
  }
  if (parts.length === 1) return own;
  const out = new Float64Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out.sort();
}

const LATENCY_QUANTILES = [
  [FEATURE_INDEX.latency_p50_ms, 0.5],
  [FEATURE_INDEX.latency_p95_ms, 0.95],
  [FEATURE_INDEX.latency_p99_ms, 0.99],
] as const;

/**
 * The requests and failed requests a window's error rate is taken over: its own when it has POOL_MIN
 * requests, else with those of the windows before it (newest first, whole windows, POOL_LOOKBACK windows
 * back) until POOL_MIN; its own alone when it has no failed request (the windows after an error storm).
 * Null when the window has no request (or its counts are unknown).
 */
export function pooledErrors(own: WindowSamples | undefined, pool: readonly PooledSamples[] | undefined, seq: number): { requests: number; errors: number } | null {
  if (own?.requests === undefined || own.requests === 0) return null;
  let requests = own.requests;
  let errors = own.errors ?? 0;
  if (requests >= POOL_MIN || errors === 0 || !pool) return { requests, errors };
  for (let i = pool.length - 1; i >= 0 && requests < POOL_MIN; i--) {
    const p = pool[i];
    if (seq - p.seq > POOL_LOOKBACK) break;
    if (!p.requests) continue;
    requests += p.requests;
    errors += p.errors ?? 0;
  }
  return { requests, errors };
}

/**
 * The window's features with its latency and TTFT quantiles, its token means and its error rate estimated
 * over its pooled sample (see pooledSample, pooledErrors); the same array when the window has enough
 * requests of its own (or none).
 */
export function withPooledFeatures(features: Float64Array, own: WindowSamples | undefined, pool: readonly PooledSamples[] | undefined, seq: number): Float64Array {
  if (!own || !pool?.length) return features;
  const lat = pooledSample(own.latency, pool, seq, (p) => p.latency);
  const ttft = pooledSample(own.ttft, pool, seq, (p) => p.ttft);
  const small = own.requests !== undefined && own.requests > 0 && own.requests < POOL_MIN;
  const empty = new Float64Array(0);
  const output = small && own.output ? pooledSample(own.output, pool, seq, (p) => p.output ?? empty) : undefined;
  const input = small && own.input ? pooledSample(own.input, pool, seq, (p) => p.input ?? empty) : undefined;
  const ratio = small && own.ratio ? pooledSample(own.ratio, pool, seq, (p) => p.ratio ?? empty) : undefined;
  const errors = small ? pooledErrors(own, pool, seq) : null;
  const tokens = output !== undefined && output !== own.output && input !== undefined;
  // Only a window with a failure of its own borrows (pooledErrors): after a storm, the windows that no
  // longer fail would otherwise read the storm's failures for another POOL_LOOKBACK windows.
  const rate = errors !== null && errors.requests > (own.requests ?? 0);
  if (lat === own.latency && ttft === own.ttft && !tokens && !rate) return features;
  const out = features.slice();
  if (lat !== own.latency) for (const [j, q] of LATENCY_QUANTILES) out[j] = supportedQuantile(lat, q);
  if (ttft !== own.ttft) out[FEATURE_INDEX.ttft_p95_ms] = supportedQuantile(ttft, 0.95);
  if (tokens) {
    const meanOut = supportedMean(output);
    const meanIn = supportedMean(input);
    out[FEATURE_INDEX.output_tokens_mean] = meanOut;
    out[FEATURE_INDEX.input_tokens_mean] = meanIn;
    // As the window's own ratio is (its output sum / its input sum): the ratio of its per-request means,
    // resting on RATIO_SUPPORT requests of the pooled sample like the window's own.
    const means = meanOut / Math.max(1, meanIn);
    out[FEATURE_INDEX.output_input_ratio] = ratio ? supportedRatio(means, ratio) : means;
  }
  if (rate) out[FEATURE_INDEX.error_rate] = errors.errors / errors.requests;
  return out;
}

/** Adds a scored window's samples to its series' pool, keeping what a next window may still borrow. */
export function poolWindow(pool: PooledSamples[], own: WindowSamples | undefined, seq: number): void {
  if (own && (own.latency.length || own.ttft.length || own.requests)) {
    pool.push({
      seq,
      latency: own.latency,
      ttft: own.ttft,
      ...(own.requests !== undefined ? { requests: own.requests, errors: own.errors ?? 0 } : {}),
      ...(own.input ? { input: own.input } : {}),
      ...(own.output ? { output: own.output } : {}),
      ...(own.ratio ? { ratio: own.ratio } : {}),
    });
  }
  // Keep the newest windows while they are within reach and not yet POOL_MIN samples of each kind (and
  // POOL_MIN requests).
  let lat = 0;
  let ttft = 0;
  let requests = 0;
  let keep = 0;
  for (let i = pool.length - 1; i >= 0; i--) {
    if (seq + 1 - pool[i].seq > POOL_LOOKBACK || (lat >= POOL_MIN && ttft >= POOL_MIN && requests >= POOL_MIN)) break;
    lat += pool[i].latency.length;
    ttft += pool[i].ttft.length;
    requests += pool[i].requests ?? POOL_MIN;
    keep++;
  }
  if (keep < pool.length) pool.splice(0, pool.length - keep);
}
