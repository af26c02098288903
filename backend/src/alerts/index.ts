import type { Config } from '../config';
import { ConfigError } from '../errors';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { AnomalyListener } from '../pipeline/pipeline';
import { AmqpAlertSink } from './amqp-sink';
import { DEAD_LETTER_FILE, DeadLetterStore } from './dead-letter';
import { AlertDispatcher, type DispatcherOptions } from './dispatcher';
import { TargetNotAllowedError } from './errors';
import { PagerDutySink } from './pagerduty-sink';
import { SecurityEventConsumer, type SecurityEventSink } from './security-consumer';
import type { AlertSink } from './sink';
import { SlackSink } from './slack-sink';
import { UrlGuard } from './url-guard';
import { WebhookSink } from './webhook-sink';

export { AlertDispatcher } from './dispatcher';
export { DeadLetterStore, DEAD_LETTER_FILE, type DeadLetter, type StoredDeadLetter } from './dead-letter';
export { deadLetterRoutes, resendDeadLetters } from './dead-letter-routes';
export { SecurityEventConsumer } from './security-consumer';
export { buildAlertPayload, type AlertPayload, type AlertEvent } from './payload';
export { signBody, verifySignature, SIGNATURE_HEADER, TIMESTAMP_HEADER, EVENT_ID_HEADER } from './webhook-sink';
export { routingKeyFor } from './amqp-sink';
export type { AlertSink, AlertMessage } from './sink';

/** What {@link attachAlerting} wired up. */
export interface Alerting {
  /** null when no sink is configured. */
  dispatcher: AlertDispatcher | null;
  /** null without SENTINEL_AMQP_URL (or with SENTINEL_AMQP_SECURITY_QUEUE=off). */
  consumer: SecurityEventConsumer | null;
  deadLetters: DeadLetterStore;
  /** Stops consuming security events (call before the pipeline shuts down; unacked messages are requeued). */
  stopIntake(): Promise<void>;
  /** Flushes pending alerts (then dead-letters what is left) and closes the sinks. */
  close(): Promise<void>;
}

/** Dependencies of {@link attachAlerting}. */
export interface AlertingDeps {
  config: Readonly<Config>;
  log: Logger;
  pipeline: SecurityEventSink & { onAnomaly(l: AnomalyListener): void };
  metrics?: SentinelMetrics;
  now?: () => number;
}

/**
 * Builds every alert sink and the security-event consumer from config, in one place:
 * - SENTINEL_WEBHOOK_URLS: one signed generic webhook per URL (SENTINEL_WEBHOOK_SECRET)
 * - SENTINEL_SLACK_WEBHOOK_URL: Slack incoming webhook
 * - SENTINEL_PAGERDUTY_ROUTING_KEY: PagerDuty Events v2 (SENTINEL_PAGERDUTY_URL)
 * - SENTINEL_AMQP_URL: alerts to the SENTINEL_AMQP_ALERT_EXCHANGE topic exchange, and verdicts consumed from
 *   SENTINEL_AMQP_SECURITY_QUEUE into the pipeline
 * HTTP targets go through the SSRF guard (SENTINEL_WEBHOOK_ALLOWLIST); a target that is refused already at
 * start (an internal IP literal) stops the start with a ConfigError naming the variable. Undeliverable
 * alerts go to `alerts-dead-letter.jsonl` under SENTINEL_DATA_DIR (listed and resent through /api/v1/alerts/dead-letters).
 */
export async function attachAlerting(deps: AlertingDeps, overrides: Partial<Pick<DispatcherOptions, 'retry' | 'flushTimeoutMs' | 'random'>> & { reconnect?: { initialDelayMs?: number; maxDelayMs?: number } } = {}): Promise<Alerting> {
  const { config, metrics } = deps;
  const log = deps.log.child({ component: 'alerts' });
  const guard = new UrlGuard(config.webhookAllowlist);
  const sinks: AlertSink[] = [];
  const checked = <T>(variable: string, build: () => T): T => {
    try {
      return build();
    } catch (err) {
      if (err instanceof TargetNotAllowedError || err instanceof TypeError) throw new ConfigError(variable, err.message);
      throw err;
    }
  };
  // Webhooks on one host need distinct names: a sink's name keys its delivery queue, and one endpoint
  // retrying must not hold back another's alerts.
  const hosts = config.webhookUrls.map((url) => checked('SENTINEL_WEBHOOK_URLS', () => new URL(url).host));
  config.webhookUrls.forEach((url, i) => {
    const ordinal = hosts.filter((h) => h === hosts[i]).length > 1 ? i + 1 : undefined;
    const sink = checked('SENTINEL_WEBHOOK_URLS', () => new WebhookSink({ url, guard, secret: config.webhookSecret, now: deps.now, ordinal }));
    if (new URL(url).protocol === 'http:') log.warn({ sink: sink.name }, 'webhook over plain http: the payload and signature travel unencrypted');
    sinks.push(sink);
  });
  if (config.webhookUrls.length && !config.webhookSecret) log.warn('SENTINEL_WEBHOOK_SECRET is not set: webhook alerts are unsigned');
  if (config.slackWebhookUrl) {
    const url = config.slackWebhookUrl;
    sinks.push(checked('SENTINEL_SLACK_WEBHOOK_URL', () => new SlackSink({ url, guard })));
  }
  if (config.pagerdutyRoutingKey) {
    const routingKey = config.pagerdutyRoutingKey;
    sinks.push(checked('SENTINEL_PAGERDUTY_URL', () => new PagerDutySink({ routingKey, url: config.pagerdutyUrl, guard })));
  }
  let amqpSink: AmqpAlertSink | null = null;
  if (config.amqpUrl) {
    amqpSink = new AmqpAlertSink({
      url: config.amqpUrl,
      exchange: config.amqpAlertExchange,
      log,
      reconnect: overrides.reconnect,
      onState: (up) => metrics?.amqpConnected.set({ role: 'publisher' }, up ? 1 : 0),
    });
    await amqpSink.start();
    sinks.push(amqpSink);
  }

  const deadLetters = new DeadLetterStore(config.dataDir, {
    maxEntries: config.deadLetterMax,
    onTrim: (dropped) => {
      metrics?.deadLettersDropped.inc(dropped);
      log.warn({ dropped, kept: config.deadLetterMax, file: DEAD_LETTER_FILE }, 'dead-letter store full: oldest entries dropped (SENTINEL_DEAD_LETTER_MAX)');
    },
  });
  let dispatcher: AlertDispatcher | null = null;
  if (sinks.length) {
    dispatcher = new AlertDispatcher({
      sinks,
      deadLetters,
      log,
      metrics,
      retry: { maxAttempts: config.alertMaxAttempts, baseDelayMs: config.alertRetryBaseMs, ...overrides.retry },
      cooldownMs: config.alertCooldownMs,
      minSeverity: config.alertMinSeverity,
      flushTimeoutMs: overrides.flushTimeoutMs,
      random: overrides.random,
      now: deps.now,
    });
    deps.pipeline.onAnomaly(dispatcher.listener);
    log.info({ sinks: sinks.map((s) => s.name), deadLetters: deadLetters.path }, 'alerting on');
  }

  let consumer: SecurityEventConsumer | null = null;
  if (config.amqpUrl && config.amqpSecurityQueue) {
    consumer = new SecurityEventConsumer({
      url: config.amqpUrl,
      queue: config.amqpSecurityQueue,
      pipeline: deps.pipeline,
      log,
      metrics,
      reconnect: overrides.reconnect,
    });
    await consumer.start();
  }

  let intakeStopped = false;
  const stopIntake = async () => {
    if (intakeStopped) return;
    intakeStopped = true;
    await consumer?.close();
  };
  return {
    dispatcher,
    consumer,
    deadLetters,
    stopIntake,
    async close() {
      await stopIntake();
      await dispatcher?.close();
    },
  };
}
