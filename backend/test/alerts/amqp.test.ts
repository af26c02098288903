import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
// The test plays the other parties (the guard publishing verdicts, a downstream alert consumer) with its
// own amqplib client, independent of the adapter under test.
import { connect, type Channel, type ChannelModel } from 'amqplib';
import { AmqpAlertSink, routingKeyFor } from '../../src/alerts/amqp-sink';
import { DeadLetterStore } from '../../src/alerts/dead-letter';
import { AlertDispatcher } from '../../src/alerts/dispatcher';
import { buildAlertPayload, type AlertPayload } from '../../src/alerts/payload';
import { SecurityEventConsumer, type SecurityEventSink } from '../../src/alerts/security-consumer';
import { loadConfig } from '../../src/config';
import type { AnomalyRecord, SecurityEvent } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { SentinelMetrics } from '../../src/metrics';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SqliteStore } from '../../src/store/sqlite-store';
import { anomaly } from '../store/contract';
import { ingest, latencyTraffic, startApp, trafficStart, waitFor } from '../explain/helpers';
import { TcpProxy } from './tcp-proxy';

const BROKER = process.env.SENTINEL_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
/** Unique names per run, deleted afterwards, so parallel runs and other users of the broker are untouched. */
const RUN = `sentinel-test-${process.pid}-${Date.now().toString(36)}`;
const FAST_RECONNECT = { initialDelayMs: 20, maxDelayMs: 200 };
const log = createLogger('silent');

const message = (severity: AnomalyRecord['severity'], id: string) => {
  const record = anomaly(id, Date.UTC(2026, 10, 22, 10), { severity });
  return { event: 'opened' as const, payload: buildAlertPayload(record, 'opened', Date.UTC(2026, 10, 22, 10, 1)), record };
};

/** A real pipeline, recording what it accepted (the consumer's target in these tests). */
function recordingPipeline(): { target: SecurityEventSink; accepted: SecurityEvent[]; onAccept: (f: (n: number) => void) => void } {
  const dir = `/tmp/${RUN}-pipeline`;
  const pipeline = new Pipeline({ config: loadConfig({ SENTINEL_DATA_DIR: dir }), store: new SqliteStore(':memory:'), log });
  const accepted: SecurityEvent[] = [];
  let hook: (n: number) => void = () => {};
  return {
    accepted,
    onAccept: (f) => (hook = f),
    target: {
      ingestSecurityEvents(events) {
        const r = pipeline.ingestSecurityEvents(events);
        const refused = new Set(r.rejected.map((x) => x.index));
        events.forEach((e, i) => {
          if (!refused.has(i)) accepted.push(e);
        });
        hook(accepted.length);
        return r;
      },
    },
  };
}

describe('RabbitMQ on 127.0.0.1:5672 (real broker)', () => {
  let admin: ChannelModel;
  let ch: Channel;
  const queues: string[] = [];
  const exchanges: string[] = [];

  before(async () => {
    admin = await connect(BROKER);
    ch = await admin.createChannel();
  });
  after(async () => {
    const c = await admin.createChannel();
    for (const q of queues) await c.deleteQueue(q).catch(() => {});
    for (const e of exchanges) await c.deleteExchange(e).catch(() => {});
    await admin.close();
  });

  /** A server-named exclusive queue bound to `exchange` by `key`. */
  async function tap(exchange: string, key: string): Promise<string> {
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, key);
    return queue;
  }

  async function take(queue: string): Promise<{ payload: AlertPayload; props: Record<string, unknown>; routingKey: string } | null> {
    const m = await ch.get(queue, { noAck: true });
    return m ? { payload: JSON.parse(m.content.toString()), props: m.properties as unknown as Record<string, unknown>, routingKey: m.fields.routingKey } : null;
  }

  test('an alert no queue is bound for is not counted as delivered: it fails for good and is dead-lettered (QA)', async () => {
    const exchange = `${RUN}.unbound`;
    exchanges.push(exchange);
    const sink = new AmqpAlertSink({ url: BROKER, exchange, log, reconnect: FAST_RECONNECT });
    await sink.start();
    try {
      await waitFor('the publisher to connect', () => sink.connected);
      await assert.rejects(sink.send(message('critical', 'an_nobody')), (err: Error & { retryable?: boolean }) => {
        assert.match(err.message, /no queue is bound/);
        assert.equal(err.retryable, false);
        return true;
      });
      // Once a queue is bound, the same sink delivers.
      const q = await tap(exchange, routingKeyFor('critical'));
      await sink.send(message('critical', 'an_somebody'));
      assert.equal((await take(q))?.payload.alert_id, 'an_somebody');
    } finally {
      await sink.close();
    }
  });

  test('alerts go to a durable topic exchange, routed by severity, persistent, confirmed', async () => {
    const exchange = `${RUN}.alerts`;
    exchanges.push(exchange);
    const sink = new AmqpAlertSink({ url: BROKER, exchange, log, reconnect: FAST_RECONNECT });
    await sink.start();
    try {
      await waitFor('the publisher to connect', () => sink.connected);
      const high = await tap(exchange, 'incidents.high-priority');
      const low = await tap(exchange, 'incidents.low-priority');
      await sink.send(message('critical', 'an_crit'));
      await sink.send(message('high', 'an_high'));
      await sink.send(message('low', 'an_low'));
      const h1 = await take(high);
      const h2 = await take(high);
      const l1 = await take(low);
      assert.deepEqual([h1?.payload.alert_id, h2?.payload.alert_id, l1?.payload.alert_id], ['an_crit', 'an_high', 'an_low']);
      assert.equal(await take(high), null);
      assert.equal(h1!.routingKey, routingKeyFor('critical'));
      assert.equal(h1!.props.deliveryMode, 2, 'persistent');
      assert.equal(h1!.props.contentType, 'application/json');
      assert.match(h1!.props.messageId as string, /^an_crit:opened@/);
      assert.deepEqual(h1!.props.headers, { event: 'opened', severity: 'critical', anomaly_type: 'latency_spike' });
      // Declared durable: redeclaring it as non-durable is refused by the broker.
      const probe = await admin.createChannel();
      probe.on('error', () => {});
      await assert.rejects(probe.assertExchange(exchange, 'topic', { durable: false }), /PRECONDITION_FAILED/);
    } finally {
      await sink.close();
    }
  });

  test('a connection lost while its channel is being set up is retried, not fatal (QA: an unhandled error event ended the process)', async () => {
    const exchange = `${RUN}.alerts-setup`;
    exchanges.push(exchange);
    const proxy = await new TcpProxy().start();
    proxy.cutAtChannelOpen = new Set([1, 2]);
    const sink = new AmqpAlertSink({ url: proxy.url(), exchange, log, reconnect: FAST_RECONNECT });
    try {
      await sink.start();
      await waitFor('the publisher to connect on its third connection', () => sink.connected);
      assert.ok(proxy.connections >= 3);
    } finally {
      await sink.close();
      await proxy.stop();
    }
  });

  test('the publisher reconnects after its connection is cut and the next alert is confirmed', async () => {
    const exchange = `${RUN}.alerts2`;
    exchanges.push(exchange);
    const proxy = await new TcpProxy().start();
    const sink = new AmqpAlertSink({ url: proxy.url(), exchange, log, reconnect: FAST_RECONNECT });
    await sink.start();
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-amqp-'));
    const dead = new DeadLetterStore(dir);
    const d = new AlertDispatcher({ sinks: [sink], deadLetters: dead, log, retry: { maxAttempts: 5, baseDelayMs: 20, maxDelayMs: 200 } });
    try {
      await waitFor('the publisher to connect', () => sink.connected);
      const q = await tap(exchange, '#');
      const { record: before } = message('low', 'an_before');
      const { record: afterCut } = message('low', 'an_after');
      d.listener('opened', before, null);
      await d.idle();
      proxy.cut();
      // A publish on the dying channel fails; the dispatcher's retry lands on the new connection.
      d.listener('opened', { ...afterCut, seriesKey: 'other' }, null);
      await d.idle();
      assert.ok(proxy.connections >= 2, 'reconnected');
      assert.deepEqual([(await take(q))?.payload.alert_id, (await take(q))?.payload.alert_id, await take(q)], ['an_before', 'an_after', null]);
      assert.deepEqual(await dead.readAll(), []);
    } finally {
      await d.close();
      await proxy.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('security events: round trip into the pipeline; connection cut mid-stream three times; nothing lost, nothing ingested twice', async () => {
    const queue = `${RUN}.security`;
    queues.push(queue, `${queue}.dead`);
    exchanges.push(`${queue}.dlx`);
    const proxy = await new TcpProxy().start();
    const p = recordingPipeline();
    // Cut the connection from inside the ingest of message 100, 200 and 300: each is in the pipeline but its
    // ack can never reach the broker, so it comes back redelivered and must be recognised.
    p.onAccept((n) => {
      if (n % 100 === 0 && n < 400) proxy.cut();
    });
    const metrics = new SentinelMetrics(undefined, { defaultMetrics: false });
    const consumer = new SecurityEventConsumer({ url: proxy.url(), queue, pipeline: p.target, log, metrics, prefetch: 10, reconnect: FAST_RECONNECT });
    await consumer.start();
    try {
      await waitFor('the consumer to connect', () => consumer.connected);
      const N = 400;
      const now = Date.now();
      for (let i = 0; i < N; i++) {
        // Three kinds of dedupe key: the verdict's id, the AMQP message id, the content of a redelivery.
        const kind = i % 3;
        const event = { type: i % 2 ? 'jailbreak' : 'prompt_injection', service: 'chat', apiKeyId: 'key-1', route: `r-${i}`, timestamp: now - 1_000, ...(kind === 0 ? { id: `ev-${i}` } : {}) };
        ch.sendToQueue(queue, Buffer.from(JSON.stringify(event)), { persistent: true, ...(kind === 1 ? { messageId: `m-${i}` } : {}) });
      }
      await waitFor('every verdict', () => new Set(p.accepted.map((e) => e.route)).size === N, 15_000);
      await waitFor('the queue to drain', async () => (await ch.checkQueue(queue)).messageCount === 0);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(p.accepted.length, N, 'each verdict ingested exactly once');
      assert.ok(consumer.connectCount >= 4, `reconnected after each cut (${consumer.connectCount} connects)`);
      const text = await metrics.registry.metrics();
      const dups = Number(/sentinel_security_events_consumed_total\{outcome="duplicate"\} (\d+)/.exec(text)?.[1] ?? 0);
      assert.ok(dups >= 3, `redeliveries recognised as duplicates (${dups})`);
      assert.match(text, new RegExp(`sentinel_security_events_consumed_total\\{outcome="accepted"\\} ${N}\\b`));
    } finally {
      await consumer.close();
      await proxy.stop();
    }
  });

  test('broker-side close (rabbitmqctl close_connection): the consumer reconnects and keeps consuming', async (t) => {
    if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/rabbitmqctl')) return t.skip('needs root and rabbitmqctl');
    const queue = `${RUN}.forced`;
    queues.push(queue, `${queue}.dead`);
    exchanges.push(`${queue}.dlx`);
    const proxy = await new TcpProxy().start();
    const p = recordingPipeline();
    const consumer = new SecurityEventConsumer({ url: proxy.url(), queue, pipeline: p.target, log, reconnect: FAST_RECONNECT });
    await consumer.start();
    try {
      await waitFor('the consumer to connect', () => consumer.connected);
      const send = (i: number) => ch.sendToQueue(queue, Buffer.from(JSON.stringify({ id: `f-${i}`, type: 'jailbreak', service: 'chat', timestamp: Date.now() })));
      send(1);
      await waitFor('the first verdict', () => p.accepted.length === 1);
      const [port] = proxy.upstreamPorts();
      const run = promisify(execFile);
      const { stdout } = await run('rabbitmqctl', ['list_connections', 'pid', 'peer_port', '-q', '--no-table-headers'], { timeout: 15_000 });
      const pid = stdout
        .split('\n')
        .map((l) => l.split('\t'))
        .find(([, peer]) => Number(peer) === port)?.[0];
      assert.ok(pid, `the broker lists our connection (peer port ${port})`);
      await run('rabbitmqctl', ['close_connection', pid, 'sentinel test: forced close'], { timeout: 15_000 });
      await waitFor('the reconnect', () => consumer.connectCount >= 2, 10_000);
      send(2);
      await waitFor('the second verdict', () => p.accepted.length === 2);
      assert.deepEqual(p.accepted.map((e) => e.id), ['f-1', 'f-2']);
    } finally {
      await consumer.close();
      await proxy.stop();
    }
  });

  test('poison messages are dead-lettered with their reason and never block the queue, also on a queue declared without DLX arguments', async () => {
    for (const [queue, predeclared] of [
      [`${RUN}.poison`, false],
      [`${RUN}.plain`, true],
    ] as const) {
      queues.push(queue, `${queue}.dead`);
      exchanges.push(`${queue}.dlx`);
      if (predeclared) await ch.assertQueue(queue, { durable: true });
      const p = recordingPipeline();
      const consumer = new SecurityEventConsumer({ url: BROKER, queue, pipeline: p.target, log, reconnect: FAST_RECONNECT });
      await consumer.start();
      try {
        await waitFor('the consumer to connect', () => consumer.connected);
        const now = Date.now();
        ch.sendToQueue(queue, Buffer.from('{not json'), { messageId: 'bad-json' });
        ch.sendToQueue(queue, Buffer.from(JSON.stringify({ type: 1, service: 'chat', timestamp: now })), { messageId: 'bad-schema' });
        ch.sendToQueue(queue, Buffer.from(JSON.stringify([{ type: 'jailbreak', service: 'chat', timestamp: now }, { type: 'jailbreak', timestamp: now }])), {
          messageId: 'bad-schema-array',
        });
        ch.sendToQueue(queue, Buffer.from(JSON.stringify({ type: 'jailbreak', service: 'chat', timestamp: now + 86_400_000 })), { messageId: 'future' });
        ch.sendToQueue(queue, Buffer.from(JSON.stringify({ id: 'good-1', type: 'jailbreak', service: 'chat', timestamp: now })), { messageId: 'good' });
        await waitFor('the good verdict behind the poison', () => p.accepted.length === 1);
        assert.equal(p.accepted[0].id, 'good-1');
        await waitFor('four dead letters', async () => (await ch.checkQueue(`${queue}.dead`)).messageCount === 4);
        const dead: [string, unknown][] = [];
        const details = new Map<string, string>();
        for (let i = 0; i < 4; i++) {
          const m = await ch.get(`${queue}.dead`, { noAck: true });
          assert.ok(m);
          dead.push([m.properties.messageId, m.properties.headers?.['x-sentinel-reason']]);
          details.set(m.properties.messageId, String(m.properties.headers?.['x-sentinel-detail']));
        }
        assert.deepEqual(dead, [
          ['bad-json', 'invalid_json'],
          ['bad-schema', 'invalid_schema'],
          ['bad-schema-array', 'invalid_schema'],
          ['future', 'rejected_by_pipeline'],
        ]);
        // A schema violation names its field (the detail said "(root): Invalid input" for every one, QA).
        assert.match(details.get('bad-schema')!, /^type: /);
        assert.match(details.get('bad-schema-array')!, /^1\.service: /);
        assert.equal((await ch.checkQueue(queue)).messageCount, 0, 'nothing left behind');
      } finally {
        await consumer.close();
      }
    }
  });

  test('wired in the app: alerts of an HTTP-ingested incident reach the exchange; verdicts from the queue reach the pipeline', async () => {
    const exchange = `${RUN}.app-alerts`;
    const queue = `${RUN}.app-security`;
    exchanges.push(exchange, `${queue}.dlx`);
    queues.push(queue, `${queue}.dead`);
    const h = await startApp({ SENTINEL_AMQP_URL: BROKER, SENTINEL_AMQP_ALERT_EXCHANGE: exchange, SENTINEL_AMQP_SECURITY_QUEUE: queue });
    try {
      const metricsText = async () => (await h.app.http.inject({ method: 'GET', url: '/metrics' })).body;
      await waitFor('both AMQP roles connected', async () => {
        const m = await metricsText();
        return /sentinel_amqp_connected\{role="publisher"\} 1/.test(m) && /sentinel_amqp_connected\{role="consumer"\} 1/.test(m);
      });
      const tapQ = await tap(exchange, 'incidents.#');
      await ingest(h.app, latencyTraffic(trafficStart(), 40, new Set([25, 26, 27])));
      await h.app.alerting.dispatcher!.idle();
      const got = [await take(tapQ), await take(tapQ)];
      assert.deepEqual(got.map((g) => [g?.payload.event, g?.routingKey]), [
        ['opened', 'incidents.high-priority'],
        ['resolved', 'incidents.high-priority'],
      ]);
      for (let i = 0; i < 5; i++) ch.sendToQueue(queue, Buffer.from(JSON.stringify({ id: `app-${i}`, type: 'prompt_injection', service: 'chat', model: 'gpt-4o', timestamp: Date.now() })));
      await waitFor('five verdicts accepted', async () => /sentinel_security_events_consumed_total\{outcome="accepted"\} 5/.test(await metricsText()));
    } finally {
      await h.stop();
    }
  });
});
