import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DimensionMismatchError,
  StoreBadRequestError,
  StoreError,
  StoreRateLimitedError,
  StoreTimeoutError,
  StoreUnavailableError,
} from '../../src/errors';
import { createLogger } from '../../src/logger';
import { QdrantStore, qdrantPointId, type QdrantStoreOptions } from '../../src/store/qdrant-store';
import { anomaly } from './contract';
import { QdrantEmulator } from './qdrant-emulator';
import { fail, LoopbackQdrant, recorded, refusedUrl, type Reply, type SeenRequest } from './qdrant-loopback';

/*
 * The adapter's HTTP traffic against recorded Qdrant responses (fixtures/qdrant-recorded: written from
 * the documented REST API, no live server was available) replayed by a loopback server: which requests
 * it sends, and how each failure maps onto our error types.
 */

const log = createLogger('silent');

/** Replays recorded responses by "METHOD /path"; anything unexpected is a 404 the test will notice. */
function replay(routes: Record<string, string | Reply>): (req: SeenRequest) => Reply {
  return (req) => {
    const r = routes[`${req.method} ${req.path}`];
    if (r === undefined) return fail(404, `Not found: no recorded response for ${req.method} ${req.path}`);
    return typeof r === 'string' ? recorded(r) : r;
  };
}

const EXISTING = {
  'GET /collections': 'collections-list-existing',
  'GET /collections/sentinel_anomalies': 'collection-info-anomalies',
  'GET /collections/sentinel_patterns_d48': 'collection-info-patterns-d48',
  'GET /collections/sentinel_patterns_d18': 'collection-info-patterns-d18',
};

async function withServer(handler: (req: SeenRequest) => Reply, opts: Partial<QdrantStoreOptions>, fn: (server: LoopbackQdrant, store: QdrantStore) => Promise<void>): Promise<void> {
  const server = await LoopbackQdrant.start(handler);
  const store = new QdrantStore({ url: server.url, timeoutMs: 2_000, log, ...opts });
  try {
    await fn(server, store);
  } finally {
    await store.close();
    await server.close();
  }
}

const vec = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

describe('qdrantPointId', () => {
  test('is RFC 4122 version 5 (matches the published test vector) and deterministic', () => {
    // uuid v5 of "www.example.com" in the DNS namespace, as published by RFC 4122 implementations.
    assert.equal(qdrantPointId('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8'), '2ed6657d-e927-568b-95e1-2665a8aea6a2');
    assert.equal(qdrantPointId('an_1'), qdrantPointId('an_1'));
    assert.notEqual(qdrantPointId('an_1'), qdrantPointId('an_2'));
    assert.match(qdrantPointId('win:service=chat|model=m1:1767225600000'), /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe('QdrantStore requests (recorded responses)', () => {
  test('init on an empty Qdrant creates the anomalies collection and its payload indexes', async () => {
    const handler = replay({
      'GET /collections': 'collections-list-empty',
      'PUT /collections/sentinel_anomalies': 'collection-create',
      'GET /collections/sentinel_anomalies': 'collection-info-anomalies-new',
      'PUT /collections/sentinel_anomalies/index': 'index-create',
    });
    await withServer(handler, { apiKey: 'sekrit-api-key', replicationFactor: 2, shardNumber: 3 }, async (server, store) => {
      await store.init();
      assert.deepEqual(server.lines(), [
        'GET /collections',
        'PUT /collections/sentinel_anomalies',
        'GET /collections/sentinel_anomalies',
        ...Array(7).fill('PUT /collections/sentinel_anomalies/index'),
      ]);
      assert.ok(server.requests.every((r) => r.headers['api-key'] === 'sekrit-api-key'));
      assert.deepEqual(server.requests[1].body, {
        vectors: { size: 1, distance: 'Dot' },
        hnsw_config: { m: 0 },
        shard_number: 3,
        replication_factor: 2,
        write_consistency_factor: 1,
      });
      const indexes = server.requests.slice(3);
      assert.ok(indexes.every((r) => r.query.get('wait') === 'true'));
      assert.deepEqual(
        indexes.map((r) => r.body),
        [
          { field_name: 'start_ms', field_schema: { type: 'integer', lookup: true, range: true, is_principal: true } },
          { field_name: 'end_ms', field_schema: { type: 'integer', lookup: false, range: true } },
          { field_name: 'severity', field_schema: 'keyword' },
          { field_name: 'type', field_schema: 'keyword' },
          { field_name: 'service', field_schema: 'keyword' },
          { field_name: 'series_key', field_schema: 'keyword' },
          { field_name: 'feedback_verdict', field_schema: 'keyword' },
        ],
      );
    });
  });

  test('init against existing collections only verifies them (idempotent) and ignores foreign ones', async () => {
    await withServer(replay(EXISTING), {}, async (server, store) => {
      await store.init();
      await store.init();
      const once = ['GET /collections', 'GET /collections/sentinel_anomalies', 'GET /collections/sentinel_patterns_d48', 'GET /collections/sentinel_patterns_d18'];
      assert.deepEqual(server.lines(), [...once, ...once]);
    });
  });

  test('a path in SENTINEL_QDRANT_URL (Qdrant behind a reverse proxy) prefixes every request', async () => {
    const server = await LoopbackQdrant.start(replay(Object.fromEntries(Object.entries(EXISTING).map(([k, v]) => [k.replace(' /', ' /qdrant/'), v]))));
    const store = new QdrantStore({ url: `${server.url}/qdrant/`, log });
    try {
      await store.init();
      assert.deepEqual(server.lines()[0], 'GET /qdrant/collections');
      assert.ok(server.requests.every((r) => r.path.startsWith('/qdrant/collections')));
    } finally {
      await store.close();
      await server.close();
    }
  });

  test('a pattern collection whose vectors disagree with its name is refused with DimensionMismatchError', async () => {
    await withServer(replay({ ...EXISTING, 'GET /collections/sentinel_patterns_d48': 'collection-info-patterns-d48-size-47' }), {}, async (_server, store) => {
      await assert.rejects(
        () => store.init(),
        (e: unknown) => e instanceof DimensionMismatchError && e.expected === 48 && e.actual === 47 && /sentinel_patterns_d48.*sentinel migrate/.test(e.message),
      );
    });
    await withServer(replay({ ...EXISTING, 'GET /collections/sentinel_patterns_d48': 'collection-info-patterns-d48-cosine' }), {}, async (_server, store) => {
      await assert.rejects(() => store.init(), (e: unknown) => e instanceof StoreError && /Cosine distance, but patterns need Euclid/.test((e as Error).message));
    });
  });

  test('the first pattern of a new dimension creates its collection (Euclid, per-series HNSW, tenant index) before the upsert', async () => {
    const handler = replay({
      'GET /collections': { status: 200, body: { result: { collections: [{ name: 'sentinel_anomalies' }] }, status: 'ok', time: 0 } },
      'GET /collections/sentinel_anomalies': 'collection-info-anomalies',
      'GET /collections/sentinel_patterns_d48/exists': 'collection-exists-false',
      'PUT /collections/sentinel_patterns_d48': 'collection-create',
      'GET /collections/sentinel_patterns_d48': 'collection-info-patterns-d48-new',
      'PUT /collections/sentinel_patterns_d48/index': 'index-create',
      'PUT /collections/sentinel_patterns_d48/points': 'points-upsert',
      'POST /collections/sentinel_patterns_d48/points/query': 'points-query-patterns',
    });
    await withServer(handler, { scalarQuantization: true }, async (server, store) => {
      await store.init();
      server.requests.length = 0;
      const v = vec(48, (i) => i / 8);
      await store.upsertPatterns([{ id: 'win:a:1', seriesKey: 'service=chat|model=m1', kind: 'normal', timestamp: 1767225600000.4, vector: v }]);
      assert.deepEqual(server.lines(), [
        'GET /collections/sentinel_patterns_d48/exists',
        'PUT /collections/sentinel_patterns_d48',
        'GET /collections/sentinel_patterns_d48',
        'PUT /collections/sentinel_patterns_d48/index',
        'PUT /collections/sentinel_patterns_d48/index',
        'PUT /collections/sentinel_patterns_d48/index',
        'PUT /collections/sentinel_patterns_d48/points',
      ]);
      assert.deepEqual(server.requests[1].body, {
        vectors: { size: 48, distance: 'Euclid' },
        hnsw_config: { m: 0, payload_m: 16, ef_construct: 100 },
        quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
        shard_number: 1,
        replication_factor: 1,
        write_consistency_factor: 1,
      });
      assert.deepEqual(
        server.requests.slice(3, 6).map((r) => r.body),
        [
          { field_name: 'series_key', field_schema: { type: 'keyword', is_tenant: true } },
          { field_name: 'kind', field_schema: { type: 'keyword', enable_hnsw: false } },
          { field_name: 'ts', field_schema: { type: 'integer', lookup: false, range: true, enable_hnsw: false } },
        ],
      );
      const upsert = server.requests[6];
      assert.equal(upsert.query.get('wait'), 'true');
      assert.deepEqual(upsert.body, {
        points: [
          {
            id: qdrantPointId('win:a:1'),
            vector: Array.from(v),
            payload: { id: 'win:a:1', series_key: 'service=chat|model=m1', kind: 'normal', ts: 1767225600000 },
          },
        ],
      });
      await store.searchPatterns('service=chat|model=m1', v, 2);
      assert.deepEqual(server.requests[7].body.params, { quantization: { rescore: true } }, 'quantised collections are searched with rescoring');
    });
  });

  test('search is one filtered query on the collection of the vector dimension; Euclid scores become distances', async () => {
    const routes = { ...EXISTING, 'POST /collections/sentinel_patterns_d48/points/query': 'points-query-patterns', 'GET /collections/sentinel_patterns_d7/exists': 'collection-exists-false' };
    await withServer(replay(routes), {}, async (server, store) => {
      await store.init();
      server.requests.length = 0;
      const q = vec(48, () => 0.5);
      const hits = await store.searchPatterns('service=chat|model=m1', q, 5);
      assert.deepEqual(server.lines(), ['POST /collections/sentinel_patterns_d48/points/query']);
      assert.deepEqual(server.requests[0].body, {
        query: Array.from(q),
        filter: { must: [{ key: 'series_key', match: { value: 'service=chat|model=m1' } }, { key: 'kind', match: { value: 'normal' } }] },
        limit: 5,
        with_payload: true,
      });
      assert.deepEqual(hits, [
        { id: 'win:service=chat|model=m1:1767225600000', distance: 0.41231057, timestamp: 1767225600000, kind: 'normal' },
        { id: 'win:service=chat|model=m1:1767225660000', distance: 1.2649111, timestamp: 1767225660000, kind: 'normal', meta: { anomalyId: 'an_7', type: 'latency_spike' } },
      ]);
      // A dimension without a collection has no neighbours, and is not asked about again at once.
      const before = server.requests.length;
      assert.deepEqual(await store.searchPatterns('service=chat|model=m1', vec(7, () => 0), 3), []);
      assert.deepEqual(await store.searchPatterns('service=chat|model=m1', vec(7, () => 0), 3), []);
      assert.deepEqual(server.lines().slice(before), ['GET /collections/sentinel_patterns_d7/exists']);
      server.requests.splice(before);
      // An 18-float window goes to the 18-dimension collection, never to the 48 one.
      await store.searchPatterns('service=chat|model=m1', vec(18, () => 0), 3, 'incident').catch(() => undefined);
      assert.equal(server.requests[1].path, '/collections/sentinel_patterns_d18/points/query');
      assert.deepEqual(server.requests[1].body.filter.must[1], { key: 'kind', match: { value: 'incident' } });
    });
  });

  test('listAnomalies scrolls newest first by start_ms (order_by) with the API filters as payload conditions', async () => {
    await withServer(replay({ ...EXISTING, 'POST /collections/sentinel_anomalies/points/scroll': 'points-scroll-anomalies-by-start' }), {}, async (server, store) => {
      await store.init();
      server.requests.length = 0;
      const from = Date.UTC(2026, 0, 2);
      const page = await store.listAnomalies({ from, to: from + 3_600_000, severity: ['critical', 'high'], service: 'chat', type: 'latency_spike', limit: 2 });
      assert.deepEqual(server.lines(), ['POST /collections/sentinel_anomalies/points/scroll']);
      assert.deepEqual(server.requests[0].body, {
        filter: {
          must: [
            // Overlapping the range: ends at or after `from` (or, saved before end_ms, starts then), starts by `to`.
            {
              should: [
                { key: 'end_ms', range: { gte: from } },
                { must: [{ is_empty: { key: 'end_ms' } }, { key: 'start_ms', range: { gte: from } }] },
              ],
            },
            { key: 'start_ms', range: { lte: from + 3_600_000 } },
            { key: 'severity', match: { any: ['critical', 'high'] } },
            { key: 'service', match: { value: 'chat' } },
            { key: 'type', match: { value: 'latency_spike' } },
          ],
        },
        limit: 3,
        order_by: { key: 'start_ms', direction: 'desc' },
        with_payload: true,
        with_vector: false,
      });
      assert.deepEqual(page.items.map((a) => a.id), ['an_2', 'an_1']);
      assert.equal(page.items[0].explanation.summary, 'p95 latency 3x the usual');
      assert.equal(page.nextCursor, null);
    });
  });

  test('feedback counts are exact counts filtered by verdict', async () => {
    await withServer(replay({ ...EXISTING, 'POST /collections/sentinel_anomalies/points/count': 'points-count' }), {}, async (server, store) => {
      await store.init();
      server.requests.length = 0;
      assert.deepEqual(await store.feedbackCounts(), { true_positive: 31, false_positive: 31 });
      assert.deepEqual(
        server.requests.map((r) => r.body).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
        [
          { filter: { must: [{ key: 'feedback_verdict', match: { value: 'false_positive' } }] }, exact: true },
          { filter: { must: [{ key: 'feedback_verdict', match: { value: 'true_positive' } }] }, exact: true },
        ],
      );
    });
  });
});

describe('QdrantStore error mapping (recorded error responses)', () => {
  const cases: { name: string; reply: Reply | 'drop' | 'hang'; check: (e: unknown) => boolean }[] = [
    { name: '503', reply: recorded('error-503-unavailable'), check: (e) => e instanceof StoreUnavailableError && /HTTP 503: Service unavailable: Failed to connect/.test((e as Error).message) && (e as Error & { cause: { status: number } }).cause.status === 503 },
    { name: '500', reply: recorded('error-500-internal'), check: (e) => e instanceof StoreUnavailableError },
    { name: '429 with Retry-After', reply: recorded('error-429-retry-after'), check: (e) => e instanceof StoreRateLimitedError && e.retryAfterMs === 3000 && (e as Error).cause instanceof Error },
    { name: '429 without Retry-After', reply: recorded('error-429-no-retry-after'), check: (e) => e instanceof StoreRateLimitedError && e.retryAfterMs === 1000 && /Read rate limit/.test((e as Error).message) },
    { name: '400', reply: recorded('error-400-vector-dimension'), check: (e) => e instanceof StoreBadRequestError && /Vector dimension error: expected dim: 48, got 47/.test((e as Error).message) },
    { name: '401', reply: recorded('error-401-api-key'), check: (e) => e instanceof StoreBadRequestError && /SENTINEL_QDRANT_API_KEY/.test((e as Error).message) && !(e as Error).message.includes('sekrit') },
    { name: 'dropped connection', reply: 'drop', check: (e) => e instanceof StoreUnavailableError && /unreachable during read anomaly an_1 \(UND_ERR_SOCKET\)/.test((e as Error).message) },
    { name: 'no answer within the timeout', reply: 'hang', check: (e) => e instanceof StoreTimeoutError && /timed out after 200 ms/.test((e as Error).message) },
  ];
  for (const c of cases) {
    test(`${c.name} -> ${c.name === '400' || c.name === '401' ? 'StoreBadRequestError' : 'a transient StoreError'}`, async () => {
      await withServer(replay(EXISTING), { apiKey: 'sekrit-api-key', timeoutMs: 200 }, async (server, store) => {
        await store.init();
        server.fault = c.reply === 'drop' ? { kind: 'drop' } : c.reply === 'hang' ? { kind: 'hang' } : { kind: 'reply', reply: c.reply };
        await assert.rejects(() => store.getAnomaly('an_1'), c.check);
      });
    });
  }

  test('connection refused -> StoreUnavailableError naming the address, not the credentials', async () => {
    const url = (await refusedUrl()).replace('http://', 'http://admin:hunter2@');
    const store = new QdrantStore({ url, log, startupTimeoutMs: 0 });
    await assert.rejects(
      () => store.init(),
      (e: unknown) =>
        e instanceof StoreUnavailableError &&
        /SENTINEL_QDRANT_URL \(http:\/\/127\.0\.0\.1:\d+\).*ECONNREFUSED/.test(e.message) &&
        !e.message.includes('hunter2') &&
        e.cause instanceof StoreUnavailableError,
    );
  });

  test('start-up retries with exponential backoff until Qdrant answers', async () => {
    let refused = 3;
    const handler = replay(EXISTING);
    const delays: number[] = [];
    await withServer((req) => (refused-- > 0 ? recorded('error-503-unavailable') : handler(req)), { initialRetryDelayMs: 50, sleep: async (ms) => void delays.push(ms) }, async (server, store) => {
      await store.init();
      assert.deepEqual(delays, [50, 100, 200]);
      assert.equal(server.requests.filter((r) => r.path === '/collections').length, 4);
    });
  });

  test('a 429 during start-up waits at least its Retry-After', async () => {
    let limited = 1;
    const handler = replay(EXISTING);
    const delays: number[] = [];
    await withServer((req) => (limited-- > 0 ? recorded('error-429-retry-after') : handler(req)), { initialRetryDelayMs: 50, sleep: async (ms) => void delays.push(ms) }, async (_server, store) => {
      await store.init();
      assert.deepEqual(delays, [3000]);
    });
  });

  test('errors waiting cannot fix fail start-up at once', async () => {
    const delays: number[] = [];
    await withServer(replay({ 'GET /collections': 'error-401-api-key' }), { sleep: async (ms) => void delays.push(ms) }, async (_server, store) => {
      await assert.rejects(() => store.init(), StoreBadRequestError);
      assert.deepEqual(delays, []);
    });
  });
});

describe('QdrantStore against the emulator: behaviour beyond the contract', () => {
  test('servers without the newer index options get plain payload indexes', async () => {
    const emulator = new QdrantEmulator({ legacyIndexParams: true });
    await withServer(emulator.handle, {}, async (server, store) => {
      await store.init();
      await store.upsertPatterns([{ id: 'p', seriesKey: 's', kind: 'normal', timestamp: 1, vector: vec(3, () => 1) }]);
      const seriesKey = server.requests.filter((r) => r.path === '/collections/sentinel_patterns_d3/index' && r.body.field_name === 'series_key').map((r) => r.body.field_schema);
      assert.deepEqual(seriesKey, [{ type: 'keyword', is_tenant: true }, 'keyword']);
      assert.deepEqual(Object.keys(emulator.collections.get('sentinel_patterns_d3')!.indexes).sort(), ['kind', 'series_key', 'ts']);
      assert.equal(emulator.collections.get('sentinel_anomalies')!.indexes.start_ms.data_type, 'integer');
      assert.equal((await store.searchPatterns('s', vec(3, () => 1), 1))[0].id, 'p');
    });
  });

  test('collections lost by Qdrant (restart without a volume) are re-created on the next write', async () => {
    const emulator = new QdrantEmulator();
    await withServer(emulator.handle, {}, async (_server, store) => {
      await store.init();
      await store.upsertPatterns([{ id: 'p1', seriesKey: 's', kind: 'normal', timestamp: 1, vector: vec(3, () => 1) }]);
      emulator.collections.clear();
      await store.upsertPatterns([{ id: 'p2', seriesKey: 's', kind: 'normal', timestamp: 2, vector: vec(3, () => 2) }]);
      await store.saveAnomaly(anomaly('an_after_loss', Date.UTC(2026, 0, 1)));
      assert.equal(await store.countPatterns(), 1);
      assert.equal((await store.getAnomaly('an_after_loss'))!.id, 'an_after_loss');
    });
  });

  test('a re-saved anomaly keeps its feedback count; an id moving to another dimension leaves the old one', async () => {
    const emulator = new QdrantEmulator();
    await withServer(emulator.handle, {}, async (_server, store) => {
      await store.init();
      await store.saveAnomaly(anomaly('an_fb', Date.UTC(2026, 0, 1)));
      await store.saveFeedback('an_fb', { verdict: 'true_positive', at: '2026-01-01T00:10:00.000Z' });
      await store.saveAnomaly(anomaly('an_fb', Date.UTC(2026, 0, 1), { windows: 4 }));
      assert.deepEqual(await store.feedbackCounts(), { true_positive: 1, false_positive: 0 });

      await store.upsertPatterns([{ id: 'mover', seriesKey: 's', kind: 'normal', timestamp: 1, vector: vec(3, () => 0) }]);
      await store.upsertPatterns([{ id: 'mover', seriesKey: 's', kind: 'normal', timestamp: 2, vector: vec(5, () => 0) }]);
      assert.equal(await store.countPatterns({ seriesKey: 's' }), 1);
      assert.deepEqual(await store.searchPatterns('s', vec(3, () => 0), 5), []);
    });
  });

  test('pruning works across dimensions and keeps the newest', async () => {
    const emulator = new QdrantEmulator();
    await withServer(emulator.handle, {}, async (_server, store) => {
      await store.init();
      await store.upsertPatterns(Array.from({ length: 6 }, (_, i) => ({ id: `a${i}`, seriesKey: 's', kind: 'normal' as const, timestamp: i * 2, vector: vec(3, () => i) })));
      await store.upsertPatterns(Array.from({ length: 6 }, (_, i) => ({ id: `b${i}`, seriesKey: 's', kind: 'normal' as const, timestamp: i * 2 + 1, vector: vec(5, () => i) })));
      assert.equal(await store.prunePatterns('s', 'normal', 4), 8);
      const left: string[] = [];
      for await (const batch of store.scanPatterns(2)) left.push(...batch.map((p) => p.id));
      assert.deepEqual(left.sort(), ['a4', 'a5', 'b4', 'b5']);
    });
  });
});
