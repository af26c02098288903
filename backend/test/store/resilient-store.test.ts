import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnomalyRecord, Pattern } from '../../src/domain/types';
import { StoreBadRequestError, StoreError, StoreRateLimitedError, StoreTimeoutError, StoreUnavailableError } from '../../src/errors';
import { createLogger } from '../../src/logger';
import { QdrantStore } from '../../src/store/qdrant-store';
import { ResilientStore } from '../../src/store/resilient-store';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { StoreHealth, VectorStore } from '../../src/store/vector-store';
import { anomaly } from './contract';
import { QdrantEmulator } from './qdrant-emulator';
import { fail, LoopbackQdrant } from './qdrant-loopback';

const log = createLogger('silent');
const FAST = { initialProbeDelayMs: 10, maxProbeDelayMs: 40, log };

const pattern = (id: string, ts: number, x = ts): Pattern => ({ id, seriesKey: 's', kind: 'normal', timestamp: ts, vector: Float32Array.from([x, 0]) });

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * A real SQLite store behind a switch: while `failure` is set every call throws it (as a remote store
 * does during an outage). Records the order of the writes that got through.
 */
class Switchable implements VectorStore {
  readonly kind = 'switchable';
  failure: Error | null = null;
  readonly writes: string[] = [];
  calls = 0;
  constructor(readonly inner: SqliteStore) {}
  private gate(): void {
    this.calls++;
    if (this.failure) throw this.failure;
  }
  async init() {
    this.gate();
    await this.inner.init();
  }
  async upsertPatterns(ps: Pattern[]) {
    this.gate();
    await this.inner.upsertPatterns(ps);
    this.writes.push(...ps.map((p) => `p:${p.id}`));
  }
  async searchPatterns(...a: Parameters<VectorStore['searchPatterns']>) {
    this.gate();
    return this.inner.searchPatterns(...a);
  }
  async countPatterns(...a: Parameters<VectorStore['countPatterns']>) {
    this.gate();
    return this.inner.countPatterns(...a);
  }
  async prunePatterns(...a: Parameters<VectorStore['prunePatterns']>) {
    this.gate();
    return this.inner.prunePatterns(...a);
  }
  scanPatterns(n: number) {
    this.gate();
    return this.inner.scanPatterns(n);
  }
  async saveAnomaly(r: AnomalyRecord) {
    this.gate();
    await this.inner.saveAnomaly(r);
    this.writes.push(`a:${r.id}:${r.windows}`);
  }
  async getAnomaly(id: string) {
    this.gate();
    return this.inner.getAnomaly(id);
  }
  async listAnomalies(...a: Parameters<VectorStore['listAnomalies']>) {
    this.gate();
    return this.inner.listAnomalies(...a);
  }
  scanAnomalies(n: number) {
    this.gate();
    return this.inner.scanAnomalies(n);
  }
  async saveFeedback(...a: Parameters<VectorStore['saveFeedback']>) {
    this.gate();
    return this.inner.saveFeedback(...a);
  }
  async feedbackCounts() {
    this.gate();
    return this.inner.feedbackCounts();
  }
  async health(): Promise<StoreHealth> {
    this.calls++;
    return this.failure ? { kind: this.kind, ok: false, latencyMs: 1, detail: this.failure.message } : { kind: this.kind, ok: true, latencyMs: 1 };
  }
  async close() {
    await this.inner.close();
  }
}

async function switchable(): Promise<Switchable> {
  const s = new Switchable(new SqliteStore(':memory:'));
  await s.init();
  return s;
}

describe('ResilientStore', () => {
  test('passes everything through while the store is up', async () => {
    const inner = await switchable();
    const store = new ResilientStore(inner, FAST);
    await store.upsertPatterns([pattern('p1', 1)]);
    await store.saveAnomaly(anomaly('a1', Date.UTC(2026, 0, 1)));
    assert.deepEqual(inner.writes, ['p:p1', 'a:a1:1']);
    assert.equal((await store.searchPatterns('s', Float32Array.from([1, 0]), 1))[0].id, 'p1');
    assert.deepEqual(await store.health(), { kind: 'switchable', ok: true, latencyMs: 1 });
    assert.equal(store.stats().state, 'up');
    await store.close();
  });

  test('an outage buffers writes, fails searches fast, reports degraded health, then flushes in order by itself', async () => {
    const inner = await switchable();
    const store = new ResilientStore(inner, FAST);
    inner.failure = new StoreUnavailableError('Qdrant at http://127.0.0.1:1 is unreachable during upsert (ECONNREFUSED)');

    await store.upsertPatterns([pattern('p1', 1)]); // the failing write that reveals the outage
    await store.saveAnomaly(anomaly('a1', Date.UTC(2026, 0, 1)));
    await store.upsertPatterns([pattern('p2', 2), pattern('p3', 3)]);
    await store.saveAnomaly(anomaly('a2', Date.UTC(2026, 0, 2)));
    assert.deepEqual(inner.writes, []);

    const callsBefore = inner.calls;
    await assert.rejects(() => store.searchPatterns('s', Float32Array.from([1, 0]), 3), StoreUnavailableError);
    await assert.rejects(() => store.listAnomalies({ limit: 5 }), StoreUnavailableError);
    assert.equal(inner.calls - callsBefore <= 1, true, 'reads fail fast without calling the store (a probe may run meanwhile)');

    const h = await store.health();
    assert.equal(h.ok, false);
    assert.match(h.detail!, /^degraded: unavailable since .*ECONNREFUSED.*3 patterns and 2 anomaly records buffered/);
    assert.equal((await store.getAnomaly('a2'))!.id, 'a2', 'a buffered record is readable');

    const s = store.stats();
    assert.equal(s.state, 'down');
    assert.equal(s.outages, 1);
    assert.equal(s.queuedPatterns, 3);
    assert.equal(s.queuedAnomalies, 2);

    inner.failure = null;
    await waitFor('flush', () => store.stats().queuedPatterns + store.stats().queuedAnomalies === 0);
    assert.deepEqual(inner.writes, ['p:p1', 'a:a1:1', 'p:p2', 'p:p3', 'a:a2:1']);
    assert.equal(await inner.countPatterns(), 3);
    const after = store.stats();
    assert.equal(after.state, 'up');
    assert.equal(after.flushedPatterns, 3);
    assert.equal(after.flushedAnomalies, 2);
    assert.equal(after.droppedPatterns, 0);
    assert.equal((await store.health()).ok, true);
    await store.close();
  });

  test('timeouts and rate limits count as outages too; other errors reach the caller and nothing is buffered', async () => {
    const inner = await switchable();
    const store = new ResilientStore(inner, FAST);
    inner.failure = new StoreBadRequestError('Qdrant rejected upsert with HTTP 400: Wrong input');
    await assert.rejects(() => store.upsertPatterns([pattern('p1', 1)]), StoreBadRequestError);
    await assert.rejects(() => store.saveAnomaly(anomaly('a1', 0)), StoreBadRequestError);
    assert.equal(store.stats().state, 'up');
    assert.equal(store.stats().queuedPatterns + store.stats().queuedAnomalies, 0);

    inner.failure = new StoreTimeoutError('Qdrant upsert timed out after 10 ms');
    await store.upsertPatterns([pattern('p2', 2)]);
    assert.equal(store.stats().state, 'down');
    inner.failure = null;
    await waitFor('flush', () => store.stats().queuedPatterns === 0);

    inner.failure = new StoreRateLimitedError('Qdrant rate-limited upsert', 60);
    const t0 = Date.now();
    await store.upsertPatterns([pattern('p3', 3)]);
    inner.failure = null;
    await waitFor('flush', () => store.stats().queuedPatterns === 0);
    assert.ok(Date.now() - t0 >= 55, 'waits at least Retry-After before probing again');
    assert.deepEqual(inner.writes, ['p:p2', 'p:p3']);
    assert.equal(store.stats().outages, 2);
    await store.close();
  });

  test('overflow drops the oldest patterns first and never a buffered anomaly record', async () => {
    const inner = await switchable();
    inner.failure = new StoreUnavailableError('down');
    const store = new ResilientStore(inner, { ...FAST, maxBuffered: 4, initialProbeDelayMs: 60_000, maxProbeDelayMs: 60_000 });
    await store.upsertPatterns([pattern('q1', 1), pattern('q2', 2)]);
    await store.saveAnomaly(anomaly('b1', 1));
    await store.upsertPatterns([pattern('q3', 3)]); // 4: full
    await store.saveAnomaly(anomaly('b2', 2)); // drops q1
    await store.upsertPatterns([pattern('q4', 4), pattern('q5', 5)]); // drops q2, q3
    let s = store.stats();
    assert.equal(s.droppedPatterns, 3);
    assert.equal(s.queuedAnomalies, 2);
    assert.equal(s.queuedPatterns, 2);
    await store.saveAnomaly(anomaly('b3', 3)); // drops q4
    await store.saveAnomaly(anomaly('b4', 4)); // drops q5
    s = store.stats();
    assert.equal(s.droppedPatterns, 5);
    assert.equal(s.queuedPatterns, 0);
    assert.equal(s.queuedAnomalies, 4);
    // Only records left: a new pattern batch is dropped at once, a new record is refused loudly.
    await store.upsertPatterns([pattern('q6', 6)]);
    assert.equal(store.stats().droppedPatterns, 6);
    await assert.rejects(() => store.saveAnomaly(anomaly('b5', 5)), (e: unknown) => e instanceof StoreUnavailableError && /b5 was not stored/.test((e as Error).message));
    assert.equal(store.stats().rejectedAnomalies, 1);
    // A newer state of a buffered record replaces it in place and needs no room.
    await store.saveAnomaly(anomaly('b1', 1, { windows: 7 }));
    assert.equal(store.stats().queuedAnomalies, 4);

    inner.failure = null;
    await store.close(); // close flushes what it can
    assert.deepEqual(inner.writes, ['a:b1:7', 'a:b2:1', 'a:b3:1', 'a:b4:1']);
  });

  test('a buffered write the store refuses for good is logged and skipped, not retried forever', async () => {
    const inner = await switchable();
    const store = new ResilientStore(inner, FAST);
    inner.failure = new StoreUnavailableError('down');
    await store.upsertPatterns([pattern('ok1', 1)]);
    await store.upsertPatterns([{ ...pattern('bad', 2), vector: new Float32Array(0) }]);
    await store.upsertPatterns([pattern('ok2', 3)]);
    inner.failure = null;
    await waitFor('flush', () => store.stats().queuedPatterns === 0);
    const s = store.stats();
    assert.equal(s.failedWrites, 1);
    assert.equal(s.flushedPatterns, 2);
    assert.deepEqual(inner.writes, ['p:ok1', 'p:ok2']);
    await store.close();
  });

  test('open incidents keep merging through an outage; pruning waits for the store', async () => {
    const inner = await switchable();
    const store = new ResilientStore(inner, FAST);
    await store.saveAnomaly(anomaly('open1', Date.UTC(2026, 0, 1)));
    inner.failure = new StoreUnavailableError('down');
    await store.upsertPatterns([pattern('p1', 1)]); // reveals the outage
    const rec = await store.getAnomaly('open1');
    assert.equal(rec?.windows, 1, 'served from recently seen records');
    await store.saveAnomaly({ ...rec!, windows: 2 });
    assert.equal((await store.getAnomaly('open1'))!.windows, 2, 'the buffered state wins');
    await assert.rejects(() => store.getAnomaly('never-seen'), StoreUnavailableError);
    const calls = inner.calls;
    assert.equal(await store.prunePatterns('s', 'normal', 1), 0);
    assert.equal(inner.calls, calls, 'pruning skipped without calling the store');
    inner.failure = null;
    await waitFor('flush', () => store.stats().queuedAnomalies === 0);
    assert.equal((await inner.getAnomaly('open1'))!.windows, 2);
    await store.close();
  });

  test('feedback on a record still buffered lands after the record', async () => {
    const inner = await switchable();
    const store = new ResilientStore(inner, { ...FAST, initialProbeDelayMs: 60_000, maxProbeDelayMs: 60_000 });
    inner.failure = new StoreUnavailableError('down');
    await store.saveAnomaly(anomaly('a1', 1));
    await assert.rejects(() => store.saveFeedback('a1', { verdict: 'false_positive', at: '2026-01-01T00:00:00.000Z' }), StoreUnavailableError);
    inner.failure = null;
    // Still "down" until a probe runs (60 s away); the health call does not flip it.
    assert.equal((await store.health()).ok, false);
    await store.close();
    assert.deepEqual(inner.writes, ['a:a1:1'], 'close flushed the record');
  });
});

describe('ResilientStore over HTTP: a Qdrant outage on the loopback server', () => {
  test('dropped connections and 503s buffer, health degrades, and recovery delivers everything', async () => {
    const emulator = new QdrantEmulator();
    const server = await LoopbackQdrant.start(emulator.handle);
    const qdrant = new QdrantStore({ url: server.url, timeoutMs: 300, log });
    const store = new ResilientStore(qdrant, FAST);
    try {
      await store.init();
      await store.upsertPatterns([pattern('before', 1)]);

      server.fault = { kind: 'drop' };
      await store.upsertPatterns([pattern('p1', 10), pattern('p2', 11)]);
      await store.saveAnomaly(anomaly('an_out1', Date.UTC(2026, 0, 1)));
      assert.equal(store.stats().state, 'down');
      await assert.rejects(() => store.searchPatterns('s', Float32Array.from([1, 0]), 3), StoreUnavailableError);
      assert.equal(server.requests.filter((r) => r.path.endsWith('/points/query')).length, 0, 'searches fail fast, without a request');
      const h = await store.health();
      assert.equal(h.ok, false);
      assert.match(h.detail!, /degraded.*unreachable.*2 patterns and 1 anomaly records buffered/);

      server.fault = { kind: 'reply', reply: fail(503, 'Service unavailable: node is starting') };
      await store.saveAnomaly(anomaly('an_out2', Date.UTC(2026, 0, 2)));
      await store.upsertPatterns([pattern('p3', 12)]);
      const probesBefore = server.requests.length;
      await waitFor('a few failed probes', () => server.requests.length >= probesBefore + 2);
      assert.equal(store.stats().state, 'down');

      server.fault = { kind: 'hang' };
      await waitFor('a timed-out probe', () => server.requests.length >= probesBefore + 3);
      server.fault = null;
      await waitFor('recovery and flush', () => store.stats().state === 'up' && store.stats().queuedPatterns + store.stats().queuedAnomalies === 0);

      assert.equal(await qdrant.countPatterns(), 4);
      assert.deepEqual((await qdrant.searchPatterns('s', Float32Array.from([12, 0]), 1)).map((n) => n.id), ['p3']);
      const listed = await qdrant.listAnomalies({ limit: 10 });
      assert.deepEqual(listed.items.map((a) => a.id), ['an_out2', 'an_out1']);
      const s = store.stats();
      assert.equal(s.flushedPatterns, 3);
      assert.equal(s.flushedAnomalies, 2);
      assert.equal(s.droppedPatterns + s.rejectedAnomalies + s.failedWrites, 0, 'nothing accepted was lost');
      assert.equal((await store.health()).ok, true);
    } finally {
      await store.close();
      await server.close();
    }
  });

  test('start-up gives up after its bounded retries with an error naming SENTINEL_QDRANT_URL', async () => {
    const server = await LoopbackQdrant.start(new QdrantEmulator().handle);
    server.fault = { kind: 'reply', reply: fail(503, 'Service unavailable') };
    const delays: number[] = [];
    const qdrant = new QdrantStore({
      url: server.url,
      apiKey: 'sekrit-api-key',
      startupTimeoutMs: 1_000,
      initialRetryDelayMs: 100,
      maxRetryDelayMs: 400,
      sleep: async (ms) => void delays.push(ms),
      log,
    });
    const store = new ResilientStore(qdrant, FAST);
    try {
      await assert.rejects(
        () => store.init(),
        (e: unknown) =>
          e instanceof StoreUnavailableError &&
          /SENTINEL_QDRANT_URL \(http:\/\/127\.0\.0\.1:\d+\) did not become ready after 4 attempts over 0\.7 s/.test(e.message) &&
          !e.message.includes('sekrit') &&
          e.cause instanceof StoreError,
      );
      assert.deepEqual(delays, [100, 200, 400]);
      assert.equal(server.requests[0].headers['api-key'], 'sekrit-api-key');
    } finally {
      await store.close();
      await server.close();
    }
  });
});
