import type { Severity } from '../domain/types';
import type { Logger } from '../logger';
import { AmqpConnection } from './amqp-client';
import { AmqpUnroutableError, DeliveryError } from './errors';
import type { AlertMessage, AlertSink } from './sink';
import { eventId } from './webhook-sink';

/** Routing key of an alert by severity: critical and high are high priority. */
export function routingKeyFor(severity: Severity): string {
  return severity === 'critical' || severity === 'high' ? 'incidents.high-priority' : 'incidents.low-priority';
}

/** Options of {@link AmqpAlertSink}. */
export interface AmqpAlertSinkOptions {
  url: string;
  /** Durable topic exchange. @default "sentinel.alerts" */
  exchange?: string;
  log: Logger;
  /** How long one attempt waits for a connection and then for the publisher confirm. @default 5000 */
  timeoutMs?: number;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  onState?: (connected: boolean) => void;
}

/**
 * Publishes alerts to a durable topic exchange (`sentinel.alerts`) with routing keys by severity
 * (`incidents.high-priority` / `incidents.low-priority`), as persistent JSON messages, each attempt
 * waiting for the publisher confirm. `messageId` is `<alert_id>:<event>` so consumers can drop the
 * duplicates a retry after a lost confirm can cause. Binding queues is the consumers' business.
 */
export class AmqpAlertSink implements AlertSink {
  readonly kind = 'amqp';
  readonly name: string;
  readonly exchange: string;
  private readonly conn: AmqpConnection;

  constructor(private readonly opts: AmqpAlertSinkOptions) {
    this.exchange = opts.exchange ?? 'sentinel.alerts';
    this.name = `amqp ${this.exchange}`;
    this.conn = new AmqpConnection({
      url: opts.url,
      role: 'publisher',
      log: opts.log,
      confirm: true,
      reconnect: opts.reconnect,
      onState: opts.onState,
      setup: (ch) => ch.assertExchange(this.exchange, 'topic'),
    });
  }

  start(): Promise<void> {
    return this.conn.start();
  }

  async send(m: AlertMessage): Promise<void> {
    const timeout = this.opts.timeoutMs ?? 5_000;
    try {
      const ch = await this.conn.channel(timeout);
      await ch.publish(this.exchange, routingKeyFor(m.payload.severity), Buffer.from(JSON.stringify(m.payload)), {
        messageId: eventId(m),
        type: `alert.${m.event}`,
        headers: { event: m.event, severity: m.payload.severity, anomaly_type: m.payload.anomaly_type },
      }, timeout);
    } catch (err) {
      // Unroutable is the broker's setup (no queue bound), not a blip: dead-lettered at once, where it shows.
      throw new DeliveryError(`${this.name}: ${(err as Error).message}`, { retryable: !(err instanceof AmqpUnroutableError), cause: err });
    }
  }

  get connected(): boolean {
    return this.conn.connected;
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}
