/**
 * A consecutive-failure circuit breaker. Closed: calls pass. After `failureThreshold` failures in a row it
 * opens for `openMs` (doubling on each failed probe, up to `maxOpenMs`); then one probe call is let through
 * (half-open): success closes it, failure opens it again.
 */

/** Options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Failures in a row that open the breaker. @default 5 */
  failureThreshold?: number;
  /** First open period. @default 30000 */
  openMs?: number;
  /** Longest open period after repeated failed probes. @default 300000 */
  maxOpenMs?: number;
  /** @default Date.now */
  now?: () => number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;
  private openPeriod: number;
  private probing = false;
  private readonly threshold: number;
  private readonly baseOpenMs: number;
  private readonly maxOpenMs: number;
  private readonly now: () => number;
  /** The failure that last opened the breaker (the cause of a refusal). */
  lastError: unknown;

  constructor(opts: CircuitBreakerOptions = {}) {
    this.threshold = opts.failureThreshold ?? 5;
    this.baseOpenMs = opts.openMs ?? 30_000;
    this.maxOpenMs = Math.max(this.baseOpenMs, opts.maxOpenMs ?? 300_000);
    this.openPeriod = this.baseOpenMs;
    this.now = opts.now ?? Date.now;
    if (!(this.threshold >= 1)) throw new RangeError('failureThreshold must be at least 1');
  }

  get state(): BreakerState {
    if (this.failures < this.threshold) return 'closed';
    return this.now() < this.openUntil ? 'open' : 'half_open';
  }

  /** Milliseconds until a call may be tried again (0 when one may be tried now). */
  get retryAfterMs(): number {
    const s = this.state;
    if (s === 'closed') return 0;
    if (s === 'open') return this.openUntil - this.now();
    return this.probing ? 1000 : 0;
  }

  /**
   * Whether a call may go now. In half-open state only one caller gets `true` (the probe) until it
   * reports back.
   */
  tryAcquire(): boolean {
    const s = this.state;
    if (s === 'closed') return true;
    if (s === 'open' || this.probing) return false;
    this.probing = true;
    return true;
  }

  /** Whether a call would be refused right now (does not take the probe slot). */
  get refusing(): boolean {
    const s = this.state;
    return s === 'open' || (s === 'half_open' && this.probing);
  }

  success(): void {
    this.failures = 0;
    this.probing = false;
    this.openPeriod = this.baseOpenMs;
    this.lastError = undefined;
  }

  failure(err?: unknown): void {
    const wasProbe = this.probing;
    this.probing = false;
    this.failures++;
    this.lastError = err;
    if (this.failures >= this.threshold) {
      if (wasProbe) this.openPeriod = Math.min(this.maxOpenMs, this.openPeriod * 2);
      this.openUntil = this.now() + this.openPeriod;
    }
  }

  /** A call that was let through ended without a verdict on the endpoint (cancelled): free the probe slot. */
  release(): void {
    this.probing = false;
  }
}
