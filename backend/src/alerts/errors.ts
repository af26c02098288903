import { SentinelError } from '../errors';

/**
 * Errors of alert delivery and of the AMQP adapter. `retryable` tells the dispatcher whether another
 * attempt can help (network, timeout, 429, 5xx) or the alert should go to the dead-letter store at once.
 */

/** Base of alerting failures. */
export class AlertError extends SentinelError {
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { code: opts.code ?? 'alert_error', status: 500, cause: opts.cause });
  }
}

/** One delivery attempt failed. */
export class DeliveryError extends AlertError {
  readonly retryable: boolean;
  /** HTTP status of the receiver's answer, when there was one. */
  readonly upstreamStatus?: number;
  /** How long the receiver asked us to wait (Retry-After), when it said. */
  readonly retryAfterMs?: number;
  constructor(message: string, opts: { retryable: boolean; upstreamStatus?: number; retryAfterMs?: number; cause?: unknown }) {
    super(message, { code: 'alert_delivery_failed', cause: opts.cause });
    this.retryable = opts.retryable;
    this.upstreamStatus = opts.upstreamStatus;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/**
 * A webhook target resolves to a private, loopback, link-local or otherwise internal address and its host
 * is not on SENTINEL_WEBHOOK_ALLOWLIST. Never retried.
 */
export class TargetNotAllowedError extends DeliveryError {
  readonly host: string;
  constructor(host: string, address: string) {
    super(`refusing to send an alert to ${host} (${address}): internal address; add the host to SENTINEL_WEBHOOK_ALLOWLIST to allow it`, {
      retryable: false,
    });
    this.host = host;
  }
}

/** The AMQP connection or channel failed (the adapter's mapping of amqplib errors). */
export class AmqpError extends AlertError {
  constructor(message: string, cause?: unknown) {
    super(message, { code: 'amqp_error', cause });
  }
}

/** The broker took the message but no queue is bound for its routing key: nothing will read it. */
export class AmqpUnroutableError extends AmqpError {}
