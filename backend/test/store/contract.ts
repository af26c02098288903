import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { AnomalyRecord, Pattern } from '../../src/domain/types';
import { NotFoundError, ValidationError } from '../../src/errors';
import type { VectorStore } from '../../src/store/vector-store';

/** How a contract run gets a fresh store, and re-opens the same data (restart) when it can. */
export interface StoreFactory {
  name: string;
  create(): Promise<VectorStore>;
  /** Re-open the same data as a new instance; omitted where the backend has no notion of it. */
  reopen?(old: VectorStore): Promise<VectorStore>;
}

const v = (...xs: number[]) => Float32Array.from(xs);

function pattern(id: string, seriesKey: string, vector: Float32Array, ts: number, kind: Pattern['kind'] = 'normal'): Pattern {
  return { id, seriesKey, vector, timestamp: ts, kind };
}

export function anomaly(id: string, startMs: number, over: Partial<AnomalyRecord> = {}): AnomalyRecord {
  return {
    id,
    seriesKey: 'service=chat|model=m1',
    labels: { service: 'chat', model: 'm1' },
    start: new Date(startMs).toISOString(),
    end: new Date(startMs + 60_000).toISOString(),
    score: 2,
    severity: 'medium',
    type: 'latency_spike',
    status: 'open',
    windows: 1,
    attributions: [{ feature: 'latency_p95_ms', actual: 900, expected: 300, lower: 200, upper: 400, z: 6 }],
    detectors: { robust_z: 2 },
    explanation: { summary: 's', source: 'evidence', markdown: 'm', evidence: { features: [], nearestNormal: [], similarIncidents: [] } },
    incidentId: id,
    feedback: null,
    ...over,
  };
}

/**
 * The contract every VectorStore adapter must pass. One parameterised suite: each adapter's test file
 * calls it with its factory.
 */
export function storeContract(factory: StoreFactory): void {
  describe(`VectorStore contract: ${factory.name}`, () => {
    let store: VectorStore;
    before(async () => {
      store = await factory.create();
      await store.init();
    });
    after(async () => {
      await store.close();
    });

    test('init is idempotent', async () => {
      await store.init();
      assert.equal((await store.health()).ok, true);
    });

    test('search returns the k nearest patterns of the same series only, nearest first', async () => {
      await store.upsertPatterns([
        pattern('a1', 's-a', v(0, 0, 0), 1000),
        pattern('a2', 's-a', v(1, 0, 0), 2000),
        pattern('a3', 's-a', v(5, 5, 5), 3000),
        pattern('b1', 's-b', v(0.1, 0, 0), 1000),
      ]);
      const hits = await store.searchPatterns('s-a', v(0.2, 0, 0), 2);
      assert.deepEqual(hits.map((h) => h.id), ['a1', 'a2']);
      assert.ok(Math.abs(hits[0].distance - 0.2) < 1e-5, `euclidean distance, got ${hits[0].distance}`);
      assert.equal(hits[0].timestamp, 1000);
      assert.equal(hits[0].kind, 'normal');
      assert.deepEqual(await store.searchPatterns('s-none', v(0, 0, 0), 3), []);
    });

    test('kinds are separate: incident patterns carry their meta and are not normal neighbours', async () => {
      await store.upsertPatterns([{ ...pattern('inc1', 's-a', v(9, 9, 9), 4000, 'incident'), meta: { anomalyId: 'an_x', type: 'latency_spike', cause: 'bad deploy' } }]);
      const normal = await store.searchPatterns('s-a', v(9, 9, 9), 10, 'normal');
      assert.ok(!normal.some((h) => h.id === 'inc1'));
      const inc = await store.searchPatterns('s-a', v(9, 9, 9), 1, 'incident');
      assert.equal(inc[0].id, 'inc1');
      assert.deepEqual(inc[0].meta, { anomalyId: 'an_x', type: 'latency_spike', cause: 'bad deploy' });
    });

    test('vectors of another dimension coexist and never mix in a search', async () => {
      await store.upsertPatterns([pattern('d5', 's-a', v(0, 0, 0, 0, 0), 5000)]);
      const hits = await store.searchPatterns('s-a', v(0, 0, 0, 0, 0), 10);
      assert.deepEqual(hits.map((h) => h.id), ['d5']);
    });

    test('upsert by id replaces the vector', async () => {
      await store.upsertPatterns([pattern('r1', 's-r', v(0, 0), 1), pattern('r2', 's-r', v(3, 3), 2)]);
      await store.upsertPatterns([pattern('r1', 's-r', v(10, 10), 3)]);
      const hits = await store.searchPatterns('s-r', v(10, 10), 1);
      assert.equal(hits[0].id, 'r1');
      assert.ok(hits[0].distance < 1e-6);
      assert.equal(await store.countPatterns({ seriesKey: 's-r' }), 2);
    });

    test('count and prune keep the newest patterns of a series', async () => {
      const ps = Array.from({ length: 12 }, (_, i) => pattern(`p${i}`, 's-p', v(i, 0), 1000 + i));
      await store.upsertPatterns(ps);
      assert.equal(await store.countPatterns({ seriesKey: 's-p', kind: 'normal' }), 12);
      assert.equal(await store.prunePatterns('s-p', 'normal', 5), 7);
      assert.equal(await store.countPatterns({ seriesKey: 's-p' }), 5);
      const hits = await store.searchPatterns('s-p', v(0, 0), 10);
      assert.deepEqual(hits.map((h) => h.id).sort(), ['p10', 'p11', 'p7', 'p8', 'p9']);
    });

    test('pruning to 0 deletes every pattern of a series and kind (a forgotten series), and no other', async () => {
      await store.upsertPatterns([pattern('z1', 's-z', v(1, 1), 1), pattern('z2', 's-z', v(2, 2), 2), pattern('z3', 's-other', v(3, 3), 3)]);
      assert.equal(await store.prunePatterns('s-z', 'normal', 0), 2);
      assert.equal(await store.countPatterns({ seriesKey: 's-z' }), 0);
      assert.deepEqual(await store.searchPatterns('s-z', v(1, 1), 5), []);
      assert.equal(await store.countPatterns({ seriesKey: 's-other' }), 1);
    });

    test('scanPatterns yields every pattern once, with its vector', async () => {
      const seen = new Map<string, Float32Array>();
      for await (const batch of store.scanPatterns(3)) for (const p of batch) seen.set(p.id, p.vector);
      assert.equal(seen.size, await store.countPatterns());
      assert.deepEqual(Array.from(seen.get('a2')!), [1, 0, 0]);
    });

    test('anomalies: save, get, upsert, unknown id', async () => {
      await store.saveAnomaly(anomaly('an_1', Date.UTC(2026, 0, 1, 0, 0)));
      assert.equal((await store.getAnomaly('an_1'))!.severity, 'medium');
      await store.saveAnomaly(anomaly('an_1', Date.UTC(2026, 0, 1, 0, 0), { severity: 'high', windows: 3 }));
      const got = (await store.getAnomaly('an_1'))!;
      assert.equal(got.severity, 'high');
      assert.equal(got.windows, 3);
      assert.deepEqual(got.attributions, anomaly('an_1', 0).attributions);
      assert.equal(await store.getAnomaly('an_missing'), null);
    });

    test('listAnomalies: newest first, filters, cursor pagination without gaps or repeats', async () => {
      const base = Date.UTC(2026, 0, 2);
      for (let i = 0; i < 25; i++) {
        await store.saveAnomaly(
          anomaly(`an_l${String(i).padStart(2, '0')}`, base + Math.floor(i / 2) * 60_000, {
            severity: i % 3 === 0 ? 'critical' : 'low',
            type: i % 2 ? 'error_rate' : 'latency_spike',
            labels: { service: i % 5 === 0 ? 'search' : 'chat', model: 'm1' },
          }),
        );
      }
      const ids: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await store.listAnomalies({ from: base, limit: 7, cursor });
        ids.push(...page.items.map((a) => a.id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      assert.equal(ids.length, 25);
      assert.equal(new Set(ids).size, 25);
      const starts = await Promise.all(ids.map(async (id) => Date.parse((await store.getAnomaly(id))!.start)));
      for (let i = 1; i < starts.length; i++) assert.ok(starts[i - 1] >= starts[i], 'newest first');
      const crit = await store.listAnomalies({ from: base, severity: ['critical'], limit: 100 });
      assert.equal(crit.items.length, 9);
      const search = await store.listAnomalies({ from: base, service: 'search', type: 'latency_spike', limit: 100 });
      assert.ok(search.items.every((a) => a.labels.service === 'search' && a.type === 'latency_spike'));
      assert.equal(search.items.length, 3);
      // Overlapping the range: the 4 starting in it and the 2 that started a minute before and end at its start.
      const window = await store.listAnomalies({ from: base + 60_000, to: base + 120_000, limit: 100 });
      assert.equal(window.items.length, 6);
    });

    test('listAnomalies: a time range returns the incidents running in it, also ones that began before it', async () => {
      const t = Date.UTC(2026, 0, 3, 12);
      const hour = 3_600_000;
      await store.saveAnomaly(anomaly('an_r_long', t - 2 * hour, { end: new Date(t + 10 * 60_000).toISOString() }));
      await store.saveAnomaly(anomaly('an_r_over', t - 3 * hour, { end: new Date(t - hour).toISOString() }));
      await store.saveAnomaly(anomaly('an_r_in', t + 5 * 60_000));
      await store.saveAnomaly(anomaly('an_r_after', t + 2 * hour));
      const ids = async (q: { from?: number; to?: number }) => (await store.listAnomalies({ ...q, limit: 100 })).items.map((a) => a.id).filter((id) => id.startsWith('an_r_'));
      assert.deepEqual(await ids({ from: t, to: t + hour }), ['an_r_in', 'an_r_long']);
      assert.deepEqual(await ids({ from: t }), ['an_r_after', 'an_r_in', 'an_r_long']);
      assert.deepEqual(await ids({ to: t - 2 * hour }), ['an_r_long', 'an_r_over']);
      // An update that extends the incident moves its end: it is found later too.
      await store.saveAnomaly(anomaly('an_r_over', t - 3 * hour, { end: new Date(t + hour).toISOString() }));
      assert.deepEqual(await ids({ from: t + 30 * 60_000, to: t + hour }), ['an_r_over']);
    });

    test('listAnomalies rejects a forged cursor with a ValidationError naming the field', async () => {
      await assert.rejects(() => store.listAnomalies({ limit: 5, cursor: 'not-a-cursor' }), (e: unknown) => e instanceof ValidationError && e.field === 'cursor');
    });

    test('feedback: stored on the record, counted, unknown id is NotFound', async () => {
      const fb = { verdict: 'false_positive' as const, note: 'deploy', at: new Date().toISOString() };
      const updated = await store.saveFeedback('an_1', fb);
      assert.deepEqual(updated.feedback, fb);
      assert.deepEqual((await store.getAnomaly('an_1'))!.feedback, fb);
      await store.saveFeedback('an_l00', { verdict: 'true_positive', at: fb.at });
      const counts = await store.feedbackCounts();
      assert.equal(counts.false_positive, 1);
      assert.equal(counts.true_positive, 1);
      await assert.rejects(() => store.saveFeedback('an_missing', fb), NotFoundError);
    });

    test('scanAnomalies yields every record once', async () => {
      const ids = new Set<string>();
      for await (const batch of store.scanAnomalies(4)) for (const a of batch) ids.add(a.id);
      assert.equal(ids.size, 30, "1 + 25 listed + 4 in the time-range test");
    });

    test('data survives a restart', async (t) => {
      if (!factory.reopen) return t.skip('backend has no restart notion');
      store = await factory.reopen(store);
      await store.init();
      assert.equal((await store.getAnomaly('an_1'))!.feedback?.verdict, 'false_positive');
      const hits = await store.searchPatterns('s-a', v(0.2, 0, 0), 1);
      assert.equal(hits[0].id, 'a1');
      await store.upsertPatterns([pattern('after', 's-a', v(0.2, 0, 0), 9000)]);
      assert.equal((await store.searchPatterns('s-a', v(0.2, 0, 0), 1))[0].id, 'after');
    });
  });
}
