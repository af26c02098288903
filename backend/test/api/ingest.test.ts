import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { event, minutesAgo, post, startServer, type TestServer } from '../helpers';

describe('POST /api/v1/events and /series: input handling', () => {
  let s: TestServer;
  const t = minutesAgo(5);
  before(async () => {
    s = await startServer({ SENTINEL_BODY_LIMIT: String(1024 * 1024) });
  });
  after(() => s.close());

  test('a single object, a JSON array and NDJSON are accepted', async () => {
    let r = await post(`${s.url}/api/v1/events`, event(t));
    assert.equal(r.status, 202);
    assert.deepEqual(await r.json(), { accepted: 1, rejected: [] });
    r = await post(`${s.url}/api/v1/events`, [event(t + 1), event(t + 2)]);
    assert.equal((await r.json()).accepted, 2);
    const nd = [event(t + 3), event(t + 4)].map((e) => JSON.stringify(e)).join('\n') + '\n';
    r = await post(`${s.url}/api/v1/events`, nd, { 'content-type': 'application/x-ndjson' });
    assert.equal(r.status, 202);
    assert.equal((await r.json()).accepted, 2);
  });

  test('values past any real request are refused by name; an all-bad batch over 1,000 still says how many', async () => {
    const r = await post(`${s.url}/api/v1/events`, [{ ...event(t + 20), latencyMs: 1e39 }, { ...event(t + 21), costUsd: 1.7e308 }, { ...event(t + 22), ttftMs: 9e7 }]);
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.deepEqual(body.rejected.map((x: { field: string }) => x.field), ['latencyMs', 'costUsd', 'ttftMs']);
    const many = await post(`${s.url}/api/v1/events`, Array.from({ length: 1500 }, (_, i) => ({ ...event(t + i), inputTokens: -1 })));
    assert.equal(many.status, 400);
    const m = await many.json();
    assert.equal(m.rejected.length, 1000);
    assert.equal(m.rejectedTotal, 1500);
  });

  test('a gzip body is inflated; an encoding the service does not speak is a 415', async () => {
    const { gzipSync } = await import('node:zlib');
    const body = gzipSync(JSON.stringify([event(t + 30), event(t + 31)]));
    const r = await fetch(`${s.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body });
    assert.equal(r.status, 202, await r.clone().text());
    assert.equal((await r.json()).accepted, 2);
    const br = await fetch(`${s.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: JSON.stringify(event(t + 32)) });
    assert.equal(br.status, 415);
    assert.deepEqual(((await br.json()) as { error: object }).error, { code: 'unsupported_media_type', message: 'unsupported Content-Encoding "br": use gzip or none', field: 'content-encoding' });
    const torn = await fetch(`${s.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: body.subarray(0, 20) });
    assert.equal(torn.status, 400);
    const tornError = ((await torn.json()) as { error: { code: string; field: string } }).error;
    assert.deepEqual([tornError.code, tornError.field], ['invalid_request', '(body)'], 'the REST error shape, not OTLP\'s');
  });

  test('a point label named "series" is refused (it would replace the series name)', async () => {
    const r = await post(`${s.url}/api/v1/series`, { series: 'cpu', labels: { series: 'other' }, timestamp: t, value: 1 });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.field, 'labels');
  });

  test('router errors (a URL that does not decode, a long id) have the API error shape', async () => {
    const bad = await fetch(`${s.url}/api/v1/anomalies/%00%ff`);
    assert.equal(bad.status, 400);
    assert.deepEqual(Object.keys((await bad.json()).error).sort(), ['code', 'field', 'message']);
    const long = await fetch(`${s.url}/api/v1/anomalies/${'a'.repeat(300)}`);
    assert.equal(long.status, 404);
    assert.equal((await long.json()).error.code, 'not_found');
    const scores = await fetch(`${s.url}/api/v1/scores?feature=bogus`);
    assert.equal(scores.status, 400);
    assert.equal((await scores.json()).error.field, 'feature');
  });

  test('a bad record is rejected with its index and field; good records in the batch are kept', async () => {
    const before = (await (await fetch(`${s.url}/metrics`)).text()).match(/^sentinel_events_ingested_total (\d+)/m)![1];
    const r = await post(`${s.url}/api/v1/events`, [
      event(t + 10),
      { ...event(t + 11), inputTokens: -5 },
      { ...event(t + 12), latencyMs: 'slow' },
      { ...event(t + 13), extra: true },
      event(t + 14),
      { ...event(t + 15), timestamp: 'yesterday' },
      { ...event(t + 16), status: 'weird' },
    ]);
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(body.accepted, 2);
    assert.deepEqual(
      body.rejected.map((x: { index: number; field: string }) => [x.index, x.field]),
      [
        [1, 'inputTokens'],
        [2, 'latencyMs'],
        [3, 'extra'],
        [5, 'timestamp'],
        [6, 'status'],
      ],
    );
    assert.match(body.rejected[2].message, /unknown field/);
    const afterCount = (await (await fetch(`${s.url}/metrics`)).text()).match(/^sentinel_events_ingested_total (\d+)/m)![1];
    assert.equal(Number(afterCount) - Number(before), 2);
  });

  test('a batch where every record is bad is a 400 naming the first field', async () => {
    const r = await post(`${s.url}/api/v1/events`, [{ service: 'x' }]);
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(body.error.field, 'timestamp');
    assert.equal(body.accepted, 0);
  });

  test('malformed JSON is a 400 naming the body', async () => {
    const r = await post(`${s.url}/api/v1/events`, '[{"timestamp": 1,');
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.field, '(body)');
  });

  test('a bad NDJSON line is rejected by index and line, the others kept', async () => {
    const nd = `${JSON.stringify(event(t + 20))}\n\n\n{not json}\n${JSON.stringify(event(t + 21))}\n${JSON.stringify({ ...event(t + 22), inputTokens: -1 })}\n`;
    const r = await post(`${s.url}/api/v1/events`, nd, { 'content-type': 'application/x-ndjson' });
    const body = await r.json();
    assert.equal(body.accepted, 2);
    // Blank lines are not records: the bad JSON is record 1 on line 4, the negative count record 3 on line 6.
    assert.deepEqual(body.rejected.map((x: { index: number; line: number; field: string }) => [x.index, x.line, x.field]), [
      [1, 4, '(line)'],
      [3, 6, 'inputTokens'],
    ]);
  });

  test('invalid UTF-8 is a 400, not silently replaced characters', async () => {
    const bytes = Buffer.concat([Buffer.from('{"timestamp": 1795000000000, "service": "'), Buffer.from([0xc3, 0x28]), Buffer.from('", "model": "m"}')]);
    const r = await post(`${s.url}/api/v1/events`, bytes);
    assert.equal(r.status, 400);
    assert.match((await r.json()).error.message, /UTF-8/);
  });

  test('a body over the limit is a clear 413 (the 50 MB case, limit lowered to 1 MB here)', async () => {
    const big = JSON.stringify(Array.from({ length: 9000 }, (_, i) => event(t + i, { route: 'x'.repeat(100) })));
    assert.ok(big.length > 1024 * 1024);
    const r = await post(`${s.url}/api/v1/events`, big);
    assert.equal(r.status, 413);
    const body = await r.json();
    assert.equal(body.error.code, 'body_too_large');
    assert.match(body.error.message, /SENTINEL_BODY_LIMIT/);
  });

  test('wrong content type is a 415 naming the header', async () => {
    const r = await post(`${s.url}/api/v1/events`, 'a=b', { 'content-type': 'application/x-www-form-urlencoded' });
    assert.equal(r.status, 415);
    assert.equal((await r.json()).error.field, 'content-type');
  });

  test('text/plain is a 415 like any type but JSON and NDJSON, on both ingest routes (QA: it was read as NDJSON)', async () => {
    const nd = JSON.stringify(event(t + 40)) + '\n';
    for (const [path, body] of [['/api/v1/events', nd], ['/api/v1/series', JSON.stringify({ series: 'plain_text', timestamp: t, value: 1 }) + '\n']]) {
      for (const type of ['text/plain', 'text/plain; charset=utf-8']) {
        const r = await post(`${s.url}${path}`, body, { 'content-type': type });
        assert.equal(r.status, 415, `${path} ${type}`);
        assert.deepEqual((await r.json()).error, { code: 'unsupported_media_type', message: 'use application/json or application/x-ndjson (application/jsonl)', field: 'content-type' });
      }
    }
    // The same body as NDJSON is accepted, under either of its names.
    let r = await post(`${s.url}/api/v1/events`, nd, { 'content-type': 'application/x-ndjson; charset=utf-8' });
    assert.equal(r.status, 202);
    r = await post(`${s.url}/api/v1/events`, JSON.stringify(event(t + 41)) + '\n', { 'content-type': 'application/jsonl' });
    assert.equal(r.status, 202);
    assert.equal((await r.json()).accepted, 1);
  });

  test('a blank name (only white space) is refused by field, the rest of the batch kept (QA)', async () => {
    let r = await post(`${s.url}/api/v1/series`, [
      { series: '   ', timestamp: t, value: 1 },
      { series: 'blank_check', timestamp: t, value: 1 },
    ]);
    let body = await r.json();
    assert.equal(body.accepted, 1);
    assert.deepEqual(body.rejected.map((x: { field: string }) => x.field), ['series']);
    assert.match(body.rejected[0].message, /must not be blank/);
    r = await post(`${s.url}/api/v1/events`, [event(t + 50, { service: ' \t' }), event(t + 51, { model: '  ' }), event(t + 52)]);
    body = await r.json();
    assert.equal(body.accepted, 1);
    assert.deepEqual(body.rejected.map((x: { field: string }) => x.field), ['service', 'model']);
  });

  test('series points: validated the same way, out-of-order points refused', async () => {
    let r = await post(`${s.url}/api/v1/series`, [
      { series: 'queue_depth', labels: { host: 'a' }, timestamp: t, value: 3 },
      { series: 'queue_depth', labels: { host: 'a' }, timestamp: t + 1000, value: 'x' },
      { series: 'queue_depth', labels: { 'bad-name': 'a' }, timestamp: t, value: 1 },
      { series: 'queue_depth', labels: { ['n'.repeat(129)]: 'a' }, timestamp: t, value: 1 },
    ]);
    let body = await r.json();
    assert.equal(body.accepted, 1);
    assert.deepEqual(body.rejected.map((x: { field: string }) => x.field), ['value', 'labels.bad-name', `labels.${'n'.repeat(129)}`]);
    // The reason of the key's own check, not zod's "Invalid key in record".
    assert.match(body.rejected[1].message, /label names are \[a-zA-Z_\]/);
    assert.match(body.rejected[2].message, /at most 128 characters/);
    r = await post(`${s.url}/api/v1/series`, [{ series: 'queue_depth', labels: { host: 'a' }, timestamp: t - 1000, value: 4 }]);
    body = await r.json();
    assert.equal(r.status, 400);
    assert.match(body.rejected[0].message, /not after the previous point/);
  });

  test('a label named __proto__ is refused by name, not dropped from the series (QA)', async () => {
    // JSON.parse keeps "__proto__" as a key, but copying it into a plain object set the prototype: the point
    // was accepted (202) as series=pp without the label, merged with every other value of it.
    const r = await fetch(`${s.url}/api/v1/series`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"series":"proto_check","labels":{"__proto__":"x","host":"a"},"timestamp":${t},"value":1}`,
    });
    assert.equal(r.status, 400);
    const body = await r.json();
    assert.equal(body.rejected[0].field, 'labels.__proto__');
  });

  test('an unknown anomaly id is a 404, an invalid cursor and a bad filter are 400s naming the field', async () => {
    let r = await fetch(`${s.url}/api/v1/anomalies/an_doesnotexist`);
    assert.equal(r.status, 404);
    assert.equal((await r.json()).error.code, 'not_found');
    r = await fetch(`${s.url}/api/v1/anomalies?cursor=bogus`);
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.field, 'cursor');
    r = await fetch(`${s.url}/api/v1/anomalies?severity=catastrophic`);
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.field, 'severity');
    // Named as the parameter, not as its position in the list (was 'severity.1', QA).
    r = await fetch(`${s.url}/api/v1/anomalies?severity=high,catastrophic`);
    assert.equal(r.status, 400);
    const sev = (await r.json()).error;
    assert.equal(sev.field, 'severity');
    assert.match(sev.message, /"catastrophic" is not a severity \(critical, high, medium, low\)/);
    r = await fetch(`${s.url}/api/v1/anomalies?severity=high,low`);
    assert.equal(r.status, 200);
    // GET /series takes no parameters: a filter it would ignore is refused, as on the other reads (QA).
    r = await fetch(`${s.url}/api/v1/series?service=chat`);
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.field, 'service');
    r = await fetch(`${s.url}/api/v1/series`);
    assert.equal(r.status, 200);
    r = await fetch(`${s.url}/api/v1/anomalies?limit=0`);
    assert.equal((await r.json()).error.field, 'limit');
    for (const path of ['anomalies', 'scores']) {
      r = await fetch(`${s.url}/api/v1/${path}?from=2026-11-23T06:00:00Z&to=2026-11-23T05:00:00Z`);
      assert.equal(r.status, 400, `${path}: a range that ends before it begins`);
      assert.equal((await r.json()).error.field, 'to');
    }
    r = await fetch(`${s.url}/api/v1/anomalies?from=2026-11-23T06:00:00%2B99:00`);
    assert.equal(r.status, 400, 'an offset of 99 hours');
    r = await post(`${s.url}/api/v1/feedback`, { anomalyId: 'an_nope', verdict: 'false_positive' });
    assert.equal(r.status, 404);
    r = await post(`${s.url}/api/v1/feedback`, { anomalyId: 'an_nope', verdict: 'maybe' });
    assert.equal(r.status, 400);
    assert.equal((await r.json()).error.field, 'verdict');
  });

  test('the service is still up and healthy after all of that', async () => {
    const r = await fetch(`${s.url}/api/v1/health`);
    assert.equal(r.status, 200);
    assert.equal((await r.json()).status, 'ok');
    assert.equal((await post(`${s.url}/api/v1/events`, event(t + 30))).status, 202);
  });
});

describe('API keys and rate limits', () => {
  let s: TestServer;
  const full = 'sk-full-0123456789';
  const ro = 'sk-read-0123456789';
  before(async () => {
    s = await startServer({ SENTINEL_API_KEYS: `${full},${ro}:ro`, SENTINEL_RATE_LIMIT: '5' });
  });
  after(() => s.close());

  test('writes need a full key; read-only keys read; health and metrics stay open', async () => {
    const e = event(minutesAgo(3));
    // Each refusal says what is missing: a key and how to send it, a key that works, a key that may write
    // (all three said "missing or invalid API key" / "this API key is read-only", QA).
    const none = await post(`${s.url}/api/v1/events`, e);
    assert.equal(none.status, 401);
    assert.deepEqual((await none.json()).error, {
      code: 'unauthorized',
      message: 'missing API key: send it as "Authorization: Bearer <key>" or "X-API-Key: <key>"',
    });
    const wrong = await post(`${s.url}/api/v1/events`, e, { authorization: 'Bearer wrong-key-123' });
    assert.equal(wrong.status, 401);
    assert.deepEqual((await wrong.json()).error, { code: 'unauthorized', message: 'invalid API key: it is not one of SENTINEL_API_KEYS' });
    const roWrite = await post(`${s.url}/api/v1/events`, e, { authorization: `Bearer ${ro}` });
    assert.equal(roWrite.status, 403);
    assert.deepEqual((await roWrite.json()).error, {
      code: 'forbidden',
      message: 'this API key is read-only (":ro"): POST /api/v1/events needs a key that may write',
    });
    assert.equal((await post(`${s.url}/api/v1/events`, e, { 'x-api-key': full })).status, 202);
    assert.equal((await fetch(`${s.url}/api/v1/anomalies`, { headers: { authorization: `Bearer ${ro}` } })).status, 200);
    assert.equal((await fetch(`${s.url}/api/v1/anomalies`)).status, 401);
    assert.equal((await fetch(`${s.url}/api/v1/health`)).status, 200);
    assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
    // A probe written with a trailing slash is the same open path, not a 401 (nor a 404).
    assert.equal((await fetch(`${s.url}/api/v1/health/`)).status, 200);
    assert.equal((await fetch(`${s.url}/api/v1/anomalies/`)).status, 401);
  });

  test('a key over its rate gets 429 with Retry-After; keys never reach logs or metrics', async () => {
    let limited: Response | undefined;
    for (let i = 0; i < 30 && !limited; i++) {
      const r = await fetch(`${s.url}/api/v1/series`, { headers: { authorization: `Bearer ${ro}` } });
      if (r.status === 429) limited = r;
    }
    assert.ok(limited, 'rate limit never hit');
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.equal((await limited.json()).error.code, 'rate_limited');
    const metrics = await (await fetch(`${s.url}/metrics`)).text();
    const logs = s.logs.join('');
    for (const k of [full, ro]) {
      assert.ok(!logs.includes(k), 'key in logs');
      assert.ok(!metrics.includes(k), 'key in metrics');
    }
  });

  test('refused keys are rate limited by address too, so keys cannot be guessed at full speed', async () => {
    const codes: number[] = [];
    for (let i = 0; i < 30; i++) codes.push((await fetch(`${s.url}/api/v1/series`, { headers: { authorization: `Bearer guess-${i}-0123456789` } })).status);
    assert.equal(codes[0], 401);
    assert.ok(codes.includes(429), codes.join(' '));
    assert.ok(codes.every((c) => c === 401 || c === 429), codes.join(' '));
  });
});
