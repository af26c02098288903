import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { App } from '../../src/app';
import type { AnomalyRecord } from '../../src/domain/types';
import { FakeLlm, latencyTraffic, memoryLogger, startApp, trafficStart, validAnswer, waitFor } from '../explain/helpers';
import { Receiver } from '../alerts/receiver';
import { AZURE_KEY, GITHUB_TOKEN, JWT, OPENAI_KEY } from '../credential-samples';

/**
 * "Secrets never appear in logs, metrics or alert payloads", black-box: credentials a careless client puts
 * into telemetry (a real `sk-...` key as apiKeyId, a JWT or `Bearer ...` as user, a key in a point label, an
 * OTLP attribute holding the key) and the service's own credentials (SENTINEL_API_KEYS, the LLM key, the
 * webhook secret, the PagerDuty routing key) are sent through every path, and everything that comes out
 * (anomaly records, /series, /scores, /metrics, webhook / Slack / PagerDuty bodies, dead letters, the LLM
 * prompt, logs, error bodies) is searched for them verbatim.
 */

// Telemetry-borne credentials.
// The service's own.
const ADMIN_KEY = 'sentinel-admin-Q7w8E9r0T1y2U3';
const READ_KEY = 'sentinel-reader-A1s2D3f4G5h6J7';
const LLM_KEY = 'sk-llm-0123456789abcdefSECRETKEY';
const WEBHOOK_SECRET = 'whsec-0123456789abcdefSIGNING';
const PD_ROUTING_KEY = 'R0UT1NGKEY0123456789abcdefABCDEF';

const TELEMETRY_SECRETS = [OPENAI_KEY, JWT, AZURE_KEY, GITHUB_TOKEN];
const SERVICE_SECRETS = [ADMIN_KEY, READ_KEY, LLM_KEY, WEBHOOK_SECRET, PD_ROUTING_KEY];
const ALL = [...TELEMETRY_SECRETS, ...SERVICE_SECRETS];

/** What the service shows instead of a credential found in telemetry (docs/API.md, "Credentials in telemetry"). */
const fp = (s: string) => 'sha256:' + createHash('sha256').update(s).digest('hex').slice(0, 12);
const auth = (key = ADMIN_KEY) => ({ authorization: `Bearer ${key}` });

function assertClean(where: string, text: string, secrets: readonly string[] = ALL): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${where} holds ${s.slice(0, 12)}... verbatim:\n${text.slice(Math.max(0, text.indexOf(s) - 300), text.indexOf(s) + 100)}`);
}

async function get(app: App, url: string, key = ADMIN_KEY): Promise<string> {
  const res = await app.http.inject({ method: 'GET', url, headers: auth(key) });
  assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
  return res.body;
}

async function ingest(app: App, events: Record<string, unknown>[]): Promise<void> {
  const res = await app.http.inject({ method: 'POST', url: '/api/v1/events', payload: events, headers: auth() });
  assert.equal(res.statusCode, 202, res.body);
  await app.pipeline.idle();
}

describe('credentials in telemetry and the service\'s own, through the whole service', () => {
  const llm = new FakeLlm();
  const hook = new Receiver();
  const down = new Receiver();
  const mem = memoryLogger('debug');
  let h: Awaited<ReturnType<typeof startApp>>;
  let app: App;

  before(async () => {
    await Promise.all([llm.start(), hook.start(), down.start()]);
    llm.reply = () => ({ content: validAnswer(['F1']) });
    // The unreachable sink answers with what a careless receiver echoes: the request's credentials.
    down.answer = () => ({ status: 503, body: `bad gateway for routing_key=${PD_ROUTING_KEY}` });
    h = await startApp(
      {
        SENTINEL_API_KEYS: `${ADMIN_KEY},${READ_KEY}:ro`,
        SENTINEL_SERIES_KEY: 'service,model,user,apiKeyId',
        SENTINEL_LLM_BASE_URL: llm.baseUrl,
        SENTINEL_LLM_API_KEY: LLM_KEY,
        SENTINEL_LLM_MODEL: 'test-model',
        SENTINEL_LLM_TIMEOUT: '2s',
        SENTINEL_WEBHOOK_URLS: hook.url('/hooks/ok'),
        SENTINEL_WEBHOOK_SECRET: WEBHOOK_SECRET,
        SENTINEL_SLACK_WEBHOOK_URL: hook.url('/slack'),
        SENTINEL_PAGERDUTY_ROUTING_KEY: PD_ROUTING_KEY,
        SENTINEL_PAGERDUTY_URL: down.url('/pd'),
        SENTINEL_WEBHOOK_ALLOWLIST: '127.0.0.1',
        SENTINEL_ALERT_MAX_ATTEMPTS: '2',
        SENTINEL_ALERT_RETRY_BASE: '5ms',
        SENTINEL_OTEL_API_KEY_ATTRIBUTES: 'app.api_key',
        SENTINEL_LOG_LEVEL: 'debug',
      },
      mem.log,
    );
    app = h.app;
    const start = trafficStart(150);
    // One series whose client put the real key in apiKeyId and a JWT in user, with a latency incident; one
    // whose key id is an ordinary id (it stays readable); one whose user is a bearer header value.
    const leaky = latencyTraffic(start, 80, new Set([25, 26, 27])).map((e) => ({ ...e, apiKeyId: OPENAI_KEY, user: JWT }));
    const plain = latencyTraffic(start, 80, new Set(), 9).map((e) => ({ ...e, apiKeyId: 'key-123', user: 'user-42', latencyMs: 500 }));
    const bearer = latencyTraffic(start, 80, new Set(), 11).map((e) => ({ ...e, apiKeyId: AZURE_KEY, user: `Bearer ${GITHUB_TOKEN}`, service: 'search' }));
    // And one that goes silent during an incident: after its longest reported gap (60 windows) the incident
    // resolves as stale, which is logged with its series key.
    const quiet = latencyTraffic(start, 15, new Set([12, 13, 14]), 13).map((e) => ({ ...e, apiKeyId: OPENAI_KEY, user: 'batch-user', service: 'batch' }));
    const all: Record<string, unknown>[] = [...leaky, ...plain, ...bearer, ...quiet];
    await ingest(app, all.sort((a, b) => (a.timestamp as number) - (b.timestamp as number)));
    await app.explainer!.idle();
    await app.alerting.dispatcher!.idle();
  });
  after(async () => {
    await h?.stop();
    await Promise.all([llm.stop(), hook.stop(), down.stop()]);
  });

  test('anomaly records (labels, series key, summary, markdown, evidence) show a fingerprint, never the credential', async () => {
    const body = await get(app, '/api/v1/anomalies');
    const items = (JSON.parse(body) as { items: AnomalyRecord[] }).items;
    assert.ok(items.length >= 1, 'the latency incident was found');
    const rec = items.find((r) => r.labels.service === 'chat' && r.labels.apiKeyId !== 'key-123');
    assert.ok(rec, body);
    assertClean('GET /api/v1/anomalies', body);
    assertClean('GET /api/v1/anomalies/:id', await get(app, `/api/v1/anomalies/${rec.id}`));
    // Per-key grouping survives: the same credential always maps to the same fingerprint.
    assert.equal(rec.labels.apiKeyId, fp(OPENAI_KEY));
    assert.equal(rec.labels.user, fp(JWT));
    assert.ok(rec.seriesKey.includes(`apiKeyId=${fp(OPENAI_KEY)}`), rec.seriesKey);
  });

  test('/series and /scores: credential-shaped principals are fingerprinted, ordinary ids stay readable', async () => {
    const series = await get(app, '/api/v1/series');
    assertClean('GET /api/v1/series', series);
    const labels = (JSON.parse(series) as { items: { labels: Record<string, string> }[] }).items.map((i) => i.labels);
    assert.ok(labels.some((l) => l.apiKeyId === 'key-123' && l.user === 'user-42'), 'ordinary ids are kept as sent');
    // A bearer header value is fingerprinted by its token, so "Bearer X" and "X" are one principal.
    assert.ok(labels.some((l) => l.apiKeyId === fp(AZURE_KEY) && l.user === fp(GITHUB_TOKEN)), JSON.stringify(labels));
    assertClean('GET /api/v1/scores', await get(app, '/api/v1/scores?limit=5'));
  });

  test('alert payloads (webhook, Slack, PagerDuty) and dead letters carry no credential', async () => {
    assert.ok(hook.received.some((r) => r.path === '/hooks/ok'), 'the webhook got the alert');
    assert.ok(hook.received.some((r) => r.path === '/slack'), 'Slack got the alert');
    // PagerDuty's own routing key must be in its request (that is how PagerDuty routes), and only there.
    assert.ok(down.received.length >= 1 && down.received.every((r) => r.body.includes(PD_ROUTING_KEY)));
    assertClean('PagerDuty request', down.received.map((r) => r.body.replaceAll(PD_ROUTING_KEY, '')).join('\n'));
    assertClean('webhook and Slack requests', hook.received.map((r) => JSON.stringify(r.headers) + r.body).join('\n'));
    const dead = await get(app, '/api/v1/alerts/dead-letters');
    assert.ok((JSON.parse(dead) as { total: number }).total >= 1, 'the PagerDuty alert was dead-lettered');
    assertClean('GET /api/v1/alerts/dead-letters', dead);
  });

  test('the explanation prompt sent to the LLM carries no credential', async () => {
    assert.ok(llm.requests.length >= 1, 'the LLM was asked');
    for (const r of llm.requests) {
      assert.equal(r.headers.authorization, `Bearer ${LLM_KEY}`, 'the LLM key goes in its header');
      assertClean('LLM prompt', r.raw);
    }
  });

  test('/metrics carries no credential', async () => {
    const res = await app.http.inject({ method: 'GET', url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assertClean('/metrics', res.body);
  });

  test('plain-series label values and OTLP attributes holding credentials are fingerprinted', async () => {
    const now = Date.now();
    // Enough points for the series to be scored and exported on /metrics (its `model` label is the gauge's).
    const points = Array.from({ length: 40 }, (_, i) => ({ series: 'queue_depth', labels: { host: 'a', token: OPENAI_KEY, model: `Bearer ${JWT}` }, timestamp: now - (40 - i) * 1000, value: 3 + (i % 5) }));
    const r = await app.http.inject({ method: 'POST', url: '/api/v1/series', payload: points, headers: auth() });
    assert.equal(r.statusCode, 202, r.body);
    const t0 = BigInt(trafficStart(65)) * 1_000_000n;
    const attr = (key: string, v: string) => ({ key, value: { stringValue: v } });
    const spans = Array.from({ length: 30 }, (_, i) => ({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: (0x1000 + i).toString(16).padStart(16, '0'),
      name: 'chat gpt-4o',
      kind: 3,
      startTimeUnixNano: String(t0 + BigInt(i) * 10_000_000_000n),
      endTimeUnixNano: String(t0 + BigInt(i) * 10_000_000_000n + 900_000_000n),
      attributes: [
        attr('gen_ai.operation.name', 'chat'),
        attr('gen_ai.request.model', 'gpt-4o'),
        attr('user.id', JWT),
        attr('app.api_key', OPENAI_KEY),
        attr('http.request.header.authorization', `Bearer ${GITHUB_TOKEN}`),
        { key: 'gen_ai.usage.input_tokens', value: { intValue: '100' } },
      ],
    }));
    const otlp = { resourceSpans: [{ resource: { attributes: [attr('service.name', 'otel-chat')] }, scopeSpans: [{ spans }] }] };
    const o = await app.http.inject({ method: 'POST', url: '/v1/traces', payload: otlp, headers: auth() });
    assert.equal(o.statusCode, 200, o.body);
    await app.pipeline.idle();
    const series = await get(app, '/api/v1/series');
    const items = (JSON.parse(series) as { items: { labels: Record<string, string> }[] }).items;
    assert.ok(items.some((i) => i.labels.series === 'queue_depth' && i.labels.token === fp(OPENAI_KEY) && i.labels.host === 'a'), series);
    assert.ok(items.some((i) => i.labels.service === 'otel-chat' && i.labels.user === fp(JWT) && i.labels.apiKeyId === fp(OPENAI_KEY)), series);
    assertClean('GET /api/v1/series (points, OTLP)', series);
    const metrics = (await app.http.inject({ method: 'GET', url: '/metrics' })).body;
    assert.ok(metrics.includes(`model="Bearer ${fp(JWT)}"`), 'the point series is exported under its fingerprinted label');
    assertClean('/metrics (points)', metrics);
  });

  test('POST /detect answers with fingerprints', async () => {
    const res = await app.http.inject({
      method: 'POST',
      url: '/api/v1/detect',
      payload: { events: [{ timestamp: Date.now() - 1000, service: 'chat', model: 'gpt-4o', apiKeyId: OPENAI_KEY, user: JWT, latencyMs: 900 }] },
      headers: auth(),
    });
    assert.equal(res.statusCode, 200, res.body);
    assertClean('POST /api/v1/detect', res.body);
    assert.equal(res.json().labels.apiKeyId, fp(OPENAI_KEY));
  });

  test('4xx answers name the field, never echo the credential; refused API keys are not echoed', async () => {
    const bodies: string[] = [];
    const send = async (payload: string | object, headers: Record<string, string> = auth(), url = '/api/v1/events', ct = 'application/json') => {
      const res = await app.http.inject({ method: 'POST', url, payload, headers: { 'content-type': ct, ...headers } });
      assert.ok(res.statusCode >= 400 && res.statusCode < 500 || res.statusCode === 200, `${res.statusCode}: ${res.body}`);
      bodies.push(res.body);
      return res;
    };
    const ts = new Date().toISOString();
    // A bad field next to a credential, an unknown field holding one, a credential too long for its field.
    let r = await send({ timestamp: ts, service: 'chat', model: 'm', apiKeyId: OPENAI_KEY, inputTokens: -1 });
    assert.equal(r.json().error.field, 'inputTokens');
    r = await send({ timestamp: ts, service: 'chat', model: 'm', authorization: `Bearer ${JWT}` });
    assert.equal(r.json().error.field, 'authorization');
    r = await send({ timestamp: ts, service: 'chat', model: 'm', user: `${GITHUB_TOKEN}`.repeat(10) });
    assert.equal(r.json().error.field, 'user');
    r = await send({ timestamp: OPENAI_KEY, service: 'chat', model: 'm' });
    assert.equal(r.json().error.field, 'timestamp');
    r = await send({ timestamp: ts, service: 'chat', model: 'm', status: JWT });
    assert.equal(r.json().error.field, 'status');
    r = await send([{ series: 'x', labels: { token: OPENAI_KEY.repeat(8) }, timestamp: ts, value: 1 }], auth(), '/api/v1/series');
    assert.equal(r.json().error.field, 'labels.token');
    // Not JSON: the parser's message quoted the text around the error (all of a short body); no longer.
    r = await send('sk-test-Abc123Def456');
    assert.equal(r.json().error.field, '(body)');
    assert.ok(!r.body.includes('Abc123'), r.body);
    await send(`{"apiKeyId": ${OPENAI_KEY}}`);
    await send(`${JWT}`);
    await send(`{"apiKeyId": "${OPENAI_KEY}"}\n{"user": ${AZURE_KEY}x}`, auth(), '/api/v1/events', 'application/x-ndjson');
    // Refused keys: a wrong key shaped like a real one, a read-only key writing, a key in x-api-key.
    r = await send({}, { authorization: `Bearer ${OPENAI_KEY}` });
    assert.equal(r.statusCode, 401);
    r = await send({}, auth(READ_KEY));
    assert.equal(r.statusCode, 403);
    r = await send({}, { 'x-api-key': GITHUB_TOKEN });
    assert.equal(r.statusCode, 401);
    const g = await app.http.inject({ method: 'GET', url: `/api/v1/scores?series=${encodeURIComponent(`apiKeyId=${OPENAI_KEY}`)}`, headers: { authorization: `Basic ${JWT}` } });
    assert.equal(g.statusCode, 401);
    bodies.push(g.body);
    for (const b of bodies) assertClean('error body', b);
  });

  test('logs carry none of it: not the telemetry credentials, not the service keys on success or refusal', async () => {
    // Wait for the log lines of the alert deliveries and explanations above.
    await waitFor('alert logs', () => mem.lines.some((l) => l.includes('alert undeliverable')));
    const logs = mem.lines.join('');
    assert.ok(logs.includes('event series silent for its longest reported gap'), 'the stale resolution (which names its series key) was logged');
    assertClean('logs', logs);
  });
});
