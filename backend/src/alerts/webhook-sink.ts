import { createHmac, timingSafeEqual } from 'node:crypto';
import { checkAnswer, postJson, urlSecrets } from './http-post';
import type { AlertMessage, AlertSink } from './sink';
import type { UrlGuard } from './url-guard';

/** Header names of a signed webhook delivery. */
export const SIGNATURE_HEADER = 'x-sentinel-signature';
export const TIMESTAMP_HEADER = 'x-sentinel-timestamp';
export const EVENT_ID_HEADER = 'x-sentinel-event-id';

/**
 * `sha256=<hex>` of HMAC-SHA256(secret, `${timestamp}.${body}`): binding the timestamp into the MAC lets a
 * receiver reject replays of an old delivery by its age.
 */
export function signBody(secret: string, timestampSec: number, body: string): string {
  return 'sha256=' + createHmac('sha256', secret).update(`${timestampSec}.${body}`).digest('hex');
}

/**
 * Receiver-side check of a delivery (exported for receivers written in TS and for the tests): the
 * signature must match and the timestamp be within `toleranceSec` of `nowSec`.
 */
export function verifySignature(secret: string, body: string, headers: Record<string, string | string[] | undefined>, nowSec = Math.floor(Date.now() / 1000), toleranceSec = 300): boolean {
  const sig = headers[SIGNATURE_HEADER];
  const ts = Number(headers[TIMESTAMP_HEADER]);
  if (typeof sig !== 'string' || !Number.isInteger(ts) || Math.abs(nowSec - ts) > toleranceSec) return false;
  const want = Buffer.from(signBody(secret, ts, body));
  const got = Buffer.from(sig);
  return want.length === got.length && timingSafeEqual(want, got);
}

/** Options of {@link WebhookSink}. */
export interface WebhookSinkOptions {
  url: string;
  guard: UrlGuard;
  /** SENTINEL_WEBHOOK_SECRET; unset: deliveries are unsigned. */
  secret?: string;
  /** @default 10000 */
  timeoutMs?: number;
  /** @default Date.now */
  now?: () => number;
  /**
   * Position in SENTINEL_WEBHOOK_URLS (1-based), given when several URLs share a host: it goes into the
   * name, which keys the per-sink delivery order and dead letters (URL paths may hold tokens, so not the path).
   */
  ordinal?: number;
}

/**
 * Generic webhook: the alert payload as the JSON body, signed (`X-Sentinel-Signature: sha256=<hex>`,
 * `X-Sentinel-Timestamp: <unix s>`), with `X-Sentinel-Event-Id: <alert_id>:<event>` for receiver-side
 * dedupe of retried deliveries.
 */
export class WebhookSink implements AlertSink {
  readonly kind = 'webhook';
  readonly name: string;
  private readonly url: URL;

  constructor(private readonly opts: WebhookSinkOptions) {
    this.url = new URL(opts.url);
    this.name = `webhook ${this.url.host}${opts.ordinal ? ` #${opts.ordinal}` : ''}`;
    opts.guard.assertAllowed(this.url);
  }

  async send(m: AlertMessage, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(m.payload);
    const headers: Record<string, string> = { [EVENT_ID_HEADER]: eventId(m) };
    if (this.opts.secret) {
      const ts = Math.floor((this.opts.now ?? Date.now)() / 1000);
      headers[TIMESTAMP_HEADER] = String(ts);
      headers[SIGNATURE_HEADER] = signBody(this.opts.secret, ts, body);
    }
    const answer = await postJson(this.url, body, headers, { guard: this.opts.guard, timeoutMs: this.opts.timeoutMs, signal });
    checkAnswer(this.name, answer, [this.opts.secret, ...urlSecrets(this.url)]);
  }
}

/**
 * Idempotency key of one alert event, the same on every retry: escalations differ by severity, and every
 * decision by its time (the payload's `timestamp`), so an incident that re-opens (a plain series inside
 * its re-alert hold-off) pages again instead of looking like a retry of its first page (QA).
 */
export function eventId(m: AlertMessage): string {
  const what = m.event === 'escalated' ? `escalated:${m.payload.severity}` : m.event;
  return `${m.payload.alert_id}:${what}@${m.payload.timestamp}`;
}
