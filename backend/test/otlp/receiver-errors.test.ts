/**
 * The receiver's answers to bad input, after the OTLP/HTTP specification: 400 / 413 / 415 with a
 * google.rpc.Status in the request's encoding, partial success for refused spans, gzip bombs cut off at
 * the limit, and a service that keeps working after all of it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decodeExportResponse, decodeStatus } from '../../src/otlp/otlp-codec';
import { minutesAgo, startServer, type TestServer } from '../helpers';
import { captureServer, type Captured } from './capture';
import { genAiSpan, sdkTracer, type ExporterKind } from './otel-sdk';

const LIMIT = 1024 * 1024;

/** Real export bodies of the SDK exporter: `n` chat spans ending at `start + i * 1000 + 800`. */
async function sdkExport(kind: ExporterKind, start: number, n: number, service = 'err-svc'): Promise<Captured> {
  const cap = await captureServer();
  try {
    const t = sdkTracer(cap.url, service, kind);
    for (let i = 0; i < n; i++) genAiSpan(t.tracer, { start: start + i * 1000, durationMs: 800, model: 'gpt-4o', inputTokens: 100 + i, outputTokens: 20 });
    await t.shutdown();
    assert.equal(cap.requests.length, 1);
    return cap.requests[0];
  } finally {
    await cap.close();
  }
}

const send = (url: string, body: Uint8Array | string, headers: Record<string, string>) =>
  fetch(`${url}/v1/traces`, { method: 'POST', headers, body });

async function protobufStatus(r: Response): Promise<{ code: number; message: string }> {
  assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
  return decodeStatus(new Uint8Array(await r.arrayBuffer()));
}

describe('OTLP receiver: errors and partial success', () => {
  let s: TestServer;
  let proto: Captured;
  let json: Captured;
  const recent = minutesAgo(3);

  before(async () => {
    s = await startServer({ SENTINEL_BODY_LIMIT: String(LIMIT) });
    proto = await sdkExport({ encoding: 'protobuf', gzip: false }, recent, 5);
    json = await sdkExport({ encoding: 'json', gzip: false }, recent + 10_000, 5);
  });
  after(() => s.close());

  test('the recorded bodies are what the exporters send', () => {
    assert.equal(proto.path, '/v1/traces');
    assert.equal(proto.headers['content-type'], 'application/x-protobuf');
    assert.equal(json.headers['content-type'], 'application/json');
    assert.ok(JSON.parse(json.body.toString()).resourceSpans);
  });

  test('a protobuf export cut short is a 400 with a protobuf Status', async () => {
    const r = await send(s.url, proto.body.subarray(0, proto.body.length - 7), { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 400);
    const st = await protobufStatus(r);
    assert.equal(st.code, 3);
    assert.match(st.message, /not a valid protobuf ExportTraceServiceRequest/);
  });

  test('bytes that are no protobuf at all are a 400', async () => {
    const r = await send(s.url, new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 400);
    assert.equal((await protobufStatus(r)).code, 3);
  });

  test('bad JSON, a wrong OTLP/JSON shape and a non-hex trace id are 400s with a JSON Status', async () => {
    const spans = JSON.parse(json.body.toString());
    spans.resourceSpans[0].scopeSpans[0].spans[0].traceId = 'not-hex!';
    for (const [body, pattern] of [
      ['{"resourceSpans": [', /not valid UTF-8 JSON/],
      ['{"resourceSpans": {"a": 1}}', /resourceSpans: array expected/],
      ['[1, 2]', /must be a JSON object/],
      [JSON.stringify(spans), /traceId: hex string expected/],
      ['{"resourceSpans": [{"resource": {"attributes": 5}}]}', /attributes: array expected/],
    ] as const) {
      const r = await send(s.url, body, { 'content-type': 'application/json' });
      assert.equal(r.status, 400, body);
      assert.equal(r.headers.get('content-type'), 'application/json');
      const st = await r.json();
      assert.equal(st.code, 3);
      assert.match(st.message, pattern);
    }
  });

  test('an unsupported Content-Type or Content-Encoding is a 415', async () => {
    let r = await send(s.url, proto.body, { 'content-type': 'text/plain' });
    assert.equal(r.status, 415);
    assert.match((await r.json()).message, /unsupported Content-Type "text\/plain"/);
    r = await send(s.url, proto.body, { 'content-type': 'application/x-ndjson' });
    assert.equal(r.status, 415);
    r = await send(s.url, proto.body, { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' });
    assert.equal(r.status, 415);
    assert.match((await protobufStatus(r)).message, /Content-Encoding "br"/);
  });

  test('a body over the limit is a 413', async () => {
    const r = await send(s.url, Buffer.alloc(LIMIT + 1), { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 413);
    assert.match((await protobufStatus(r)).message, /exceeds 1048576 bytes/);
  });

  test('a gzip bomb is a 413 and is never inflated past the limit', async () => {
    // 32 gzip members of 16 MiB of zeros: ~0.5 MiB on the wire, 512 MiB inflated.
    const member = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    const bomb = Buffer.concat(Array(32).fill(member));
    assert.ok(bomb.length < LIMIT);
    const rss = process.memoryUsage().rss;
    const t0 = performance.now();
    const r = await send(s.url, bomb, { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    assert.equal(r.status, 413);
    assert.match((await protobufStatus(r)).message, /decompressed body exceeds 1048576 bytes/);
    assert.ok(process.memoryUsage().rss - rss < 128 * 1024 * 1024, 'memory grew as if the bomb was inflated');
    assert.ok(performance.now() - t0 < 2000);
  });

  test('gzip that is not gzip is a 400; gzip that inflates to just under the limit is decoded', async () => {
    let r = await send(s.url, Buffer.from('definitely not gzip'), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
    assert.equal(r.status, 400);
    assert.match((await protobufStatus(r)).message, /not valid gzip/);
    // A JSON export padded with whitespace to LIMIT - 1 bytes: valid, so it must come through.
    const padded = Buffer.concat([json.body, Buffer.alloc(LIMIT - 1 - json.body.length, 0x20)]);
    r = await send(s.url, gzipSync(padded), { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), {});
  });

  test('after all that the service still takes a real export in either encoding', async () => {
    let r = await send(s.url, proto.body, { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/x-protobuf');
    assert.equal(decodeExportResponse('traces', new Uint8Array(await r.arrayBuffer())), undefined, 'full success has no partial_success');
    r = await send(s.url, gzipSync(json.body), { 'content-type': 'application/json; charset=utf-8', 'content-encoding': 'gzip' });
    assert.equal(r.status, 200);
    const health = await fetch(`${s.url}/api/v1/health`);
    assert.equal(health.status, 200);
  });

  test('spans whose windows have closed are refused through partial_success, in both encodings', async () => {
    // Move event time well past the late spans' windows first.
    const now = await sdkExport({ encoding: 'protobuf', gzip: false }, minutesAgo(1), 2);
    assert.equal((await send(s.url, now.body, { 'content-type': 'application/x-protobuf' })).status, 200);
    const late = await sdkExport({ encoding: 'protobuf', gzip: false }, minutesAgo(30), 3);
    let r = await send(s.url, late.body, { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 200);
    const partial = decodeExportResponse('traces', new Uint8Array(await r.arrayBuffer()));
    assert.equal(partial?.rejected, 3);
    assert.match(partial!.errorMessage, /late: its window has already closed/);

    const lateJson = await sdkExport({ encoding: 'json', gzip: false }, minutesAgo(30), 2);
    r = await send(s.url, lateJson.body, { 'content-type': 'application/json' });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(Number(body.partialSuccess.rejectedSpans), 2);
    assert.match(body.partialSuccess.errorMessage, /late/);
  });

  test('a GenAI span that cannot become an event (no end time) is refused, the rest of the batch is kept', async () => {
    const doc = JSON.parse(json.body.toString());
    const spans = doc.resourceSpans[0].scopeSpans[0].spans;
    const t = BigInt(minutesAgo(0)) * 1_000_000n;
    spans.forEach((sp: Record<string, unknown>, i: number) => {
      // New spans (the receiver drops repeats of ones it has taken, as an exporter's retry would send).
      sp.spanId = `00000000000001${i.toString(16).padStart(2, '0')}`;
      sp.startTimeUnixNano = String(t + BigInt(i) * 1_000_000n);
      sp.endTimeUnixNano = String(t + BigInt(i) * 1_000_000n + 500_000_000n);
    });
    spans[1].endTimeUnixNano = '0';
    // And one span that is not GenAI at all: accepted, not counted as refused.
    spans.push({ ...spans[0], spanId: '00000000000000aa', attributes: [{ key: 'http.route', value: { stringValue: '/x' } }] });
    const r = await send(s.url, JSON.stringify(doc), { 'content-type': 'application/json' });
    assert.equal(r.status, 200);
    const body = await r.json();
    assert.equal(Number(body.partialSuccess.rejectedSpans), 1);
    // In OTLP terms, not the REST contract's "timestamp: must be an ISO 8601 time or epoch milliseconds" (QA).
    assert.match(body.partialSuccess.errorMessage, /^span 0000000000000101: no end time \(endTimeUnixNano is 0\)/);
    assert.doesNotMatch(body.partialSuccess.errorMessage, /ISO 8601/);
  });
});

describe('OTLP receiver behind API keys', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ SENTINEL_API_KEYS: 'writer-key-123,reader-key-123:ro' });
  });
  after(() => s.close());

  test('no key is a 401 Status in the request encoding; a read-only key a 403; the exporter with a write key gets through', async () => {
    const body = await sdkExport({ encoding: 'protobuf', gzip: false }, minutesAgo(2), 2);
    let r = await send(s.url, body.body, { 'content-type': 'application/x-protobuf' });
    assert.equal(r.status, 401);
    assert.equal((await protobufStatus(r)).code, 16);
    r = await send(s.url, body.body, { 'content-type': 'application/json', authorization: 'Bearer reader-key-123' });
    assert.equal(r.status, 403);
    assert.equal((await r.json()).code, 7);

    const t = sdkTracer(s.url, 'keyed-svc', { encoding: 'protobuf', gzip: true }, { authorization: 'Bearer writer-key-123' });
    genAiSpan(t.tracer, { start: minutesAgo(1), durationMs: 500, model: 'gpt-4o', inputTokens: 10, outputTokens: 5 });
    await t.shutdown();
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /^sentinel_otlp_requests_total\{signal="traces",encoding="protobuf",compression="gzip",code="200"\} 1$/m);
    assert.match(text, /^sentinel_otlp_requests_total\{signal="traces",encoding="protobuf",compression="none",code="401"\} 1$/m);
  });
});

describe('OTLP receiver under the rate limit', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ SENTINEL_RATE_LIMIT: '1' });
  });
  after(() => s.close());

  test('past the per-client limit an export gets a 429 Status with Retry-After (retryable for exporters)', async () => {
    // Burst of 2 at 1 request/s: the third request in a row is refused.
    const statuses: number[] = [];
    let last: Response | undefined;
    for (let i = 0; i < 3; i++) {
      last = await send(s.url, '{}', { 'content-type': 'application/json' });
      statuses.push(last.status);
    }
    assert.deepEqual(statuses, [200, 200, 429]);
    assert.ok(Number(last!.headers.get('retry-after')) >= 1);
    assert.deepEqual(await last!.json(), { code: 8, message: 'rate limit exceeded' });
  });
});

describe('OTLP receiver: an exporter retrying a batch it already delivered', () => {
  test('spans seen before are ignored, not counted as second requests (QA)', async () => {
    const s = await startServer();
    try {
      const body = (await sdkExport({ encoding: 'protobuf', gzip: false }, minutesAgo(3), 4, 'retry-svc')).body;
      const ingested = async () => Number(/^sentinel_events_ingested_total (\d+)/m.exec(await (await fetch(`${s.url}/metrics`)).text())?.[1]);
      for (let i = 0; i < 3; i++) assert.equal((await send(s.url, body, { 'content-type': 'application/x-protobuf' })).status, 200);
      assert.equal(await ingested(), 4, 'four spans, sent three times');
    } finally {
      await s.close();
    }
  });
});
