import type { AnomalyRecord } from '../domain/types';
import type { AlertEvent, AlertPayload } from './payload';

/** One alert on its way to the sinks. */
export interface AlertMessage {
  event: AlertEvent;
  payload: AlertPayload;
  /** The record the payload was built from (sinks with their own formats read more of it). */
  record: AnomalyRecord;
}

/**
 * A destination of alerts. `send` makes one attempt and throws a DeliveryError saying whether another
 * attempt may help; retries, backoff and dead-lettering are the dispatcher's.
 */
export interface AlertSink {
  /** Bounded label value of sentinel_alerts_sent_total{sink}: webhook, slack, pagerduty, amqp. */
  readonly kind: string;
  /** For logs: kind plus host or exchange, never a URL path or key. */
  readonly name: string;
  send(message: AlertMessage, signal: AbortSignal): Promise<void>;
  close?(): Promise<void>;
}
