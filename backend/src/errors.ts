/**
 * Error types of the backend. Every error the service raises on purpose is a SentinelError subclass
 * carrying the data a caller needs (field, status, retryAfterMs); the HTTP error handler maps them to
 * statuses in one place. Original errors are kept as `cause`.
 */

/** Base class: `code` is stable and machine-readable, `status` the HTTP status it maps to. */
export class SentinelError extends Error {
  readonly code: string;
  readonly status: number;
  constructor(message: string, opts: { code: string; status: number; cause?: unknown }) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = opts.code;
    this.status = opts.status;
  }
}

/** Bad input: `field` names the offending field (dotted path), `index` the record in a batch. */
export class ValidationError extends SentinelError {
  readonly field?: string;
  readonly index?: number;
  readonly details?: unknown;
  /** `status` / `code`: a request that is refused by field but is not a 400 (413 body too large, 415). */
  constructor(message: string, opts: { field?: string; index?: number; details?: unknown; cause?: unknown; status?: 400 | 413 | 415; code?: string } = {}) {
    super(message, { code: opts.code ?? 'invalid_request', status: opts.status ?? 400, cause: opts.cause });
    this.field = opts.field;
    this.index = opts.index;
    this.details = opts.details;
  }
}

export class NotFoundError extends SentinelError {
  constructor(message: string) {
    super(message, { code: 'not_found', status: 404 });
  }
}

export class UnauthorizedError extends SentinelError {
  constructor(message = 'missing or invalid API key') {
    super(message, { code: 'unauthorized', status: 401 });
  }
}

export class ForbiddenError extends SentinelError {
  constructor(message = 'this API key is read-only') {
    super(message, { code: 'forbidden', status: 403 });
  }
}

export class RateLimitedError extends SentinelError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, cause?: unknown) {
    super(message, { code: 'rate_limited', status: 429, cause });
    this.retryAfterMs = retryAfterMs;
  }
}

/**
 * The service cannot take the request now, but will soon: it is shutting down (`shutting_down`), or its
 * scoring has fallen behind (`scoring_backlog`). A 503 with `Retry-After`.
 */
export class UnavailableError extends SentinelError {
  readonly retryAfterMs: number;
  constructor(message: string, opts: { code: string; retryAfterMs: number }) {
    super(message, { code: opts.code, status: 503 });
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** Configuration that cannot be used; stops the start with the variable named. */
export class ConfigError extends SentinelError {
  readonly variable: string;
  constructor(variable: string, message: string) {
    super(`${variable}: ${message}`, { code: 'config', status: 500 });
    this.variable = variable;
  }
}

/**
 * Another instance holds the data directory (SENTINEL_DATA_DIR); `holder` is who, from its pid file (null
 * when it has not written one yet). Stops the start.
 */
export class DataDirInUseError extends SentinelError {
  readonly dataDir: string;
  readonly holder: { pid: number; host: string } | null;
  /** Who holds it, for messages: "pid N on HOST", or that it has not written its pid yet. */
  readonly who: string;
  constructor(dataDir: string, holder: { pid: number; host: string } | null, cause?: unknown) {
    const who = holder ? `pid ${holder.pid}${holder.host ? ` on ${holder.host}` : ''}` : 'a process that has not written its pid yet';
    super(
      `data directory ${dataDir} is in use by another sentinel (${who}): two instances would overwrite each other's state; stop it, or give this one another SENTINEL_DATA_DIR`,
      { code: 'data_dir_in_use', status: 500, cause },
    );
    this.dataDir = dataDir;
    this.holder = holder;
    this.who = who;
  }
}

/** Base of vector-store failures; adapters map their SDK errors onto the subclasses. */
export class StoreError extends SentinelError {
  constructor(message: string, opts: { code?: string; status?: number; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? 'store_error', status: opts.status ?? 500, cause: opts.cause });
  }
}

export class StoreUnavailableError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'store_unavailable', status: 503, cause });
  }
}

export class StoreTimeoutError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'store_timeout', status: 503, cause });
  }
}

export class StoreRateLimitedError extends StoreError {
  readonly retryAfterMs: number;
  constructor(message: string, retryAfterMs: number, cause?: unknown) {
    super(message, { code: 'store_rate_limited', status: 503, cause });
    this.retryAfterMs = retryAfterMs;
  }
}

export class StoreBadRequestError extends StoreError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'store_bad_request', status: 500, cause });
  }
}

/** The store holds vectors of another dimension than the embedder now produces. */
export class DimensionMismatchError extends StoreError {
  readonly expected: number;
  readonly actual: number;
  constructor(expected: number, actual: number, where: string) {
    super(
      `${where} holds vectors of dimension ${actual}, but the embedder produces ${expected}; ` +
        'migrate with `sentinel migrate` or point SENTINEL_DATA_DIR / the Qdrant collection elsewhere',
      { code: 'dimension_mismatch', status: 500 },
    );
    this.expected = expected;
    this.actual = actual;
  }
}
