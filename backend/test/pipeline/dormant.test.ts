import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { SentinelMetrics } from '../../src/metrics';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import { SqliteStore } from '../../src/store/sqlite-store';
import { MAX_GAP_WINDOWS } from '../../src/windowing/windower';
import { event, startServer } from '../helpers';

const T0 = Date.UTC(2026, 0, 5);
const MINUTE = 60_000;

/** A pipeline keyed by API key, with its series state in `dir` (as the service has it), on a test clock. */
async function open(dir: string, clock: { t: number }, env: Record<string, string> = {}) {
  const store = SqliteStore.inDataDir(dir);
  await store.init();
  const metrics = new SentinelMetrics(undefined, { defaultMetrics: false });
  const config = loadConfig({ SENTINEL_DATA_DIR: dir, SENTINEL_SERIES_KEY: 'service,apiKeyId', ...env });
  const pipeline = new Pipeline({ config, store, log: createLogger('silent'), metrics, now: () => clock.t });
  const states = SeriesStateStore.inDataDir(dir);
  pipeline.persistTo(states);
  pipeline.restoreState(states);
  const counter = async (name: string) =>
    (await metrics.registry.getSingleMetricAsString(name))
      .split('\n')
      .filter((l) => !l.startsWith('#') && l.trim())
      .join(' ');
  return {
    pipeline,
    states,
    counter,
    /** One minute of traffic for each of `keys`, at minute `m`. */
    async minute(m: number, keys: string[]) {
      clock.t = T0 + m * MINUTE + 30_000;
      pipeline.ingestEvents(keys.flatMap((k) => Array.from({ length: 10 }, (_, i) => event(T0 + m * MINUTE + i * 5_000, { apiKeyId: k, latencyMs: 900 + ((m * 7 + i * 13) % 50) }))));
      await pipeline.idle();
      pipeline.tick();
      await pipeline.idle();
    },
    async close() {
      await pipeline.shutdown();
      pipeline.saveState(states);
      pipeline.persistTo(null);
      states.close();
      await store.close();
    },
  };
}

describe('quiet series leave memory for series-state.db and come back from it', () => {
  test('API keys that stop are dormant after their longest reported silence; one that returns carries on where it stopped', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-dormant-'));
    try {
      const clock = { t: T0 };
      const p = await open(dir, clock);
      const gone = Array.from({ length: 20 }, (_, i) => `key-${i}`);
      // The keys that go are used in bursts (a quiet minute now and then), as keys are.
      for (let m = 0; m < 30; m++) await p.minute(m, m % 4 === 3 ? ['steady'] : ['steady', ...gone]);
      assert.equal(p.pipeline.scorer.states.size, 21);
      const before = p.pipeline.scorer.states.get('service=chat|apiKeyId=key-3')!.windowsSeen;

      // Only `steady` goes on: the others' silences are reported for MAX_GAP_WINDOWS windows, then they sleep.
      for (let m = 30; m < 30 + MAX_GAP_WINDOWS + 3; m++) await p.minute(m, ['steady']);
      assert.deepEqual([...p.pipeline.scorer.states.keys()], ['service=chat|apiKeyId=steady']);
      assert.equal(p.states.dormantCount(), 20);
      assert.match(await p.counter('sentinel_series_dormant_total'), /kind="events"} 20/);
      const listed = p.pipeline.dormantSeries();
      assert.equal(listed.length, 20);
      assert.equal(listed[0].labels.apiKeyId?.startsWith('key-'), true);
      // Still readable (POST /detect, score queries) without coming back into memory.
      const slept = p.pipeline.peekState('service=chat|apiKeyId=key-3')?.windowsSeen ?? 0;
      assert.ok(slept > before + MAX_GAP_WINDOWS, `${slept} windows: its traffic and its reported silence`);
      assert.equal(p.pipeline.scorer.states.size, 1);

      const m = 30 + MAX_GAP_WINDOWS + 3;
      await p.minute(m, ['steady', 'key-3']);
      await p.minute(m + 1, ['steady', 'key-3']);
      const back = p.pipeline.scorer.states.get('service=chat|apiKeyId=key-3');
      assert.ok(back, 'key-3 is back in memory');
      assert.ok(back.windowsSeen > slept, 'its history goes on (not a new series warming up)');
      assert.equal(p.states.dormantCount(), 19);
      assert.match(await p.counter('sentinel_series_revived_total'), /kind="events"} 1/);
      await p.close();

      // A restart loads the series in use, not the dormant ones.
      const q = await open(dir, clock);
      assert.deepEqual([...q.pipeline.scorer.states.keys()].sort(), ['service=chat|apiKeyId=key-3', 'service=chat|apiKeyId=steady']);
      assert.equal(q.states.dormantCount(), 19);
      await q.minute(m + 2, ['steady', 'key-7']);
      await q.minute(m + 3, ['steady', 'key-7']);
      assert.ok((q.pipeline.scorer.states.get('service=chat|apiKeyId=key-7')?.windowsSeen ?? 0) > MAX_GAP_WINDOWS, 'key-7 came back from disk after the restart');
      // key-3 has not reported since the restart, so the windower (which starts empty) reports no silence for
      // it: it sleeps by event time all the same.
      for (let n = m + 4; n < m + 4 + MAX_GAP_WINDOWS + 3; n++) await q.minute(n, ['steady']);
      assert.deepEqual([...q.pipeline.scorer.states.keys()], ['service=chat|apiKeyId=steady']);
      assert.equal(q.states.dormantCount(), 20);
      await q.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a plain series that went stale sleeps, and still refuses a point that is not after its last one when it is back', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-dormant-'));
    try {
      const clock = { t: T0 };
      const p = await open(dir, clock);
      for (let i = 0; i < 50; i++) {
        clock.t = T0 + i * MINUTE;
        p.pipeline.ingestPoints([{ series: 'cpu', labels: { host: 'a' }, timestamp: clock.t, value: 50 + (i % 5) }]);
        await p.pipeline.idle();
      }
      clock.t = T0 + 70 * MINUTE;
      p.pipeline.tick();
      await p.pipeline.idle();
      assert.equal(p.pipeline.scorer.states.size, 0, 'stale: out of memory');
      assert.equal(p.states.dormantCount(), 1);

      const late = p.pipeline.ingestPoints([{ series: 'cpu', labels: { host: 'a' }, timestamp: T0 + 49 * MINUTE, value: 50 }]);
      assert.equal(late.accepted, 0);
      assert.equal(late.rejected[0]?.message, 'not after the previous point of this series');
      assert.equal(p.pipeline.ingestPoints([{ series: 'cpu', labels: { host: 'a' }, timestamp: clock.t, value: 51 }]).accepted, 1);
      await p.pipeline.idle();
      assert.equal(p.pipeline.scorer.states.get('series=cpu|host=a')?.windowsSeen, 51);
      assert.equal(p.states.dormantCount(), 0);
      await p.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a series dormant for longer than SENTINEL_DORMANT_RETENTION_DAYS is forgotten, with its patterns; one that came back is kept', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-dormant-'));
    try {
      const clock = { t: T0 };
      const p = await open(dir, clock, { SENTINEL_DORMANT_RETENTION_DAYS: '1' });
      const point = (host: string, t: number, i: number) => ({ series: 'cpu', labels: { host }, timestamp: t, value: 50 + ((i * 7) % 5) });
      for (let i = 0; i < 50; i++) {
        clock.t = T0 + i * MINUTE;
        p.pipeline.ingestPoints([point('a', clock.t, i), point('b', clock.t, i)]);
        await p.pipeline.idle();
      }
      const tick = async (t: number) => {
        clock.t = t;
        p.pipeline.tick();
        await p.pipeline.idle();
      };
      const [a, b] = ['series=cpu|host=a', 'series=cpu|host=b'];
      const store = (p.pipeline as unknown as { opts: { store: SqliteStore } }).opts.store;
      const bPatterns = await store.countPatterns({ seriesKey: b });
      assert.ok(bPatterns > 0, 'b has learnt patterns');
      await tick(T0 + 70 * MINUTE);
      assert.equal(p.states.dormantCount(), 2, 'both stale, both dormant');

      // a reports again half a day later; b never does.
      clock.t = T0 + 12 * 60 * MINUTE;
      p.pipeline.ingestPoints([point('a', clock.t, 50)]);
      await p.pipeline.idle();
      assert.equal(p.states.dormantCount(), 1);

      await tick(T0 + 26 * 60 * MINUTE);
      assert.equal(p.states.dormantCount(), 0);
      assert.equal(p.pipeline.peekState(b), null, "b's saved state is gone");
      assert.equal(await store.countPatterns({ seriesKey: b }), 0, "and so are b's patterns");
      assert.equal(p.pipeline.scorer.states.get(a)?.windowsSeen, 51, 'a came back: kept');
      assert.ok((await store.countPatterns({ seriesKey: a })) > 0);
      assert.match(await p.counter('sentinel_series_forgotten_total'), /sentinel_series_forgotten_total 1$/);

      // b back after all that: a new series, warming up again.
      clock.t = T0 + 27 * 60 * MINUTE;
      p.pipeline.ingestPoints([point('b', clock.t, 0)]);
      await p.pipeline.idle();
      assert.equal(p.pipeline.scorer.states.get(b)?.windowsSeen, 1);
      await p.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a file saved before dormancy existed is read: its quiet event series become dormant at start', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-dormant-'));
    try {
      const clock = { t: T0 };
      const p = await open(dir, clock);
      for (let m = 0; m < 30; m++) await p.minute(m, ['steady', 'old']);
      await p.close();
      // Written by the earlier version: one row per series, no dormant / summary / last-seen columns. `old`'s
      // saved state says it had been silent for its longest reported gap.
      const db = new Database(path.join(dir, 'series-state.db'));
      db.exec(`CREATE TABLE legacy (key TEXT PRIMARY KEY, state BLOB NOT NULL, updated_ms INTEGER NOT NULL);
        INSERT INTO legacy SELECT key, state, updated_ms FROM series_state;
        DROP TABLE series_state;
        ALTER TABLE legacy RENAME TO series_state`);
      db.close();
      const quiet = SeriesStateStore.inDataDir(dir);
      const { states } = quiet.load();
      const old = states.find((s) => s.key === 'service=chat|apiKeyId=old')!;
      old.emptyRun = MAX_GAP_WINDOWS;
      quiet.save([old], null);
      quiet.close();

      const q = await open(dir, clock);
      assert.deepEqual([...q.pipeline.scorer.states.keys()], ['service=chat|apiKeyId=steady']);
      assert.equal(q.states.dormantCount(), 1);
      assert.equal(q.pipeline.dormantSeries()[0]?.key, 'service=chat|apiKeyId=old');
      await q.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('GET /series lists dormant series and GET /scores still charts them', async () => {
    const srv = await startServer({ SENTINEL_SERIES_KEY: 'service,apiKeyId' });
    try {
      const post = async (m: number, keys: string[]) => {
        const body = keys.flatMap((k) => Array.from({ length: 5 }, (_, i) => event(T0 + m * MINUTE + i * 10_000, { apiKeyId: k })));
        const res = await fetch(`${srv.url}/api/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        assert.equal(res.status, 202);
      };
      for (let m = 0; m < 30; m++) await post(m, m % 4 === 3 ? ['a'] : ['a', 'b']);
      for (let m = 30; m < 30 + MAX_GAP_WINDOWS + 3; m++) await post(m, ['a']);
      // The service looks for quiet series every few seconds (on its 1 s tick).
      type Listing = { items: { seriesKey: string; dormant: boolean; windows: number }[] };
      let series: Listing = { items: [] };
      for (let i = 0; i < 100 && !series.items.some((s) => s.dormant); i++) {
        await new Promise((r) => setTimeout(r, 100));
        series = (await (await fetch(`${srv.url}/api/v1/series`)).json()) as Listing;
      }
      const byKey = new Map(series.items.map((i) => [i.seriesKey, i]));
      assert.equal(byKey.get('service=chat|apiKeyId=a')?.dormant, false);
      assert.equal(byKey.get('service=chat|apiKeyId=b')?.dormant, true);
      assert.ok((byKey.get('service=chat|apiKeyId=b')?.windows ?? 0) > MAX_GAP_WINDOWS);
      const one = (await (await fetch(`${srv.url}/api/v1/scores?series=${encodeURIComponent('service=chat|apiKeyId=b')}`)).json()) as { items: { points: unknown[] }[] };
      assert.ok(one.items[0]?.points.length > MAX_GAP_WINDOWS, 'its saved timeline');
      const from = new Date(T0 + 20 * MINUTE).toISOString();
      const all = (await (await fetch(`${srv.url}/api/v1/scores?service=chat&from=${from}`)).json()) as { items: { seriesKey: string }[] };
      assert.deepEqual(all.items.map((i) => i.seriesKey).sort(), ['service=chat|apiKeyId=a', 'service=chat|apiKeyId=b']);
      const later = new Date(T0 + 200 * MINUTE).toISOString();
      const none = (await (await fetch(`${srv.url}/api/v1/scores?service=chat&from=${later}`)).json()) as { items: { seriesKey: string }[] };
      assert.ok(!none.items.some((i) => i.seriesKey.endsWith('=b')), 'a range after it went quiet does not read it');
    } finally {
      await srv.close();
    }
  });

  test('a series that goes dormant leaves the band gauges as it leaves sentinel_anomaly_score (QA: the bands stayed forever)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-dormant-'));
    try {
      const clock = { t: T0 };
      const p = await open(dir, clock, { SENTINEL_SERIES_KEY: 'service,model' });
      const minute = async (m: number, models: string[]) => {
        clock.t = T0 + m * MINUTE + 30_000;
        p.pipeline.ingestEvents(models.flatMap((model) => Array.from({ length: 10 }, (_, i) => event(T0 + m * MINUTE + i * 5_000, { model, latencyMs: 900 + ((m * 7 + i * 13) % 50) }))));
        await p.pipeline.idle();
        p.pipeline.tick();
        await p.pipeline.idle();
      };
      const gauges = ['sentinel_anomaly_score', 'sentinel_feature_value', 'sentinel_expected_value', 'sentinel_expected_value_lower', 'sentinel_expected_value_upper'];
      const shown = async (model: string) => {
        const out: string[] = [];
        for (const g of gauges) if ((await p.counter(g)).includes(`model="${model}"`)) out.push(g);
        return out;
      };
      for (let m = 0; m < 30; m++) await minute(m, ['steady', 'gone']);
      assert.deepEqual(await shown('gone'), gauges, 'a warm series has its score and its bands');
      for (let m = 30; m < 30 + MAX_GAP_WINDOWS + 3; m++) await minute(m, ['steady']);
      // Keyed by service and model, a stop is an outage held open for a day: a day later it sleeps.
      const later = 30 + MAX_GAP_WINDOWS + 25 * 60;
      for (let m = later; m < later + 3; m++) await minute(m, ['steady']);
      assert.deepEqual([...p.pipeline.scorer.states.keys()], ['service=chat|model=steady']);
      assert.deepEqual(await shown('gone'), [], 'dormant: neither its score nor its bands are exported');
      assert.deepEqual(await shown('steady'), gauges);

      // Back: its bands are exported again from its next window.
      await minute(later + 3, ['steady', 'gone']);
      await minute(later + 4, ['steady', 'gone']);
      assert.ok(p.pipeline.scorer.states.has('service=chat|model=gone'));
      assert.deepEqual(await shown('gone'), gauges);
      await p.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
