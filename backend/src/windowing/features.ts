import type { LlmEvent, SecurityEvent } from '../domain/types';

/**
 * Features of an event window, in vector order. Each has a floor on its robust scale, so a feature that
 * is constant in normal traffic (0 errors, 0 security events) does not turn one occurrence into an
 * infinite z-score: the floor says how large a change is worth noticing at all.
 */
export const EVENT_FEATURES = [
  { name: 'request_count', minScale: 2 },
  { name: 'input_tokens_sum', minScale: 200 },
  { name: 'output_tokens_sum', minScale: 100 },
  { name: 'input_tokens_mean', minScale: 20 },
  { name: 'output_tokens_mean', minScale: 10 },
  { name: 'output_input_ratio', minScale: 0.05 },
  { name: 'latency_p50_ms', minScale: 20 },
  { name: 'latency_p95_ms', minScale: 40 },
  { name: 'latency_p99_ms', minScale: 60 },
  { name: 'ttft_p95_ms', minScale: 20 },
  { name: 'error_rate', minScale: 0.02 },
  { name: 'cost_usd', minScale: 0.01 },
  { name: 'distinct_users', minScale: 1 },
  { name: 'security_events', minScale: 0.5 },
  { name: 'cache_hit_rate', minScale: 0.05 },
  { name: 'top_key_token_share', minScale: 0.05 },
] as const;

export type EventFeatureName = (typeof EVENT_FEATURES)[number]['name'];
export const EVENT_FEATURE_NAMES: readonly string[] = EVENT_FEATURES.map((f) => f.name);
export const EVENT_FEATURE_MIN_SCALE = Float64Array.from(EVENT_FEATURES.map((f) => f.minScale));
export const FEATURE_INDEX: Readonly<Record<EventFeatureName, number>> = Object.freeze(
  Object.fromEntries(EVENT_FEATURES.map((f, i) => [f.name, i])) as Record<EventFeatureName, number>,
);

/**
 * Features a window without requests cannot observe: a mean, a rate or a quantile of nothing. They are NaN
 * in such a window (as are the latency quantiles of a window whose requests reported no latency, TTFT
 * without TTFT, and the cache hit rate without cacheHit): the scorer reads a NaN feature as its expected
 * value, so a quiet minute is a drop in traffic, not "latency down to 0 ms", and does not drag the latency
 * baseline of a sparse series towards 0. Counts, sums and cost of an empty window are real zeros.
 */
export const PER_REQUEST_FEATURES: readonly number[] = (
  ['input_tokens_mean', 'output_tokens_mean', 'output_input_ratio', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'ttft_p95_ms', 'error_rate', 'cache_hit_rate', 'top_key_token_share'] as const
).map((name) => FEATURE_INDEX[name]);

/**
 * Per-request magnitudes (token means, latency and TTFT quantiles) whose robust scale is at least
 * RELATIVE_FLOOR of their usual level. A quiet series' windows take these over pooled samples
 * (windowing/latency-pool.ts), so consecutive windows share most of their 20 requests and read nearly the
 * same value: the MAD of a baseline of them collapsed to the feature's fixed floor (20 ms on a 500 ms p50),
 * the next pool scored |z| 5 for no reason, and those scores set robust z's threshold at 16-18 for as long
 * as they stayed in its reservoir, which hid a 3x latency shift (backend/test/pipeline/small-windows.test.ts).
 */
export const RELATIVE_SCALE_FEATURES: readonly number[] = (
  ['input_tokens_mean', 'output_tokens_mean', 'latency_p50_ms', 'latency_p95_ms', 'latency_p99_ms', 'ttft_p95_ms'] as const
).map((name) => FEATURE_INDEX[name]);
/** A tenth of the usual level: a change smaller than that in latency or tokens per request is not news. */
export const RELATIVE_FLOOR = 0.1;

/** Bounds on per-window maps so a hostile label set cannot grow memory without limit. */
const MAX_USERS = 4096;
const MAX_KEYS = 4096;
const MAX_TYPES = 32;
/** Latency samples kept per window; beyond this, reservoir sampling keeps quantiles unbiased. */
const MAX_SAMPLES = 4096;
/**
 * Requests a latency quantile must rest on: no quantile is reported above the k-th largest latency it is
 * taken over, and none at all over fewer than k latencies. A quantile past its band therefore needs at
 * least k requests past it. Before, one 60 s timeout among 3 requests of a quiet minute made p95 and p99
 * (and the p50 of 1-2 requests) 60 s, and the series paged a latency incident for one slow request.
 * Measured with 1-minute windows (docs/DETECTION.md, "Latency of small windows"): with the pool below, k = 3
 * left no such page on 16 replays at ~3 requests a minute (12 before); k = 2 still paged for a timeout
 * next to one long generation.
 */
export const LATENCY_SUPPORT = 3;
/**
 * Fewest requests a latency quantile is estimated over: a window with fewer latency samples borrows the
 * latest samples of the windows before it (windowing/latency-pool.ts). Also the most samples a window keeps
 * for later windows to borrow. With k = 3 it makes p95 and p99 the third largest of the last ~20 requests
 * on a quiet series, so a sustained tail (20 % timeouts) still shows once 3 of them are among those.
 */
export const POOL_MIN = 20;
/**
 * Failed requests an error rate must rest on before it reads above the series' usual rate: one or two
 * failures are no error storm, however few requests they failed among. Before, one failed request among
 * the 3-8 of a quiet minute (a 12-33 % "rate") paged an error incident (docs/DETECTION.md, "Small windows").
 */
export const ERROR_SUPPORT = 3;
/**
 * Requests a cache hit rate must differ from the series' usual rate by before it reads as a change: the
 * rate of a 1-request window is 0 or 1 whatever the cache does. Before, a key that hits the cache 9 times in
 * 10 paged a cache incident for each miss of a window holding one request (docs/DETECTION.md, section 1).
 */
export const CACHE_SUPPORT = 3;
/**
 * Requests the heaviest key of a window must have made for its share of the tokens to read above the
 * series' usual share: on a quiet series one long prompt (30,000 tokens among ten ordinary requests) made
 * its key hold 80 % of a window, and the series paged token abuse for one request.
 */
export const KEY_SUPPORT = 3;
/**
 * Requests whose own output/input ratio must be above a level for the window's ratio to read above it: the
 * window's ratio is never more than the RATIO_SUPPORT-th largest ratio of its requests, and not observed
 * over fewer requests. One short prompt with a long answer (50 tokens in, 100 out) made a 1-request window
 * of a key whose prompts are usually 2,000 tokens read 100x its usual ratio, and per-key series paged an
 * output blow-up for it (28 of 69 false records in bench:series-key); a window where three requests answer
 * long still reads as it is.
 */
export const RATIO_SUPPORT = 3;

/** Facts of a window that are not features but serve rules and explanations. */
export interface WindowExtras {
  errorsByType: Record<string, number>;
  securityByType: Record<string, number>;
  /** The principal (apiKeyId, else user) with the most tokens in this window. */
  topKey?: { id: string; kind: 'apiKeyId' | 'user'; tokens: number; requests: number };
  /**
   * Tokens and requests of every principal (apiKeyId, else user) that made a request in this window (up to
   * 4096 of them): what each key's own usual use is learnt from (detectors/key-usage.ts). Absent in windows
   * made before it existed.
   */
  keys?: KeyUse[];
  /** The principal with the most security events in this window (none without one). */
  topSecurityKey?: { id: string; kind: 'apiKeyId' | 'user'; events: number };
  requestCount: number;
  /** Failed requests of the window (absent in windows made before it existed: read from the error rate). */
  errors?: number;
  /**
   * What the window's error rate was taken over, when it borrowed from the windows before it (a window with
   * fewer than POOL_MIN requests; see windowing/latency-pool.ts): requests and failed requests.
   */
  errorSupport?: { requests: number; errors: number };
  /**
   * The window's latency, TTFT and per-request input / output token samples, sorted: all of them up to
   * POOL_MIN, else POOL_MIN evenly spaced order statistics; and its request and failure counts (see
   * windowing/latency-pool.ts).
   */
  samples?: WindowSamples;
}

/** One principal's use of a window. */
export interface KeyUse {
  id: string;
  kind: 'apiKeyId' | 'user';
  tokens: number;
  requests: number;
}

/** What later, smaller windows of a series may borrow from a window (windowing/latency-pool.ts). */
export interface WindowSamples {
  latency: Float64Array;
  ttft: Float64Array;
  /** Input / output tokens per request (absent in windows made before they existed). */
  input?: Float64Array;
  output?: Float64Array;
  /** Output/input ratio per request, sorted (absent in windows made before it existed). */
  ratio?: Float64Array;
  requests?: number;
  errors?: number;
  /** Requests that reported cacheHit, and the hits among them (absent in windows made before they existed). */
  cacheKnown?: number;
  cacheHits?: number;
}

/**
 * Accumulates the events of one window of one series. Memory is bounded whatever arrives (see the
 * MAX_* constants); the features are computed once when the window closes.
 */
export class WindowAccumulator {
  count = 0;
  inputTokens = 0;
  outputTokens = 0;
  errors = 0;
  cost = 0;
  cacheHits = 0;
  cacheKnown = 0;
  security = 0;
  // Sized for a typical window: growing by doubling was a visible share of ingest.
  private latencies: Float64Array = new Float64Array(128);
  private latencyN = 0;
  private latencySeen = 0;
  private ttfts: Float64Array = new Float64Array(128);
  private ttftN = 0;
  private ttftSeen = 0;
  private inputs: Float64Array = new Float64Array(128);
  private outputs: Float64Array = new Float64Array(128);
  private tokenN = 0;
  /** The sampled requests' tokens and ratios, sorted (sortedTokens); dropped when a request is added. */
  private sorted: SortedTokens | undefined;
  /** Separate from `rng` so that token sampling leaves latency sampling as it was. */
  private tokenRng = 0x85ebca6b;
  private users = new Set<string>();
  private keyTokens = new Map<string, { tokens: number; requests: number; security: number; kind: 'apiKeyId' | 'user' }>();
  private errorsByType = new Map<string, number>();
  private securityByType = new Map<string, number>();
  /** Deterministic reservoir sampling (replays must give identical results). */
  private rng = 0x9e3779b9;

  add(e: LlmEvent): void {
    this.count++;
    this.inputTokens += e.inputTokens;
    this.outputTokens += e.outputTokens;
    this.cost += e.costUsd;
    this.addTokens(e.inputTokens, e.outputTokens);
    if (e.latencyMs !== undefined) this.addLatency(e.latencyMs);
    if (e.ttftMs !== undefined) this.addTtft(e.ttftMs);
    if (e.status === 'error') {
      this.errors++;
      bump(this.errorsByType, e.errorType ?? 'unknown', MAX_TYPES);
    }
    if (e.cacheHit !== undefined) {
      this.cacheKnown++;
      if (e.cacheHit) this.cacheHits++;
    }
    if (e.securityEvents) {
      for (const s of e.securityEvents) {
        this.security++;
        bump(this.securityByType, s, MAX_TYPES);
      }
    }
    if (e.user !== undefined && this.users.size < MAX_USERS) this.users.add(e.user);
    const principal = e.apiKeyId ?? e.user;
    if (principal !== undefined) {
      const kind = e.apiKeyId !== undefined ? 'apiKeyId' : 'user';
      const slot = this.keyTokens.get(principal);
      const security = e.securityEvents?.length ?? 0;
      if (slot) {
        slot.tokens += e.inputTokens + e.outputTokens;
        slot.requests++;
        slot.security += security;
      } else if (this.keyTokens.size < MAX_KEYS) {
        this.keyTokens.set(principal, { tokens: e.inputTokens + e.outputTokens, requests: 1, security, kind });
      }
    }
  }

  /** A guard's verdict: a security event of its principal, not a request. */
  addSecurity(e: SecurityEvent): void {
    this.security++;
    bump(this.securityByType, e.type, MAX_TYPES);
    if (e.user !== undefined && this.users.size < MAX_USERS) this.users.add(e.user);
    const principal = e.apiKeyId ?? e.user;
    if (principal === undefined) return;
    const slot = this.keyTokens.get(principal);
    if (slot) slot.security++;
    else if (this.keyTokens.size < MAX_KEYS) {
      this.keyTokens.set(principal, { tokens: 0, requests: 0, security: 1, kind: e.apiKeyId !== undefined ? 'apiKeyId' : 'user' });
    }
  }

  private nextRandom(): number {
    // xorshift32: tiny, fast, seeded.
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 4294967296;
  }

  private addLatency(v: number): void {
    this.latencySeen++;
    if (this.latencyN < MAX_SAMPLES) {
      if (this.latencyN === this.latencies.length) this.latencies = grow(this.latencies);
      this.latencies[this.latencyN++] = v;
    } else {
      const j = Math.floor(this.nextRandom() * this.latencySeen);
      if (j < MAX_SAMPLES) this.latencies[j] = v;
    }
  }

  /** Tokens of one request (input and output kept as a pair, so both reservoirs drop the same requests). */
  private addTokens(input: number, output: number): void {
    this.sorted = undefined;
    let j = this.tokenN;
    if (this.tokenN < MAX_SAMPLES) {
      if (this.tokenN === this.inputs.length) {
        this.inputs = grow(this.inputs);
        this.outputs = grow(this.outputs);
      }
      this.tokenN++;
    } else {
      let x = this.tokenRng;
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.tokenRng = x >>> 0;
      j = Math.floor((this.tokenRng / 4294967296) * this.count);
      if (j >= MAX_SAMPLES) return;
    }
    this.inputs[j] = input;
    this.outputs[j] = output;
  }

  private addTtft(v: number): void {
    this.ttftSeen++;
    if (this.ttftN < MAX_SAMPLES) {
      if (this.ttftN === this.ttfts.length) this.ttfts = grow(this.ttfts);
      this.ttfts[this.ttftN++] = v;
    } else {
      const j = Math.floor(this.nextRandom() * this.ttftSeen);
      if (j < MAX_SAMPLES) this.ttfts[j] = v;
    }
  }

  /** Input and output tokens and output/input ratio of the window's (sampled) requests, each sorted: once for its features and its samples. */
  private sortedTokens(): SortedTokens {
    if (this.sorted) return this.sorted;
    const n = this.tokenN;
    const ratio = new Float64Array(n);
    for (let i = 0; i < n; i++) ratio[i] = requestRatio(this.inputs[i], this.outputs[i]);
    this.sorted = { input: this.inputs.slice(0, n).sort(), output: this.outputs.slice(0, n).sort(), ratio: ratio.sort() };
    return this.sorted;
  }

  /** Feature vector in EVENT_FEATURES order; NaN where the window could not observe a feature (PER_REQUEST_FEATURES). */
  features(): Float64Array {
    const f = new Float64Array(EVENT_FEATURES.length);
    const n = this.count;
    if (n === 0) {
      for (const j of PER_REQUEST_FEATURES) f[j] = NaN;
      return f;
    }
    const lat = this.latencies.subarray(0, this.latencyN).sort();
    const ttft = this.ttfts.subarray(0, this.ttftN).sort();
    const top = this.topKey();
    const totalTokens = this.inputTokens + this.outputTokens;
    f[FEATURE_INDEX.request_count] = n;
    f[FEATURE_INDEX.input_tokens_sum] = this.inputTokens;
    f[FEATURE_INDEX.output_tokens_sum] = this.outputTokens;
    // A small window's means rest on LATENCY_SUPPORT requests (supportedMean), as when it borrows from the
    // windows before it (latency-pool.ts); a window with nothing to borrow read one long answer as its mean.
    const small = n < POOL_MIN;
    const tokens = this.sortedTokens();
    f[FEATURE_INDEX.input_tokens_mean] = small ? supportedMean(tokens.input) : this.inputTokens / n;
    f[FEATURE_INDEX.output_tokens_mean] = small ? supportedMean(tokens.output) : this.outputTokens / n;
    f[FEATURE_INDEX.output_input_ratio] = supportedRatio(this.outputTokens / Math.max(1, this.inputTokens), tokens.ratio);
    f[FEATURE_INDEX.latency_p50_ms] = supportedQuantile(lat, 0.5);
    f[FEATURE_INDEX.latency_p95_ms] = supportedQuantile(lat, 0.95);
    f[FEATURE_INDEX.latency_p99_ms] = supportedQuantile(lat, 0.99);
    f[FEATURE_INDEX.ttft_p95_ms] = supportedQuantile(ttft, 0.95);
    f[FEATURE_INDEX.error_rate] = this.errors / n;
    f[FEATURE_INDEX.cost_usd] = this.cost;
    f[FEATURE_INDEX.distinct_users] = this.users.size;
    f[FEATURE_INDEX.security_events] = this.security;
    f[FEATURE_INDEX.cache_hit_rate] = this.cacheKnown ? this.cacheHits / this.cacheKnown : NaN;
    f[FEATURE_INDEX.top_key_token_share] = top && totalTokens > 0 ? top.tokens / totalTokens : 0;
    return f;
  }

  private topKey(): WindowExtras['topKey'] {
    let best: WindowExtras['topKey'];
    for (const [id, v] of this.keyTokens) {
      if (!best || v.tokens > best.tokens || (v.tokens === best.tokens && id < best.id)) {
        best = { id, kind: v.kind, tokens: v.tokens, requests: v.requests };
      }
    }
    return best;
  }

  private topSecurityKey(): WindowExtras['topSecurityKey'] {
    let best: WindowExtras['topSecurityKey'];
    for (const [id, v] of this.keyTokens) {
      if (v.security > 0 && (!best || v.security > best.events || (v.security === best.events && id < best.id))) {
        best = { id, kind: v.kind, events: v.security };
      }
    }
    return best;
  }

  extras(): WindowExtras {
    const top = this.topSecurityKey();
    const tokens = this.sortedTokens();
    const keys: KeyUse[] = [];
    for (const [id, v] of this.keyTokens) if (v.requests > 0) keys.push({ id, kind: v.kind, tokens: v.tokens, requests: v.requests });
    return {
      errorsByType: Object.fromEntries(this.errorsByType),
      securityByType: Object.fromEntries(this.securityByType),
      topKey: this.topKey(),
      keys,
      ...(top ? { topSecurityKey: top } : {}),
      requestCount: this.count,
      errors: this.errors,
      samples: {
        latency: thinSorted(this.latencies.subarray(0, this.latencyN).sort()),
        ttft: thinSorted(this.ttfts.subarray(0, this.ttftN).sort()),
        input: thinSorted(tokens.input),
        output: thinSorted(tokens.output),
        ratio: thinSorted(tokens.ratio),
        requests: this.count,
        errors: this.errors,
        cacheKnown: this.cacheKnown,
        cacheHits: this.cacheHits,
      },
    };
  }
}

/** One request's output tokens over its input tokens (at least 1), as the window's ratio is over its sums. */
export function requestRatio(input: number, output: number): number {
  return output / Math.max(1, input);
}

/**
 * A window's output/input ratio (of its sums, or of its per-request means), but not above the
 * RATIO_SUPPORT-th largest of its requests' sorted ratios; NaN over fewer than RATIO_SUPPORT requests.
 */
export function supportedRatio(ratio: number, sortedRatios: Float64Array): number {
  const n = sortedRatios.length;
  return n < RATIO_SUPPORT ? NaN : Math.min(ratio, sortedRatios[n - RATIO_SUPPORT]);
}

interface SortedTokens {
  input: Float64Array;
  output: Float64Array;
  ratio: Float64Array;
}

function bump(map: Map<string, number>, key: string, cap: number): void {
  const v = map.get(key);
  if (v !== undefined) map.set(key, v + 1);
  else if (map.size < cap) map.set(key, 1);
  else map.set('other', (map.get('other') ?? 0) + 1);
}

function grow(a: Float64Array): Float64Array {
  const b = new Float64Array(Math.min(a.length * 2, MAX_SAMPLES));
  b.set(a);
  return b;
}

/**
 * Mean of sorted samples with each sample counted at most as the k-th largest and at least as the k-th
 * smallest (LATENCY_SUPPORT): one or two extreme requests, long or short, do not make the mean. Over fewer
 * than 2k - 1 samples the two bounds meet at the median. NaN for fewer than k samples: no mean rests on k
 * requests (one 50-token prompt with one ordinary one read as a mean prompt of 50 tokens, a drop of z -10).
 */
export function supportedMean(sorted: Float64Array, k = LATENCY_SUPPORT): number {
  const n = sorted.length;
  if (n < Math.max(1, k)) return NaN;
  const mid = (n - 1) >> 1;
  const lo = sorted[Math.min(k - 1, mid)];
  const hi = sorted[Math.max(n - k, mid)];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += Math.min(Math.max(sorted[i], lo), hi);
  return sum / n;
}

/**
 * Quantile q of sorted samples, but not above their k-th largest (LATENCY_SUPPORT); NaN for fewer than k
 * samples: no value rests on k requests.
 */
export function supportedQuantile(sorted: ArrayLike<number>, q: number, k = LATENCY_SUPPORT): number {
  const n = sorted.length;
  if (n < Math.max(1, k)) return NaN;
  const v = quantileSorted(sorted, q);
  return k > 1 ? Math.min(v, sorted[n - k]) : v;
}

/** Sorted samples thinned to at most `max`: all of them, else `max` evenly spaced order statistics. */
export function thinSorted(sorted: Float64Array, max = POOL_MIN): Float64Array {
  const n = sorted.length;
  if (n <= max) return sorted.slice();
  const out = new Float64Array(max);
  for (let i = 0; i < max; i++) out[i] = sorted[Math.floor(((i + 0.5) * n) / max)];
  return out;
}

/** Linear-interpolated quantile of sorted values (type 7, as numpy and Prometheus do). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  const pos = (n - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
