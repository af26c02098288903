import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { rng } from '../../src/demo/traffic';
import { createLogger } from '../../src/logger';
import { SentinelMetrics } from '../../src/metrics';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import { SqliteStore } from '../../src/store/sqlite-store';

const T0 = Date.UTC(2026, 0, 5);
const MINUTE = 60_000;

/** A pipeline with its store and metrics, on the wall clock `now` (in `dir`, else in memory). */
async function openPipeline(now: () => number, env: Record<string, string> = {}, dir?: string) {
  const store = dir ? SqliteStore.inDataDir(dir) : new SqliteStore(':memory:');
  await store.init();
  const metrics = new SentinelMetrics(undefined, { defaultMetrics: false });
  const pipeline = new Pipeline({ config: loadConfig({ ...(dir ? { SENTINEL_DATA_DIR: dir } : {}), ...env }), store, log: createLogger('silent'), metrics, now });
  return { store, metrics, pipeline };
}

/**
 * A pipeline on a wall clock the test moves, fed a plain series one point a minute (event time = wall
 * clock) that ends with a spike, so an incident is open when the series stops.
 */
async function stoppedSeries(env: Record<string, string> = {}, dir?: string) {
  let clock = T0;
  const { store, metrics, pipeline } = await openPipeline(() => clock, env, dir);
  const events: string[] = [];
  pipeline.onAnomaly((event, record) => void events.push(`${event}:${record.id}`));
  const r = rng(3);
  const point = async (i: number, value: number) => {
    clock = T0 + i * MINUTE;
    pipeline.ingestPoints([{ series: 'queue_depth', labels: { host: 'a' }, timestamp: clock, value }]);
    await pipeline.idle();
  };
  for (let i = 0; i < 300; i++) await point(i, 100 + 10 * (r() - 0.5));
  await point(300, 900);
  /** Moves the wall clock to `minutes` after the last point and lets the server's tick run. */
  const after = async (minutes: number) => {
    clock = T0 + 300 * MINUTE + minutes * MINUTE;
    pipeline.tick();
    await pipeline.idle();
  };
  const gauge = async (name: string) => (await metrics.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));
  return { pipeline, store, events, point, after, gauge, metrics };
}

describe('plain series that stop reporting (SENTINEL_STALE_SECONDS)', () => {
  test('an open incident resolves as stale after 10 of the series\' intervals of silence, and the series then starts afresh', async () => {
    const s = await stoppedSeries();
    const [open] = (await s.store.listAnomalies({ limit: 10 })).items;
    assert.equal(open?.status, 'open', 'the spike opened an incident');
    assert.deepEqual(await s.gauge('sentinel_open_incidents'), ['sentinel_open_incidents 1']);
    const scores = await s.gauge('sentinel_anomaly_score');
    assert.equal(scores.filter((l) => l.includes('signal="overall"')).length, 1, 'the series has a score');
    for (const detector of ['robust_z', 'ewma', 'knn']) assert.ok(scores.some((l) => l.includes(`signal="${detector}"`)), `${detector}: ${scores.join('\n')}`);

    // One point a minute: past SENTINEL_STALE_SECONDS (5 min) but within 10 intervals, the series is only late.
    await s.after(8);
    assert.equal((await s.store.getAnomaly(open.id))?.status, 'open');

    await s.after(11);
    const resolved = await s.store.getAnomaly(open.id);
    assert.equal(resolved?.status, 'resolved');
    assert.equal(resolved?.resolution, 'stale');
    assert.deepEqual(s.events.filter((e) => e.startsWith('resolved')), [`resolved:${open.id}`]);
    assert.deepEqual(await s.gauge('sentinel_open_incidents'), ['sentinel_open_incidents 0']);
    assert.equal((await s.gauge('sentinel_anomaly_score')).length, 0, 'a silent series has no current score');
    await s.after(20);
    assert.equal(s.events.filter((e) => e.startsWith('resolved')).length, 1, 'resolved once');

    // Back, with another spike within the old hold-off's 100 points: a new incident, not the old one re-opened.
    await s.point(325, 100);
    await s.point(326, 1500);
    const items = (await s.store.listAnomalies({ limit: 10 })).items;
    assert.equal(items.length, 2);
    const fresh = items.find((a) => a.id !== open.id)!;
    assert.equal(fresh.status, 'open');
    assert.equal(fresh.resolution, undefined);
    assert.ok(s.events.includes(`opened:${fresh.id}`), s.events.join(' '));
    assert.equal((await s.store.getAnomaly(open.id))?.status, 'resolved');
    assert.equal((await s.gauge('sentinel_anomaly_score')).filter((l) => l.includes('signal="overall"')).length, 1, 'its score is exported again');
    await s.store.close();
  });

  test('back from a silence that followed a spike, its normal points do not alert: kNN does not judge a subsequence that spans the silence (QA)', async () => {
    const s = await stoppedSeries();
    const [spike] = (await s.store.listAnomalies({ limit: 10 })).items;
    await s.after(20);
    assert.equal((await s.store.getAnomaly(spike.id))?.resolution, 'stale');
    // The first 16 points after it hold the spike in their subsequence; each is an ordinary value.
    const r = rng(11);
    const state = () => s.pipeline.scorer.states.get([...s.pipeline.scorer.states.keys()][0])!;
    for (let i = 0; i < 20; i++) {
      await s.point(321 + i, 100 + 10 * (r() - 0.5));
      const detectors = Object.keys(state().lastDetectors);
      if (i < 15) assert.ok(!detectors.includes('knn'), `point ${i} after the silence: kNN silent (${detectors.join(', ')})`);
      else assert.ok(detectors.includes('knn'), `point ${i}: its subsequence is after the silence, kNN judges it again`);
    }
    const items = (await s.store.listAnomalies({ limit: 10 })).items;
    assert.deepEqual(items.map((a) => a.id), [spike.id], 'no incident for ordinary points');
    // A spike right after the silence still alerts: the value detectors agree on it.
    await s.after(40);
    await s.point(361, 100);
    await s.point(362, 1500);
    assert.equal((await s.store.listAnomalies({ limit: 10 })).items.length, 2);
    await s.store.close();
  });

  test('SENTINEL_STALE_SECONDS=0 keeps the incident open however long the series is silent', async () => {
    const s = await stoppedSeries({ SENTINEL_STALE_SECONDS: '0' });
    await s.after(24 * 60);
    const [rec] = (await s.store.listAnomalies({ limit: 10 })).items;
    assert.equal(rec.status, 'open');
    await s.store.close();
  });

  test('a restored series that never comes back resolves its incident after the stale time from the start', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-stale-'));
    try {
      const a = await stoppedSeries({}, dir);
      a.pipeline.saveState(SeriesStateStore.inDataDir(dir));
      const [open] = (await a.store.listAnomalies({ limit: 10 })).items;
      await a.store.close();

      // Restarted a day later; the series is gone.
      let clock = T0 + 24 * 60 * MINUTE;
      const { store, metrics, pipeline } = await openPipeline(() => clock, {}, dir);
      const events: string[] = [];
      pipeline.onAnomaly((event, record) => void events.push(`${event}:${record.id}:${record.resolution}`));
      assert.equal(pipeline.restoreState(SeriesStateStore.inDataDir(dir)), 1);
      pipeline.tick();
      await pipeline.idle();
      assert.equal((await store.getAnomaly(open.id))?.status, 'open', 'not at once: it may be about to report');
      clock += 6 * MINUTE;
      pipeline.tick();
      await pipeline.idle();
      assert.deepEqual(events, [`resolved:${open.id}:stale`]);
      assert.match(await metrics.registry.getSingleMetricAsString('sentinel_open_incidents'), /sentinel_open_incidents 0\n?$/, 'counted when restored, so not below zero');
      await store.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
