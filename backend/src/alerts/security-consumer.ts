import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { SecurityEvent } from '../domain/types';
import { jsonSyntaxMessage } from '../ingest/parse';
import { timestampSchema } from '../ingest/schema';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { IngestResult } from '../pipeline/pipeline';
import { AmqpConnection, type AmqpChannel, type InboundMessage } from './amqp-client';

const label = z.string().min(1).max(256);

/**
 * A guard's verdict as published on `security.events`. Unknown fields are ignored (guards add their own,
 * e.g. a classifier score), so a newer producer does not poison the queue.
 */
export const securityEventSchema = z.object({
  id: z.string().min(1).max(200).optional(),
  type: z.string().min(1).max(64),
  severity: z.enum(['low', 'medium', 'high', 'critical']).optional(),
  service: label,
  model: label.optional(),
  provider: label.optional(),
  user: label.optional(),
  apiKeyId: label.optional(),
  route: label.optional(),
  timestamp: timestampSchema,
}) satisfies z.ZodType<SecurityEvent, unknown>;

/**
 * One message: a verdict or an array of them, told apart by the message's shape rather than by a union, whose
 * error for any violation was "(root): Invalid input" and named no field (QA).
 */
const verdictsSchema = z.array(securityEventSchema).min(1).max(1000);

/** Where accepted verdicts go (the pipeline). */
export interface SecurityEventSink {
  ingestSecurityEvents(events: readonly SecurityEvent[]): IngestResult;
}

/** Options of {@link SecurityEventConsumer}. */
export interface SecurityConsumerOptions {
  url: string;
  /** @default "security.events" */
  queue?: string;
  pipeline: SecurityEventSink;
  log: Logger;
  metrics?: SentinelMetrics;
  /** Unacked messages in flight. @default 100 */
  prefetch?: number;
  /** Ids remembered for redelivery dedupe. @default 10000 */
  dedupeSize?: number;
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
}

/** Why a message went to the dead-letter queue (header `x-sentinel-reason`). */
export type DeadLetterReason = 'invalid_json' | 'invalid_schema' | 'rejected_by_pipeline' | 'processing_error';

/**
 * Consumes guard verdicts from RabbitMQ into the pipeline.
 *
 * - Manual acks, only after the pipeline accepted the verdicts. Accepted means placed in their in-memory
 *   window, as for HTTP ingest: the window is persisted (scored, stored) when it closes, and a hard kill
 *   loses the windows still open, exactly as it does for events that came over HTTP.
 * - Poison messages (not JSON, not the schema, or refused by the pipeline, e.g. too late for their window)
 *   are published to the dead-letter queue `<queue>.dead` (through exchange `<queue>.dlx`) with the reason
 *   in header `x-sentinel-reason`, and acked only once the broker confirmed that copy; if that publish
 *   fails they are rejected, which the queue's own x-dead-letter-exchange routes to the same place. They
 *   are never requeued, so one bad message cannot block the queue.
 * - Redeliveries are handled idempotently: verdicts are remembered (bounded LRU) by their `id`, else by
 *   message id + position, and a redelivered message whose exact content was already ingested is acked
 *   without ingesting it again.
 * - Connection loss: unacked messages return to the queue; the connection reconnects with backoff and
 *   resubscribes.
 */
export class SecurityEventConsumer {
  readonly queue: string;
  readonly deadQueue: string;
  readonly deadExchange: string;
  private readonly conn: AmqpConnection;
  private readonly seen = new Map<string, true>();
  private readonly dedupeSize: number;
  private readonly log: Logger;

  constructor(private readonly opts: SecurityConsumerOptions) {
    this.queue = opts.queue ?? 'security.events';
    this.deadQueue = `${this.queue}.dead`;
    this.deadExchange = `${this.queue}.dlx`;
    this.dedupeSize = opts.dedupeSize ?? 10_000;
    this.log = opts.log.child({ consumer: 'security-events', queue: this.queue });
    this.conn = new AmqpConnection({
      url: opts.url,
      role: 'consumer',
      log: opts.log,
      // A confirm channel: dead-letter copies are published on it and must be confirmed before the ack.
      confirm: true,
      prefetch: opts.prefetch ?? 100,
      reconnect: opts.reconnect,
      onState: (up) => opts.metrics?.amqpConnected.set({ role: 'consumer' }, up ? 1 : 0),
      setup: (ch) => this.setup(ch),
    });
  }

  start(): Promise<void> {
    return this.conn.start();
  }

  get connected(): boolean {
    return this.conn.connected;
  }

  /** Times the consumer (re)connected. */
  get connectCount(): number {
    return this.conn.connectCount;
  }

  close(): Promise<void> {
    return this.conn.close();
  }

  private async setup(ch: AmqpChannel): Promise<void> {
    await ch.assertExchange(this.deadExchange, 'direct');
    await ch.declareQueue(this.deadQueue);
    await ch.bindQueue(this.deadQueue, this.deadExchange, this.deadQueue);
    const decl = await ch.declareQueue(this.queue, { exchange: this.deadExchange, routingKey: this.deadQueue });
    if (!decl.deadLetterConfigured) {
      this.log.warn('queue exists without x-dead-letter-exchange; poison messages are still copied to the dead-letter queue before their ack');
    }
    await ch.consume(this.queue, (m) => this.handle(ch, m));
  }

  private async handle(ch: AmqpChannel, m: InboundMessage): Promise<void> {
    try {
      let json: unknown;
      try {
        json = JSON.parse(m.content.toString('utf8'));
      } catch (err) {
        return await this.deadLetter(ch, m, 'invalid_json', jsonSyntaxMessage(err));
      }
      const parsed = Array.isArray(json) ? verdictsSchema.safeParse(json) : securityEventSchema.safeParse(json);
      if (!parsed.success) {
        const i = parsed.error.issues[0];
        return await this.deadLetter(ch, m, 'invalid_schema', `${i.path.join('.') || '(root)'}: ${i.message}`);
      }
      const events = Array.isArray(parsed.data) ? parsed.data : [parsed.data];
      const contentKey = 'sha256:' + createHash('sha256').update(m.content).digest('hex');
      if (m.redelivered && this.seen.has(contentKey)) return this.duplicate(m);
      const keys = events.map((e, i) => (e.id ? `id:${e.id}` : m.messageId ? `msg:${m.messageId}#${i}` : null));
      const freshAt = keys.flatMap((k, i) => (k && this.seen.has(k) ? [] : [i]));
      if (freshAt.length === 0) return this.duplicate(m);
      const r = this.opts.pipeline.ingestSecurityEvents(freshAt.map((i) => events[i]));
      // Remember only what the pipeline took: a refused verdict may be retried by its producer.
      const refused = new Set(r.rejected.map((x) => x.index));
      freshAt.forEach((i, j) => {
        const k = keys[i];
        if (k && !refused.has(j)) this.remember(k);
      });
      if (r.accepted === 0) {
        return await this.deadLetter(ch, m, 'rejected_by_pipeline', r.rejected.map((x) => x.message).slice(0, 3).join('; '));
      }
      this.remember(contentKey);
      m.ack();
      this.opts.metrics?.securityEventsConsumed.inc({ outcome: 'accepted' }, r.accepted);
      if (r.rejected.length) {
        this.opts.metrics?.securityEventsConsumed.inc({ outcome: 'rejected' }, r.rejected.length);
        this.log.warn({ messageId: m.messageId, rejected: r.rejected.slice(0, 5) }, 'some verdicts of a message were refused by the pipeline');
      }
    } catch (err) {
      // Unexpected: requeue once, dead-letter on the second try so it cannot loop.
      this.log.error({ err, messageId: m.messageId, redelivered: m.redelivered }, 'processing a security event failed');
      if (m.redelivered) await this.deadLetter(ch, m, 'processing_error', (err as Error).message).catch(() => m.reject());
      else m.requeue();
    }
  }

  private duplicate(m: InboundMessage): void {
    m.ack();
    this.opts.metrics?.securityEventsConsumed.inc({ outcome: 'duplicate' });
  }

  private async deadLetter(ch: AmqpChannel, m: InboundMessage, reason: DeadLetterReason, detail: string): Promise<void> {
    this.log.warn({ messageId: m.messageId, reason, detail }, 'security event dead-lettered');
    this.opts.metrics?.securityEventsConsumed.inc({ outcome: 'dead_lettered' });
    try {
      await ch.publish(this.deadExchange, this.deadQueue, m.content, {
        messageId: m.messageId ?? `dead:${createHash('sha256').update(m.content).digest('hex').slice(0, 32)}`,
        contentType: 'application/octet-stream',
        headers: { 'x-sentinel-reason': reason, 'x-sentinel-detail': detail.slice(0, 500), 'x-original-queue': this.queue },
        mandatory: false,
      });
      m.ack();
    } catch (err) {
      this.log.warn({ reason: (err as Error).message, messageId: m.messageId }, 'dead-letter copy not confirmed; rejecting to the queue dead-letter exchange');
      m.reject();
    }
  }

  private remember(key: string): void {
    this.seen.delete(key);
    this.seen.set(key, true);
    while (this.seen.size > this.dedupeSize) this.seen.delete(this.seen.keys().next().value as string);
  }
}
