import type { KeyUse } from '../windowing/features';

/**
 * What an event series remembers of its principals (apiKeyId, else user): for each of its most active keys,
 * how much of the series' tokens it usually uses. The `token_abuse` rule on the heaviest key of a window
 * (llm-rules.ts) cannot see one ordinary key spending 5x its own usual: at 2 % of the requests it then holds
 * ~10 % of the window's tokens while the heaviest key usually holds 12-20 %. Judged against its own share, it
 * stands out (docs/DETECTION.md, "Token abuse by a key against its own usual").
 *
 * Per key: exponentially weighted sums (weight KEY_ALPHA per window) of its tokens and requests over the
 * series' windows with traffic since the key was first seen, a window without its requests counting as 0;
 * windows without any traffic count for nobody (a quiet night is not every key going quiet). The series
 * keeps the same sum of its window totals, so a key's usual share is its tokens over the series' tokens of
 * the same windows with the same weights (a ratio of sums: a quiet minute's 100 % for a lone key does not
 * dominate it). Sums are decayed lazily (a key costs nothing in windows it is absent from).
 *
 * Bounded: at most MAX_KEYS keys (~100 bytes each), the least used (by weighted tokens) dropped first, so a
 * flood of new keys with a request each cannot push out the established ones. Plain objects and a Map, so
 * the series state saves it as it is (state-store.ts); a state saved before it existed has none and starts
 * one (each key then needs MIN_WINDOWS windows of history again before it is judged).
 */
export interface KeyUsage {
  /** Windows with traffic learnt. */
  seq: number;
  /** Weighted sum of the series' tokens per window (with weight KEY_ALPHA, not normalised). */
  total: number;
  keys: Map<string, KeyMemory>;
}

/** One key's memory (see {@link KeyUsage}). */
export interface KeyMemory {
  kind: 'apiKeyId' | 'user';
  /** Weighted sums of its tokens and requests per window, as of window `last`. */
  tokens: number;
  requests: number;
  last: number;
  /** The window it was first seen in, and the series' weighted total just before it. */
  first: number;
  totalBefore: number;
  /** Windows it made requests in. */
  active: number;
}

/** Weight of the newest window in the sums: a memory of ~30 windows (half-life ~20). */
export const KEY_ALPHA = 1 / 30;
/** Keys remembered per series. */
export const MAX_KEYS = 128;
/** A key is judged once it has been known for this many windows with traffic... */
export const MIN_WINDOWS = 30;
/** ...and made requests in this many of them: a new key's first use is no evidence of anything. */
export const MIN_ACTIVE = 10;
/**
 * Bound of a key's tokens in a window: KEY_RATIO times what its usual share of the rest of the window's
 * tokens predicts, plus KEY_SIGMAS spreads of a compound-Poisson count (variance ~ 2 x expected x its
 * tokens per request: a key's requests arrive in bursts of very unequal size).
 */
export const KEY_RATIO = 2;
export const KEY_SIGMAS = 6;
/**
 * A key must be expected to use at least this many tokens in the window to be judged against its own use:
 * a tiny key (a request every few minutes) has no usual level to be 5x of, and one burst of its requests
 * would page (measured: 7 windows on 8 clean full-rate replays of the code trace without it). The top-key
 * rule still sees a tiny key that takes over the series. A tenth of the rule's absolute minimum
 * (llm-rules.ts).
 */
export const MIN_EXPECTED = 2_000;

/** A fresh memory. */
export function newKeyUsage(): KeyUsage {
  return { seq: 0, total: 0, keys: new Map() };
}

/** A key's use of a window against its own usual. */
export interface KeyVerdict {
  use: KeyUse;
  /** Tokens its usual share of the rest of the window's traffic predicts. */
  expected: number;
  /** Its usual share of the series' tokens. */
  share: number;
  /** Most tokens it may use before the rule speaks: KEY_RATIO x expected + KEY_SIGMAS spreads. */
  bound: number;
}

const decay = (windows: number) => Math.pow(1 - KEY_ALPHA, windows);

/** Judges `use` of a window whose tokens were `windowTokens` (null: the key has too little history). */
export function judgeKey(memory: KeyUsage, use: KeyUse, windowTokens: number): KeyVerdict | null {
  const m = memory.keys.get(use.id);
  if (!m || m.active < MIN_ACTIVE) return null;
  const n = memory.seq - m.first + 1;
  if (n < MIN_WINDOWS) return null;
  const f = decay(memory.seq - m.last);
  const tokens = m.tokens * f;
  // The series' weighted tokens over the same windows as the key's (those since it was first seen).
  const total = memory.total - decay(n) * m.totalBefore;
  if (!(total > 0) || !(tokens > 0)) return null;
  const share = Math.min(tokens / total, 0.9);
  const others = Math.max(0, windowTokens - use.tokens);
  const expected = (share * others) / (1 - share);
  if (expected < MIN_EXPECTED) return null;
  const perRequest = m.requests > 0 ? tokens / (m.requests * f) : tokens;
  const bound = KEY_RATIO * expected + KEY_SIGMAS * Math.sqrt(2 * expected * perRequest);
  return { use, expected, share, bound };
}

/**
 * Learns a window with traffic: its total and every key's use. A key past its bound (and past `minimum`)
 * learns only its bound, so an abuse going on does not teach itself at once, yet a lasting change of a
 * key's use becomes its usual (at 5x, within ~20-30 windows).
 */
export function learnKeys(memory: KeyUsage, keys: readonly KeyUse[], windowTokens: number, minimum: number): void {
  const learnt = keys.map((use) => {
    const v = judgeKey(memory, use, windowTokens);
    return v && use.tokens > v.bound && use.tokens > minimum ? v.bound : use.tokens;
  });
  const before = memory.total;
  memory.seq++;
  memory.total = (1 - KEY_ALPHA) * memory.total + KEY_ALPHA * windowTokens;
  for (let i = 0; i < keys.length; i++) {
    const use = keys[i];
    let m = memory.keys.get(use.id);
    if (!m) {
      m = { kind: use.kind, tokens: 0, requests: 0, last: memory.seq, first: memory.seq, totalBefore: before, active: 0 };
      memory.keys.set(use.id, m);
    }
    const f = decay(memory.seq - m.last);
    m.tokens = m.tokens * f + KEY_ALPHA * learnt[i];
    m.requests = m.requests * f + KEY_ALPHA * use.requests;
    m.last = memory.seq;
    m.active++;
  }
  if (memory.keys.size > MAX_KEYS) evict(memory);
}

/** Drops the least used keys (weighted tokens as of now) down to MAX_KEYS. */
function evict(memory: KeyUsage): void {
  const ranked = [...memory.keys].map(([id, m]) => ({ id, weight: m.tokens * decay(memory.seq - m.last) }));
  ranked.sort((a, b) => b.weight - a.weight || (a.id < b.id ? -1 : 1));
  for (let i = MAX_KEYS; i < ranked.length; i++) memory.keys.delete(ranked[i].id);
}
