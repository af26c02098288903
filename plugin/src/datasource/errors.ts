/**
 * Errors of the datasource. The API client turns every failure (HTTP error, data-proxy error, network
 * failure, cancelled request) into one of these, so callers branch on `status`/`code` instead of
 * parsing strings; the original error stays available as `cause`.
 */

/** Base error of the Sentinel datasource. */
export class SentinelError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SentinelError';
  }
}

/** The Sentinel API (or Grafana's data proxy in front of it) answered with an error status. */
export class SentinelApiError extends SentinelError {
  /** HTTP status; 0 when no response arrived at all. */
  readonly status: number;
  /** The API's error code (`error.code`), or `http_<status>` when the body had none. */
  readonly code: string;
  /** Offending field of a 400 validation error. */
  readonly field?: string;
  /** Request path (relative to the API root) that failed. */
  readonly path: string;

  /**
   * `code` of a request Grafana's data proxy answered with 400 "Authentication to data source failed":
   * the proxy's rewrite of the backend's 401, i.e. a wrong or missing API key.
   */
  static readonly PROXY_AUTH_FAILED = 'proxy_auth_failed';

  /** Whether the backend refused the API key (401 directly, or as rewritten by Grafana's data proxy). */
  get isAuthFailure(): boolean {
    return this.status === 401 || this.code === SentinelApiError.PROXY_AUTH_FAILED;
  }

  constructor(
    message: string,
    data: { status: number; code: string; path: string; field?: string },
    options?: { cause?: unknown }
  ) {
    super(message, options);
    this.name = 'SentinelApiError';
    this.status = data.status;
    this.code = data.code;
    this.path = data.path;
    this.field = data.field;
  }
}

/** The request was cancelled (Grafana cancels superseded queries) before any response. */
export class SentinelCancelledError extends SentinelError {
  constructor(path: string) {
    super(`request to ${path} was cancelled`);
    this.name = 'SentinelCancelledError';
  }
}

/**
 * The configured URL answered, but not as the Sentinel API does (an HTML page, another service's JSON):
 * almost always a wrong URL, so the message says where it looked.
 */
export class SentinelResponseError extends SentinelError {
  /** Request path (relative to the API root) whose answer had the wrong shape. */
  readonly path: string;

  constructor(message: string, path: string) {
    super(message);
    this.name = 'SentinelResponseError';
    this.path = path;
  }
}
