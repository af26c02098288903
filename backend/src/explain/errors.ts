import { SentinelError } from '../errors';

/**
 * Errors of the LLM explanation path. The OpenAI adapter maps every SDK error onto one of these, so no
 * SDK type leaves it; the HTTP error handler maps `status` (503 for "try later").
 */

/** Base of LLM failures. */
export class LlmError extends SentinelError {
  constructor(message: string, opts: { code?: string; status?: number; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? 'llm_error', status: opts.status ?? 502, cause: opts.cause });
  }
}

/** No LLM is configured: explanations stay evidence-only. */
export class LlmNotConfiguredError extends LlmError {
  constructor() {
    super('no LLM is configured: set SENTINEL_LLM_BASE_URL and/or SENTINEL_LLM_API_KEY, and SENTINEL_LLM_MODEL', {
      code: 'llm_not_configured',
      status: 503,
    });
  }
}

/** The endpoint could not be reached, or answered 5xx / 429. Counts towards the circuit breaker. */
export class LlmUnavailableError extends LlmError {
  /** HTTP status of the endpoint's answer, when there was one. */
  readonly upstreamStatus?: number;
  /** How long the endpoint asked us to wait (429 Retry-After), when it said. */
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { upstreamStatus?: number; retryAfterMs?: number; cause?: unknown } = {}) {
    super(message, { code: 'llm_unavailable', status: 503, cause: opts.cause });
    this.upstreamStatus = opts.upstreamStatus;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The call took longer than the configured timeout. Counts towards the circuit breaker. */
export class LlmTimeoutError extends LlmError {
  readonly timeoutMs: number;
  constructor(timeoutMs: number, cause?: unknown) {
    super(`the LLM did not answer within ${timeoutMs} ms (SENTINEL_LLM_TIMEOUT)`, { code: 'llm_timeout', status: 503, cause });
    this.timeoutMs = timeoutMs;
  }
}

/** The endpoint refused the request (4xx other than 429): bad key, unknown model, unsupported option. */
export class LlmRequestError extends LlmError {
  readonly upstreamStatus: number;
  constructor(message: string, upstreamStatus: number, cause?: unknown) {
    super(message, { code: 'llm_request_rejected', status: 502, cause });
    this.upstreamStatus = upstreamStatus;
  }
}

/** The circuit breaker is open after repeated failures; no call is made until `retryAfterMs` passes. */
export class LlmCircuitOpenError extends LlmError {
  readonly retryAfterMs: number;
  constructor(retryAfterMs: number, lastError?: unknown) {
    super(`the LLM endpoint failed repeatedly; not calling it for another ${Math.ceil(retryAfterMs / 1000)} s`, {
      code: 'llm_unavailable',
      status: 503,
      cause: lastError,
    });
    this.retryAfterMs = retryAfterMs;
  }
}

/** The explanation queue is full; on-demand requests are refused rather than queued without bound. */
export class ExplainQueueFullError extends LlmError {
  readonly retryAfterMs: number;
  constructor(capacity: number, retryAfterMs = 5_000) {
    super(`the explanation queue is full (${capacity} waiting); try again shortly`, { code: 'explain_queue_full', status: 503 });
    this.retryAfterMs = retryAfterMs;
  }
}
