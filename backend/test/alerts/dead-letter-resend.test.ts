import { after, before, beforeEach, afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterStore } from '../../src/alerts/dead-letter';
import { resendDeadLetters } from '../../src/alerts/dead-letter-routes';
import { AlertDispatcher } from '../../src/alerts/dispatcher';
import type { AlertPayload } from '../../src/alerts/payload';
import { UrlGuard } from '../../src/alerts/url-guard';
import { EVENT_ID_HEADER, WebhookSink } from '../../src/alerts/webhook-sink';
import { createLogger } from '../../src/logger';
import { SentinelMetrics } from '../../src/metrics';
import { anomaly } from '../store/contract';
import { Receiver } from './receiver';

const log = createLogger('silent');
const FAST = { maxAttempts: 2, baseDelayMs: 5, maxDelayMs: 20 };

describe('resending dead letters through the real dispatcher and webhook sink', () => {
  const rx = new Receiver();
  let dir: string;
  let dead: DeadLetterStore;
  let metrics: SentinelMetrics;
  let d: AlertDispatcher;
  before(() => rx.start());
  after(() => rx.stop());
  beforeEach(() => {
    rx.received.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'sentinel-resend-'));
    dead = new DeadLetterStore(dir);
    metrics = new SentinelMetrics(undefined, { defaultMetrics: false });
    d = new AlertDispatcher({ sinks: [new WebhookSink({ url: rx.url('/hooks/T0KENPATH'), guard: new UrlGuard(['127.0.0.1']) })], deadLetters: dead, log, metrics, retry: FAST, random: () => 0.5 });
  });
  afterEach(async () => {
    await d.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** One "opened" alert that the receiver refuses until it is dead-lettered. */
  async function deadLettered(id: string): Promise<void> {
    rx.answer = () => ({ status: 503 });
    d.listener('opened', anomaly(id, Date.UTC(2026, 10, 22, 10), { seriesKey: `service=${id}` }), null);
    await d.idle();
  }

  test('the outbox is saved with the alert before the file forgets it (a crash in between sends twice, never zero times)', async () => {
    await deadLettered('an_r1');
    const [entry] = (await dead.read()).entries;
    const seen: { outbox: string[]; fileHasIt: boolean }[] = [];
    d.persistent = true;
    d.saveMemory = () => seen.push({ outbox: (d.memory().outbox ?? []).map((o) => o.payload.alert_id), fileHasIt: readFileSync(dead.path, 'utf8').includes('an_r1') });
    rx.answer = () => ({ status: 200 });
    const report = await resendDeadLetters(dead, d, { ids: [entry.id] }, { log, metrics });
    assert.deepEqual(seen, [{ outbox: ['an_r1'], fileHasIt: true }]);
    assert.deepEqual(report.items.map((x) => [x.id, x.outcome, x.removed]), [[entry.id, 'resent', true]]);
    assert.deepEqual(await dead.readAll(), []);
    await d.idle();
    const delivered = rx.delivered<AlertPayload>();
    assert.deepEqual(delivered.map((p) => p.alert_id), ['an_r1']);
    // The same event id as the failed attempts: a receiver that did get one of them dedupes.
    assert.equal(rx.received.at(-1)!.headers[EVENT_ID_HEADER], rx.received[0].headers[EVENT_ID_HEADER]);
    const text = await metrics.registry.metrics();
    assert.match(text, /sentinel_alerts_sent_total\{sink="webhook",outcome="delivered"\} 1/);
    assert.match(text, /sentinel_alerts_resent_total\{outcome="resent"\} 1/);
  });

  test('when the outbox cannot be saved, the alert is resent but stays in the file', async () => {
    await deadLettered('an_r2');
    d.persistent = true;
    d.saveMemory = () => {
      throw new Error('disk full');
    };
    rx.answer = () => ({ status: 200 });
    const report = await resendDeadLetters(dead, d, { filter: { alertId: 'an_r2' } }, { log, metrics });
    assert.deepEqual(report.items.map((x) => [x.outcome, x.removed]), [['resent', false]]);
    assert.equal(report.kept, 0);
    assert.equal((await dead.readAll()).length, 1);
    await d.idle();
    assert.equal(rx.delivered().length, 1);
  });

  test('an alert that fails again is dead-lettered again, as a new entry', async () => {
    await deadLettered('an_r3');
    const [old] = (await dead.read()).entries;
    const report = await resendDeadLetters(dead, d, { filter: { sink: 'webhook' } }, { log, metrics });
    assert.equal(report.resent, 1);
    await d.idle();
    const now = (await dead.read()).entries;
    assert.equal(now.length, 1);
    assert.equal(now[0].alertId, 'an_r3');
    assert.notEqual(now[0].id, old.id);
    assert.equal(rx.received.length, 2 * FAST.maxAttempts, 'the resend went through the retries');
  });

  test('a sink at its pending limit takes nothing: the entries stay (busy), not dead-lettered once more', async () => {
    const small = new AlertDispatcher({ sinks: [new WebhookSink({ url: rx.url('/h'), guard: new UrlGuard(['127.0.0.1']) })], deadLetters: dead, log, retry: { maxAttempts: 50, baseDelayMs: 1_000, maxDelayMs: 1_000 }, maxPending: 1, flushTimeoutMs: 1 });
    const sink = small.sinkNames[0];
    rx.answer = () => ({ status: 503 });
    small.listener('opened', anomaly('an_busy', Date.UTC(2026, 10, 22, 10)), null); // stays pending, retrying
    const base = { sink, alertId: 'an_x', event: 'opened' as const, attempts: 1, error: 'x', at: new Date().toISOString() };
    await dead.append({ ...base, payload: { alert_id: 'an_x', event: 'opened' } as AlertPayload });
    const report = await resendDeadLetters(dead, small, { filter: {} }, { log });
    assert.deepEqual(report.items.map((x) => [x.outcome, x.removed]), [['busy', false]]);
    assert.equal(report.kept, 1);
    await small.close();
    // The pending one was dead-lettered at close; the busy one is still there once, not twice.
    assert.deepEqual((await dead.readAll()).map((x) => x.alertId).sort(), ['an_busy', 'an_x']);
  });
});
