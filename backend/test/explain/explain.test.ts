import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { App } from '../../src/app';
import type { AnomalyRecord } from '../../src/domain/types';
import { FakeLlm, PII, ingest, latencyTraffic, memoryLogger, startApp, trafficStart, validAnswer } from './helpers';

const LLM_KEY = 'sk-test-0123456789abcdefSECRETKEY';
const SERIES_WITH_IDENTITIES = 'service,model,user,apiKeyId';

const promptOf = (llm: FakeLlm, i: number) => llm.requests[i].body.messages.map((m) => m.content).join('\n');

async function anomalies(app: App): Promise<AnomalyRecord[]> {
  const res = await app.http.inject({ method: 'GET', url: '/api/v1/anomalies' });
  assert.equal(res.statusCode, 200);
  return (res.json() as { items: AnomalyRecord[] }).items;
}

async function getAnomaly(app: App, id: string): Promise<AnomalyRecord> {
  const res = await app.http.inject({ method: 'GET', url: `/api/v1/anomalies/${id}` });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as AnomalyRecord;
}

const explain = (app: App, id: string, body?: unknown) =>
  app.http.inject({ method: 'POST', url: `/api/v1/anomalies/${id}/explain`, ...(body === undefined ? {} : { payload: body as object }) });

describe('LLM explanations through the real app and HTTP API', () => {
  const llm = new FakeLlm();
  const mem = memoryLogger('debug');
  let h: Awaited<ReturnType<typeof startApp>>;
  let app: App;
  let first: AnomalyRecord;
  let second: AnomalyRecord;
  const start = trafficStart(180);

  before(async () => {
    await llm.start();
    h = await startApp(
      {
        SENTINEL_LLM_BASE_URL: llm.baseUrl,
        SENTINEL_LLM_API_KEY: LLM_KEY,
        SENTINEL_LLM_MODEL: 'test-model',
        // Roomy enough for a loaded 2-core CI machine; the timeout test pays it twice.
        SENTINEL_LLM_TIMEOUT: '1s',
        SENTINEL_SERIES_KEY: SERIES_WITH_IDENTITIES,
      },
      mem.log,
    );
    app = h.app;
  });
  after(async () => {
    await h?.stop();
    await llm.stop();
  });

  test('an anomaly from events posted over HTTP gets a validated LLM explanation, shown with its evidence', async () => {
    llm.reply = () => ({ content: validAnswer(['F1', 'N1']) });
    await ingest(app, latencyTraffic(start, 40, new Set([25, 26, 27])));
    await app.explainer!.idle();
    const items = await anomalies(app);
    assert.equal(items.length, 1);
    first = await getAnomaly(app, items[0].id);
    const e = first.explanation;
    assert.equal(e.source, 'llm');
    assert.equal(e.model, 'test-model');
    assert.equal(e.confidence, 0.72);
    assert.deepEqual(e.evidenceRefs, ['F1', 'N1']);
    assert.match(e.rootCause!, /Upstream model latency/);
    assert.ok(e.immediateFix && e.longTermFix && e.generatedAt);
    // The evidence object is kept as the pipeline produced it, and its markdown follows the LLM's sections.
    assert.ok(e.evidence.features.length > 0);
    assert.ok(e.evidence.nearestNormal.length > 0);
    assert.match(e.markdown, /### Likely root cause[\s\S]*#### Evidence[\s\S]*### What moved/);

    assert.equal(llm.requests.length, 1, 'asked once for one incident, though it was updated several times');
    const req = llm.requests[0];
    assert.equal(req.body.model, 'test-model');
    assert.equal(req.body.response_format?.type, 'json_schema');
    assert.equal(req.headers.authorization, `Bearer ${LLM_KEY}`);
    const prompt = promptOf(llm, 0);
    const top = first.attributions[0];
    assert.match(prompt, new RegExp(`"feature": "${top.feature}"`));
    assert.match(prompt, /"expected": \d/);
    assert.match(prompt, /"normalRange": \[/);
    assert.match(prompt, /"nearestNormalWindows": \[\s*\{\s*"ref": "N1"/);
    for (const pii of [PII.user, PII.apiKeyId, LLM_KEY]) assert.ok(!prompt.includes(pii), `${pii} reached the prompt`);
    assert.ok(!/\b\d{1,3}(\.\d{1,3}){3}\b/.test(prompt), 'no IPv4 address in the prompt');
  });

  test('a confirmed cause from feedback is retrieved into the next similar prompt (RAG), redacted; invalid output twice leaves the evidence explanation', async () => {
    const fb = await app.http.inject({
      method: 'POST',
      url: '/api/v1/feedback',
      payload: { anomalyId: first.id, verdict: 'true_positive', note: 'retry storm from 10.20.30.40, reported by oncall@corp.example' },
    });
    assert.equal(fb.statusCode, 200, fb.body);
    const before = llm.requests.length;
    llm.reply = () => ({ content: 'The latency went up because of a retry storm.' });
    await ingest(app, latencyTraffic(start + 40 * 60_000, 30, new Set([20, 21, 22]), 8));
    await app.explainer!.idle();
    second = (await anomalies(app)).find((a) => a.id !== first.id)!;
    assert.ok(second, 'a second incident');

    assert.equal(llm.requests.length, before + 2, 'one request and exactly one retry');
    const prompt = promptOf(llm, before);
    assert.match(prompt, /"similarPastIncidents": \[\s*\{\s*"ref": "I1"/);
    assert.match(prompt, /"confirmedCause": "retry storm from \[ip\], reported by \[email\]"/);
    assert.ok(!prompt.includes('10.20.30.40') && !prompt.includes('oncall@corp.example'));
    const retry = llm.requests[before + 1].body.messages;
    assert.equal(retry.at(-2)?.role, 'assistant');
    assert.match(retry.at(-1)!.content, /could not be used: the reply is not valid JSON/);

    const stored = await getAnomaly(app, second.id);
    assert.equal(stored.explanation.source, 'evidence', 'the evidence explanation stands');
    assert.equal(stored.explanation.rootCause, undefined);
  });

  test('POST /explain re-asks on demand: an invalid first answer is retried once and the valid one stored', async () => {
    const before = llm.requests.length;
    llm.reply = (_r, n) => ({ content: n === before ? '{"summary": "half an answer"}' : validAnswer(['F1', 'I1']) });
    const res = await explain(app, second.id);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { outcome: string; explanation: AnomalyRecord['explanation'] };
    assert.equal(body.outcome, 'llm');
    assert.deepEqual(body.explanation.evidenceRefs, ['F1', 'I1']);
    assert.equal(llm.requests.length, before + 2);
    assert.match(llm.requests[before + 1].body.messages.at(-1)!.content, /rootCause/);
    const stored = await getAnomaly(app, second.id);
    assert.equal(stored.explanation.source, 'llm');
    assert.deepEqual(stored.explanation.evidence, second.explanation.evidence, 'evidence kept');
  });

  test('cache by anomaly id: not forced answers from the cache without a call; forced asks again', async () => {
    const before = llm.requests.length;
    const cached = await explain(app, first.id, { force: false });
    assert.equal(cached.statusCode, 200, cached.body);
    assert.equal((cached.json() as { outcome: string }).outcome, 'cached');
    assert.equal(llm.requests.length, before);
    llm.reply = () => ({ content: validAnswer(['F2']) });
    const again = await explain(app, first.id);
    assert.equal((again.json() as { outcome: string }).outcome, 'llm');
    assert.equal(llm.requests.length, before + 1);
    assert.deepEqual((await getAnomaly(app, first.id)).explanation.evidenceRefs, ['F2'], 'the new answer replaced the old');
  });

  test('a slow endpoint times out (headers late, or body stalled): 503 llm_timeout, the record keeps its explanation', async () => {
    for (const reply of [{ delayMs: 5_000 }, { stallBody: true }]) {
      llm.reply = () => ({ content: validAnswer(), ...reply });
      const t0 = Date.now();
      const res = await explain(app, first.id);
      const took = Date.now() - t0;
      assert.equal(res.statusCode, 503, res.body);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'llm_timeout');
      assert.ok(took >= 950 && took < 4_000, `took ${took} ms with a 1 s timeout`);
    }
    assert.equal((await getAnomaly(app, first.id)).explanation.source, 'llm');
  });

  test('a failing endpoint opens the circuit breaker: 503 with Retry-After and no more calls while open', async () => {
    llm.reply = () => ({ status: 500, raw: JSON.stringify({ error: { message: 'upstream exploded' } }) });
    // Two timeouts above already count; three 500s make the five in a row that open it.
    for (let i = 0; i < 3; i++) {
      const res = await explain(app, first.id);
      assert.equal(res.statusCode, 503, res.body);
      assert.equal((res.json() as { error: { code: string } }).error.code, 'llm_unavailable');
    }
    const calls = llm.requests.length;
    const refused = await explain(app, first.id);
    assert.equal(refused.statusCode, 503);
    const err = (refused.json() as { error: { code: string; message: string } }).error;
    assert.equal(err.code, 'llm_unavailable');
    assert.match(err.message, /failed repeatedly/);
    assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After set');
    assert.equal(llm.requests.length, calls, 'no call while the breaker is open');
    const metrics = await app.http.inject({ method: 'GET', url: '/metrics' });
    assert.match(metrics.body, /^sentinel_llm_circuit_open 1$/m);
    assert.match(metrics.body, /^sentinel_explanations_total\{outcome="timeout"\} 2$/m);
  });

  test('unknown id: 404; the LLM key never reaches the logs', async () => {
    const res = await explain(app, 'an_doesnotexist');
    assert.equal(res.statusCode, 404);
    assert.equal((res.json() as { error: { code: string } }).error.code, 'not_found');
    const logs = mem.lines.join('');
    assert.ok(logs.includes('LLM explanations on'), 'the logger did capture the service logs');
    assert.ok(!logs.includes(LLM_KEY), 'LLM API key in the logs');
  });
});

describe('without an LLM configured', () => {
  test('POST /explain: 404 for an unknown id, 503 llm_not_configured for a real anomaly', async () => {
    const h = await startApp({});
    try {
      assert.equal(h.app.explainer, null);
      await ingest(h.app, latencyTraffic(trafficStart(60), 36, new Set([25, 26])));
      const [a] = (await h.app.http.inject({ method: 'GET', url: '/api/v1/anomalies' })).json().items as AnomalyRecord[];
      assert.ok(a, 'an anomaly');
      assert.equal(a.explanation.source, 'evidence');
      assert.equal((await explain(h.app, 'an_nope')).statusCode, 404);
      const res = await explain(h.app, a.id);
      assert.equal(res.statusCode, 503);
      const err = (res.json() as { error: { code: string; message: string } }).error;
      assert.equal(err.code, 'llm_not_configured');
      assert.match(err.message, /SENTINEL_LLM_BASE_URL/);
    } finally {
      await h.stop();
    }
  });
});
