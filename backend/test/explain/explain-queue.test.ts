import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnomalyRecord } from '../../src/domain/types';
import { ExplainQueueFullError, LlmCircuitOpenError } from '../../src/explain/errors';
import { ExplainQueue, type ExplainBackend } from '../../src/explain/explain-queue';
import { LlmExplainer } from '../../src/explain/llm-explainer';
import { createLogger } from '../../src/logger';
import { SqliteStore } from '../../src/store/sqlite-store';
import { anomaly } from '../store/contract';
import { FakeLlm, validAnswer, waitFor } from './helpers';

const log = createLogger('silent');

/** The real adapter, counting how many calls are in flight at once. */
class Counting implements ExplainBackend {
  inFlight = 0;
  maxInFlight = 0;
  constructor(readonly inner: LlmExplainer) {}
  get model() {
    return this.inner.model;
  }
  async explain(...a: Parameters<LlmExplainer['explain']>) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      return await this.inner.explain(...a);
    } finally {
      this.inFlight--;
    }
  }
}

const withVector = (id: string, t: number, over: Partial<AnomalyRecord> = {}): AnomalyRecord => anomaly(id, t, { vector: [1, 0, 0, 0], ...over });

describe('ExplainQueue', () => {
  const llm = new FakeLlm();
  let store: SqliteStore;
  let backend: Counting;

  before(async () => {
    await llm.start();
  });
  after(async () => {
    await llm.stop();
  });
  beforeEach(async () => {
    store = new SqliteStore(':memory:');
    await store.init();
    llm.requests.length = 0;
    llm.reply = () => ({ content: validAnswer(['F1']) });
    backend = new Counting(new LlmExplainer({ baseUrl: llm.baseUrl, model: 'm', timeoutMs: 1_000, log }));
  });

  test('retrieves similar incident patterns from the store with their confirmed causes (never the anomaly itself), redacted', async () => {
    const rec = withVector('an_now', Date.UTC(2026, 10, 22, 10));
    await store.saveAnomaly(rec);
    await store.upsertPatterns([
      { id: 'tp:an_past', seriesKey: rec.seriesKey, kind: 'incident', timestamp: Date.UTC(2026, 10, 1), vector: Float32Array.of(1.1, 0, 0, 0), meta: { anomalyId: 'an_past', type: 'cost_spike', cause: 'switched to gpt-4 by key sk-abcdefghijklmnop123456' } },
      { id: 'tp:an_now', seriesKey: rec.seriesKey, kind: 'incident', timestamp: Date.UTC(2026, 10, 22, 10), vector: Float32Array.of(1, 0, 0, 0), meta: { anomalyId: 'an_now', type: 'latency_spike' } },
      { id: 'normal-1', seriesKey: rec.seriesKey, kind: 'normal', timestamp: Date.UTC(2026, 10, 21), vector: Float32Array.of(0, 1, 0, 0) },
    ]);
    llm.reply = () => ({ content: validAnswer(['F1', 'I1']) });
    const q = new ExplainQueue({ store, backend, log });
    const r = await q.request('an_now', { force: false });
    assert.equal(r.outcome, 'llm');
    const prompt = llm.requests[0].body.messages[1].content;
    const evidence = JSON.parse(/```json\n([\s\S]*)\n```/.exec(prompt)![1]);
    assert.equal(evidence.similarPastIncidents.length, 1);
    assert.deepEqual(evidence.similarPastIncidents[0], { ref: 'I1', type: 'cost_spike', when: '2026-11-01T00:00:00.000Z', distance: 0.1, confirmedCause: 'switched to gpt-4 by key [secret]' });
    const stored = await store.getAnomaly('an_now');
    assert.equal(stored!.explanation.source, 'llm');
    assert.deepEqual(stored!.explanation.evidenceRefs, ['F1', 'I1']);
    await q.close();
  });

  test('runs at most `concurrency` calls at once and coalesces requests for one id', async () => {
    for (let i = 0; i < 6; i++) await store.saveAnomaly(withVector(`an_${i}`, Date.UTC(2026, 10, 22, 10, i)));
    llm.reply = () => ({ content: validAnswer(), delayMs: 40 });
    const q = new ExplainQueue({ store, backend, log, concurrency: 2 });
    const reports = await Promise.all([...Array(6).keys()].flatMap((i) => [q.request(`an_${i}`, { force: false }), q.request(`an_${i}`, { force: false })]));
    assert.ok(reports.every((r) => r.outcome === 'llm'));
    assert.equal(llm.requests.length, 6, 'one call per id');
    assert.equal(backend.maxInFlight, 2);
    // Answered ids are cached: asking again without force makes no call.
    assert.equal((await q.request('an_3', { force: false })).outcome, 'cached');
    assert.equal(llm.requests.length, 6);
    await q.close();
  });

  test('bounded queue: a burst drops the oldest automatic jobs; an on-demand request is refused when full', async () => {
    for (let i = 0; i < 5; i++) await store.saveAnomaly(withVector(`an_${i}`, Date.UTC(2026, 10, 22, 10, i)));
    llm.reply = () => ({ content: validAnswer(), delayMs: 60 });
    const q = new ExplainQueue({ store, backend, log, concurrency: 1, maxQueue: 2 });
    const first = q.request('an_0', { force: false });
    await waitFor('the first job to start', () => q.depth === 0);
    const queued = [1, 2, 3, 4].map((i) => q.request(`an_${i}`, { force: false }));
    assert.throws(() => q.request('an_new', { force: true }), ExplainQueueFullError);
    const outcomes = (await Promise.all([first, ...queued])).map((r) => `${r.anomalyId}:${r.outcome}`);
    assert.deepEqual(outcomes, ['an_0:llm', 'an_1:dropped', 'an_2:dropped', 'an_3:llm', 'an_4:llm']);
    await q.close();
  });

  test('a cached answer the pipeline dropped by rewriting the record is put back by the listener', async () => {
    const rec = withVector('an_x', Date.UTC(2026, 10, 22, 10));
    await store.saveAnomaly(rec);
    const q = new ExplainQueue({ store, backend, log });
    assert.equal((await q.request('an_x', { force: false })).outcome, 'llm');
    // What IncidentTracker does on a stronger update: a fresh evidence explanation replaces the old one.
    const rewritten: AnomalyRecord = {
      ...rec,
      windows: 3,
      explanation: { ...rec.explanation, summary: 'newer evidence', markdown: 'new md', evidence: { ...rec.explanation.evidence, features: rec.attributions } },
    };
    await store.saveAnomaly(rewritten);
    await q.listener('updated', rewritten, null);
    const stored = (await store.getAnomaly('an_x'))!;
    assert.equal(stored.explanation.source, 'llm');
    assert.equal(stored.windows, 3, 'the pipeline update is kept');
    assert.deepEqual(stored.explanation.evidence.features, rec.attributions, 'with the newest evidence');
    assert.match(stored.explanation.markdown, /#### Evidence\n\nnew md$/);
    assert.equal(llm.requests.length, 1, 'without asking again');
    await q.close();
  });

  test('an escalated incident, or one rewritten after a restart, is explained again rather than given the old answer', async () => {
    const rec = withVector('an_y', Date.UTC(2026, 10, 22, 10), { severity: 'medium' });
    await store.saveAnomaly(rec);
    const q = new ExplainQueue({ store, backend, log });
    assert.equal((await q.request('an_y', { force: false })).outcome, 'llm');
    const escalated: AnomalyRecord = { ...rec, severity: 'critical', score: 9, explanation: { ...rec.explanation, summary: 'far stronger window' } };
    await store.saveAnomaly(escalated);
    await q.listener('updated', escalated, null);
    await waitFor('the new answer', async () => (await store.getAnomaly('an_y'))!.explanation.source === 'llm');
    assert.equal(llm.requests.length, 2, 'asked again for the escalated incident');
    // Still critical, but three times as strong: other numbers than the answer quotes.
    const stronger: AnomalyRecord = { ...escalated, score: 27, explanation: { ...rec.explanation, summary: 'three times stronger' } };
    await store.saveAnomaly(stronger);
    await q.listener('updated', stronger, null);
    await waitFor('the third answer', async () => (await store.getAnomaly('an_y'))!.explanation.source === 'llm');
    assert.equal(llm.requests.length, 3, 'asked again for a much stronger window of the same severity');
    await q.close();

    // A new process has no answers in memory; the pipeline's next rewrite drops the stored one.
    const q2 = new ExplainQueue({ store, backend, log });
    const rewritten: AnomalyRecord = { ...stronger, score: 28, explanation: { ...rec.explanation, summary: 'stronger still' } };
    await store.saveAnomaly(rewritten);
    await q2.listener('updated', rewritten, null);
    await waitFor('an answer after the restart', async () => (await store.getAnomaly('an_y'))!.explanation.source === 'llm');
    assert.equal(llm.requests.length, 4, 'explained again, not left without an answer');
    await q2.close();
  });

  test('an incident whose explanation failed is not asked again on every window: only when it changed or after a doubling delay', async () => {
    const rec = withVector('an_f', Date.UTC(2026, 10, 22, 10), { severity: 'medium', score: 2 });
    await store.saveAnomaly(rec);
    let clock = Date.UTC(2026, 10, 22, 10, 1);
    const q = new ExplainQueue({ store, backend, log, now: () => clock });
    // Unusable output (one call and its retry): it counts as the endpoint being up, so no breaker stops it.
    llm.reply = () => ({ content: 'not an answer' });
    const window = async (over: Partial<AnomalyRecord> = {}) => {
      clock += 60_000;
      const r: AnomalyRecord = { ...rec, windows: rec.windows + 1, ...over };
      await store.saveAnomaly(r);
      await q.listener('updated', r, null);
      await q.idle();
    };
    await q.listener('opened', rec, null);
    await q.idle();
    assert.equal(llm.requests.length, 2);
    for (let i = 0; i < 3; i++) await window({ score: 2.5 });
    assert.equal(llm.requests.length, 2, 'three more windows of the same incident: not asked again');
    clock += 5 * 60_000;
    await window({ score: 2.5 });
    assert.equal(llm.requests.length, 4, 'asked again 5 minutes after the failure');
    await window({ score: 2.5 });
    clock += 5 * 60_000;
    await window({ score: 2.5 });
    assert.equal(llm.requests.length, 4, 'the second failure waits 10 minutes');
    await window({ severity: 'critical', score: 6 });
    assert.equal(llm.requests.length, 6, 'an escalation is asked at once');
    // The endpoint refuses this prompt (400) while it answers the others: each refusal waits longer too.
    llm.reply = () => ({ status: 400, raw: '{"error":{"message":"maximum context length exceeded"}}' });
    await window({ severity: 'critical', score: 20 });
    assert.equal(llm.requests.length, 7);
    await window({ severity: 'critical', score: 20 });
    assert.equal(llm.requests.length, 7);
    // On demand is never held back, and a success ends the waiting.
    llm.reply = () => ({ content: validAnswer() });
    assert.equal((await q.request('an_f', { force: true })).outcome, 'llm');
    assert.equal(llm.requests.length, 8);
    await q.close();
  });

  test('breaker: opens after the threshold, refuses without calling, lets one probe through after the open period, closes on success', async () => {
    await store.saveAnomaly(withVector('an_b', Date.UTC(2026, 10, 22, 10)));
    llm.reply = () => ({ status: 503, raw: '{"error":{"message":"overloaded"}}' });
    const q = new ExplainQueue({ store, backend, log, breaker: { failureThreshold: 2, openMs: 150 } });
    assert.equal((await q.request('an_b', { force: true })).outcome, 'error');
    assert.equal((await q.request('an_b', { force: true })).outcome, 'error');
    assert.equal(q.breaker.state, 'open');
    assert.throws(() => q.request('an_b', { force: true }), LlmCircuitOpenError);
    assert.equal((await q.request('an_b', { force: false })).outcome, 'breaker_open', 'automatic jobs end at once');
    assert.equal(llm.requests.length, 2);
    await waitFor('the open period to pass', () => q.breaker.state === 'half_open', 2_000);
    llm.reply = () => ({ content: validAnswer() });
    assert.equal((await q.request('an_b', { force: true })).outcome, 'llm');
    assert.equal(q.breaker.state, 'closed');
    await q.close();
  });

  test('close cancels waiting jobs and aborts the running call promptly', async () => {
    for (let i = 0; i < 3; i++) await store.saveAnomaly(withVector(`an_${i}`, Date.UTC(2026, 10, 22, 10, i)));
    llm.reply = () => ({ content: validAnswer(), delayMs: 5_000 });
    const q = new ExplainQueue({ store, backend, log, concurrency: 1 });
    const jobs = [0, 1, 2].map((i) => q.request(`an_${i}`, { force: false }));
    await waitFor('the call to reach the endpoint', () => llm.requests.length === 1);
    const t0 = Date.now();
    await q.close();
    assert.ok(Date.now() - t0 < 500, 'close did not wait for the slow call');
    assert.deepEqual((await Promise.all(jobs)).map((r) => r.outcome), ['cancelled', 'cancelled', 'cancelled']);
    assert.equal(q.breaker.state, 'closed', 'a cancellation is no endpoint failure');
  });
});
