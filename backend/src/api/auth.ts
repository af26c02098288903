import { createHash, timingSafeEqual } from 'node:crypto';
import type { ApiKey } from '../config';
import { ForbiddenError, RateLimitedError, UnauthorizedError } from '../errors';

/** Identity of a caller, for rate limiting. Never the key itself. */
export interface Principal {
  id: string;
  readOnly: boolean;
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * Checks API keys in constant time: every configured key is compared (no early exit), over fixed-length
 * digests, so neither timing nor length reveals which key or how much of it matched.
 */
export class KeyChecker {
  private readonly keys: { digest: Buffer; readOnly: boolean; id: string }[];

  constructor(keys: readonly ApiKey[]) {
    this.keys = keys.map((k, i) => ({ digest: digest(k.key), readOnly: k.readOnly, id: `key${i + 1}` }));
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /**
   * Throws UnauthorizedError / ForbiddenError, each saying what is missing; returns the principal (key index,
   * never the key). `write` names the write being made (`POST /api/v1/events`), false for a read.
   */
  check(presented: string | undefined, write: string | false): Principal {
    if (!presented) throw new UnauthorizedError('missing API key: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"');
    const d = digest(presented);
    let match: (typeof this.keys)[number] | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.digest, d) && !match) match = k;
    if (!match) throw new UnauthorizedError('invalid API key: it is not one of SENTINEL_API_KEYS');
    if (write && match.readOnly) throw new ForbiddenError(`this API key is read-only (":ro"): ${write} needs a key that may write`);
    return { id: match.id, readOnly: match.readOnly };
  }
}

/** Reads the key from `Authorization: Bearer <key>` or `X-API-Key`. */
export function presentedKey(headers: Record<string, string | string[] | undefined>): string | undefined {
  const auth = headers.authorization;
  if (typeof auth === 'string' && auth.toLowerCase().startsWith('bearer ')) return auth.slice(7).trim();
  const x = headers['x-api-key'];
  return typeof x === 'string' ? x : undefined;
}

/**
 * Token bucket per principal: `perSecond` sustained, bursts up to twice that. The bucket map is bounded
 * (idle buckets are forgotten first) so many client addresses cannot grow memory.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly maxBuckets = 10_000,
  ) {}

  take(id: string): void {
    const now = this.now();
    const burst = this.perSecond * 2;
    let b = this.buckets.get(id);
    if (!b) {
      if (this.buckets.size >= this.maxBuckets) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: burst, at: now };
    } else this.buckets.delete(id);
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    this.buckets.set(id, b);
    if (b.tokens < 1) {
      throw new RateLimitedError('rate limit exceeded', Math.ceil(((1 - b.tokens) / this.perSecond) * 1000));
    }
    b.tokens -= 1;
  }
}
