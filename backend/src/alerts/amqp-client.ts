import { connect, type Channel, type ChannelModel, type ConfirmChannel, type ConsumeMessage, type RecoveringChannelModel } from 'amqplib';
import type { Logger } from '../logger';
import { AmqpError, AmqpUnroutableError } from './errors';

/**
 * The amqplib adapter: the only file that imports `amqplib`. One connection per role (publisher,
 * consumer; RabbitMQ advises against sharing one, since flow control on publishing would stall consuming),
 * reconnecting by itself with exponential backoff and jitter (amqplib's recovery), re-running `setup` on
 * every new connection so topology and consumers come back. amqplib types never leave this file.
 */

/** Properties of a published message. */
export interface PublishProps {
  messageId: string;
  contentType?: string;
  type?: string;
  headers?: Record<string, string | number | boolean>;
  /** Delivery mode 2: survives a broker restart on a durable queue. @default true */
  persistent?: boolean;
  /** Return the message when no queue is bound for its routing key (logged by the connection). @default true */
  mandatory?: boolean;
}

/** A delivery from a queue. Settle it exactly once with ack, deadLetter or requeue. */
export interface InboundMessage {
  content: Buffer;
  messageId?: string;
  redelivered: boolean;
  headers: Record<string, unknown>;
  ack(): void;
  /** Reject without requeue: the broker dead-letters it (queue argument x-dead-letter-exchange). */
  reject(): void;
  requeue(): void;
}

/** Result of {@link AmqpChannel.declareQueue}. */
export interface QueueDeclaration {
  /** False when the queue already existed without our dead-letter arguments (then rejects are dropped by the broker). */
  deadLetterConfigured: boolean;
}

/** One channel of the current connection (a new one after every reconnect). */
export class AmqpChannel {
  /** Message ids the broker returned as unroutable, until their publish settles (a return precedes the confirm). */
  private readonly returned = new Set<string>();

  constructor(
    private readonly model: ChannelModel,
    private readonly ch: Channel | ConfirmChannel,
    private readonly confirm: boolean,
  ) {}

  /** The broker returned a mandatory message: no queue is bound for its routing key. */
  noteReturned(messageId: string | undefined): void {
    if (messageId) this.returned.add(messageId);
  }

  async assertExchange(name: string, type: 'topic' | 'direct' | 'fanout'): Promise<void> {
    await this.wrap(`declaring exchange ${name}`, () => this.ch.assertExchange(name, type, { durable: true }));
  }

  /**
   * Declares a durable queue, with a dead-letter exchange when given. A queue that already exists with
   * other arguments (declared by its producer) is accepted as it is, reported by `deadLetterConfigured`.
   */
  async declareQueue(name: string, deadLetter?: { exchange: string; routingKey: string }): Promise<QueueDeclaration> {
    const args = deadLetter ? { 'x-dead-letter-exchange': deadLetter.exchange, 'x-dead-letter-routing-key': deadLetter.routingKey } : undefined;
    // On a throwaway channel: a PRECONDITION_FAILED (406) closes the channel it happens on.
    const probe = await this.wrap('opening a channel', () => this.model.createChannel());
    probe.on('error', () => {});
    try {
      await probe.assertQueue(name, { durable: true, arguments: args });
      return { deadLetterConfigured: true };
    } catch (err) {
      if ((err as { code?: number }).code !== 406) throw new AmqpError(`declaring queue ${name} failed: ${(err as Error).message}`, err);
      await this.wrap(`checking queue ${name}`, () => this.ch.checkQueue(name));
      return { deadLetterConfigured: !deadLetter };
    } finally {
      await probe.close().catch(() => {});
    }
  }

  async bindQueue(queue: string, exchange: string, routingKey: string): Promise<void> {
    await this.wrap(`binding ${queue} to ${exchange}`, () => this.ch.bindQueue(queue, exchange, routingKey));
  }

  /** Publishes and, on a confirm channel, resolves only when the broker confirmed (rejects on nack or timeout). */
  publish(exchange: string, routingKey: string, content: Buffer, props: PublishProps, timeoutMs = 10_000): Promise<void> {
    const options = {
      messageId: props.messageId,
      contentType: props.contentType ?? 'application/json',
      type: props.type,
      headers: props.headers,
      persistent: props.persistent ?? true,
      mandatory: props.mandatory ?? true,
      timestamp: Math.floor(Date.now() / 1000),
    };
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new AmqpError(`no publisher confirm for ${props.messageId} within ${timeoutMs} ms`)), timeoutMs);
      const done = (err: unknown) => {
        clearTimeout(timer);
        const unroutable = this.returned.delete(props.messageId);
        if (err) reject(new AmqpError(`the broker did not confirm ${props.messageId}: ${err instanceof Error ? err.message : String(err)}`, err));
        // Confirmed, but it reached no queue: counted as delivered before (QA), while nothing will read it.
        else if (unroutable && this.confirm) reject(new AmqpUnroutableError(`no queue is bound to ${exchange} for routing key ${routingKey}`));
        else resolve();
      };
      try {
        if (this.confirm) (this.ch as ConfirmChannel).publish(exchange, routingKey, content, options, (err) => done(err));
        else {
          this.ch.publish(exchange, routingKey, content, options);
          done(null);
        }
      } catch (err) {
        // IllegalOperationError: the channel closed under us (connection lost).
        done(err);
      }
    });
  }

  /** Starts consuming with manual acks; returns the consumer tag. */
  async consume(queue: string, handler: (m: InboundMessage) => void | Promise<void>): Promise<string> {
    const r = await this.wrap(`consuming ${queue}`, () =>
      this.ch.consume(
        queue,
        (msg) => {
          // null: the broker cancelled the consumer (queue deleted); reconnecting re-declares and resubscribes.
          if (!msg) {
            void this.model.close().catch(() => {});
            return;
          }
          void handler(this.inbound(msg));
        },
        { noAck: false },
      ),
    );
    return r.consumerTag;
  }

  private inbound(msg: ConsumeMessage): InboundMessage {
    const ch = this.ch;
    let settled = false;
    // A settle on a channel that died is a no-op: the broker redelivers the message on the next connection.
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      try {
        f();
      } catch {
        /* channel closed: redelivery is handled by idempotent processing */
      }
    };
    return {
      content: msg.content,
      messageId: msg.properties.messageId || undefined,
      redelivered: msg.fields.redelivered,
      headers: (msg.properties.headers ?? {}) as Record<string, unknown>,
      ack: () => settle(() => ch.ack(msg)),
      reject: () => settle(() => ch.nack(msg, false, false)),
      requeue: () => settle(() => ch.nack(msg, false, true)),
    };
  }

  private async wrap<T>(what: string, f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (err) {
      throw err instanceof AmqpError ? err : new AmqpError(`${what} failed: ${(err as Error).message}`, err);
    }
  }
}

/** Options of {@link AmqpConnection}. */
export interface AmqpConnectionOptions {
  /** amqp(s)://user:pass@host:port/vhost (SENTINEL_AMQP_URL); never logged with its credentials. */
  url: string;
  /** Connection name shown by the broker: `llm-sentinel-<role>`. */
  role: string;
  log: Logger;
  /** Use a confirm channel (publishers). @default false */
  confirm?: boolean;
  /** Unacked deliveries in flight per consumer (consumers should set it). @default unlimited */
  prefetch?: number;
  /** Reconnect backoff: first delay, cap. @default 200, 30000 */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number };
  /** Runs on every (re)connect with the new channel: declare topology, start consuming. Throwing retries the connection. */
  setup?: (ch: AmqpChannel) => Promise<void>;
  /** Called with true on every connect and false on every loss. */
  onState?: (connected: boolean) => void;
}

/** A self-recovering AMQP connection with one channel. */
export class AmqpConnection {
  private model: RecoveringChannelModel | null = null;
  private current: AmqpChannel | null = null;
  private currentRaw: Channel | null = null;
  private waiters: ((ch: AmqpChannel) => void)[] = [];
  private closing = false;
  private connects = 0;
  private readonly log: Logger;

  constructor(private readonly opts: AmqpConnectionOptions) {
    this.log = opts.log.child({ amqp: opts.role, broker: safeUrl(opts.url) });
  }

  /** Starts connecting (in the background: a broker that is down at start is retried, not fatal). */
  async start(): Promise<void> {
    const { reconnect } = this.opts;
    const model = await connect(this.opts.url, {
      clientProperties: { connection_name: `llm-sentinel-${this.opts.role}` },
      recovery: {
        initialDelay: reconnect?.initialDelayMs ?? 200,
        maxDelay: reconnect?.maxDelayMs ?? 30_000,
        factor: 2,
        jitter: 0.2,
        waitForConnect: false,
        setup: async (m: ChannelModel) => this.onConnect(m),
      },
    });
    this.model = model;
    model.on('disconnect', (err: Error) => {
      this.current = null;
      this.currentRaw = null;
      this.opts.onState?.(false);
      if (!this.closing) this.log.warn({ reason: err.message }, 'AMQP connection lost; reconnecting');
    });
    model.on('connect-failed', (err: Error) => this.log.warn({ reason: err.message }, 'AMQP connect failed'));
    model.on('reconnect-scheduled', (info: { attempt: number; delay: number }) => this.log.info({ attempt: info.attempt, delayMs: info.delay }, 'AMQP reconnect scheduled'));
    model.on('error', (err: Error) => this.log.warn({ reason: err.message }, 'AMQP connection error'));
  }

  private async onConnect(m: ChannelModel): Promise<void> {
    // amqplib's recovery listens for this connection's errors only once this setup has finished: a connection
    // lost while the channel is being opened emitted an 'error' nobody handled, which ended the process (QA).
    // The failed setup rejects, and recovery reconnects.
    let settingUp = true;
    m.on('error', (err: Error) => {
      if (settingUp) this.log.warn({ reason: err.message }, 'AMQP connection lost while setting up its channel; reconnecting');
    });
    try {
      await this.setUp(m);
    } finally {
      settingUp = false;
    }
  }

  private async setUp(m: ChannelModel): Promise<void> {
    const confirm = this.opts.confirm ?? false;
    const raw = confirm ? await m.createConfirmChannel() : await m.createChannel();
    const ch = new AmqpChannel(m, raw, confirm);
    raw.on('error', (err: Error) => this.log.warn({ reason: err.message }, 'AMQP channel error'));
    raw.on('return', (msg: ConsumeMessage) => {
      this.log.warn({ messageId: msg.properties.messageId, exchange: msg.fields.exchange, routingKey: msg.fields.routingKey }, 'AMQP message unroutable: no queue bound for its routing key');
      ch.noteReturned(msg.properties.messageId as string | undefined);
    });
    raw.on('close', () => {
      // A channel-level error (not a connection loss) leaves the connection up: recycle it so recovery
      // builds a fresh channel and re-runs setup.
      if (!this.closing && this.currentRaw === raw) void m.close().catch(() => {});
    });
    if (this.opts.prefetch) await raw.prefetch(this.opts.prefetch);
    await this.opts.setup?.(ch);
    this.current = ch;
    this.currentRaw = raw;
    this.connects++;
    this.log.info({ connects: this.connects }, 'AMQP connected');
    this.opts.onState?.(true);
    for (const w of this.waiters.splice(0)) w(ch);
  }

  /** Times the connection came up (1 after the first connect; more after reconnects). */
  get connectCount(): number {
    return this.connects;
  }

  get connected(): boolean {
    return this.current !== null;
  }

  /** The current channel, waiting up to `timeoutMs` for a connection. */
  channel(timeoutMs = 5_000): Promise<AmqpChannel> {
    if (this.current) return Promise.resolve(this.current);
    if (this.closing) return Promise.reject(new AmqpError('the AMQP connection is closed'));
    return new Promise((resolve, reject) => {
      const w = (ch: AmqpChannel) => {
        clearTimeout(timer);
        resolve(ch);
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new AmqpError(`no AMQP connection within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Closes the connection; unacked deliveries go back to their queue. */
  async close(): Promise<void> {
    this.closing = true;
    this.current = null;
    this.waiters = [];
    await this.model?.close().catch((err: unknown) => this.log.warn({ reason: (err as Error).message }, 'AMQP close failed'));
    this.opts.onState?.(false);
  }
}

/** The broker address without credentials, for logs. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
  } catch {
    return '(invalid AMQP URL)';
  }
}
