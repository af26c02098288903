import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { rng } from '../../src/demo/traffic';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import { SqliteStore } from '../../src/store/sqlite-store';
import { event, startServer } from '../helpers';

/** Runs `fn` with `n` fresh data directories, removed afterwards. */
async function withDirs(n: number, fn: (dirs: string[]) => Promise<void>): Promise<void> {
  const dirs = Array.from({ length: n }, () => mkdtempSync(path.join(tmpdir(), 'sentinel-state-')));
  try {
    await fn(dirs);
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}

const T0 = Date.UTC(2026, 0, 5);
/** A daily-ish gauge with noise, spikes, a slide to a new low and a stuck stretch: every detector has state. */
const VALUES = (() => {
  const r = rng(11);
  return Array.from({ length: 900 }, (_, i) => {
    if (i >= 820 && i < 870) return 33;
    const base = 100 + 20 * Math.sin((2 * Math.PI * i) / 288) + 6 * (r() - 0.5);
    return base + (i === 450 || i === 700 ? 90 : 0) - (i >= 760 && i < 775 ? 4 * (i - 760) : 0);
  });
})();

async function open(dir: string) {
  const store = SqliteStore.inDataDir(dir);
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({ SENTINEL_DATA_DIR: dir }), store, log: createLogger('silent'), maxFutureMs: Infinity });
  return { store, pipeline };
}

/** Feeds points [from, to) one at a time; returns each one's score and alert score. */
async function feed(pipeline: Pipeline, from: number, to: number): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = from; i < to; i++) {
    pipeline.ingestPoints([{ series: 'temp', labels: { host: 'a' }, timestamp: T0 + i * 300_000, value: VALUES[i] }]);
    await pipeline.idle();
    const s = pipeline.scorer.states.values().next().value!;
    out.push([s.lastScore, s.alertScore]);
  }
  return out;
}

describe('series state across a restart (series-state.db)', () => {
  test('a restored pipeline scores the rest of a series exactly as one that never stopped', async () => {
    await withDirs(2, async (dirs) => {
      // Uninterrupted.
      const a = await open(dirs[0]);
      await feed(a.pipeline, 0, 600);
      const straight = await feed(a.pipeline, 600, VALUES.length);
      await a.pipeline.shutdown();
      await a.store.close();

      // Stopped after 600 points, state saved, started again on the same data directory.
      const b1 = await open(dirs[1]);
      await feed(b1.pipeline, 0, 600);
      await b1.pipeline.shutdown();
      const saved = SeriesStateStore.inDataDir(dirs[1]);
      assert.equal(b1.pipeline.saveState(saved), 1);
      assert.equal(b1.pipeline.saveState(saved), 0, 'nothing changed since the last save');
      saved.close();
      await b1.store.close();

      const b2 = await open(dirs[1]);
      const loaded = SeriesStateStore.inDataDir(dirs[1]);
      assert.equal(b2.pipeline.restoreState(loaded), 1);
      loaded.close();
      const restored = b2.pipeline.scorer.states.values().next().value!;
      assert.equal(restored.windowsSeen, 600);
      // The last point is remembered: an old one is refused after the restart too.
      assert.equal(b2.pipeline.ingestPoints([{ series: 'temp', labels: { host: 'a' }, timestamp: T0, value: 1 }]).rejected.length, 1);
      const resumed = await feed(b2.pipeline, 600, VALUES.length);
      await b2.pipeline.shutdown();
      await b2.store.close();

      assert.ok(straight.some(([s]) => s > 1), 'the second half has anomalies to compare');
      assert.deepEqual(resumed, straight);
    });
  });

  test('a row of another format version is ignored (the series re-warms)', async () => {
    await withDirs(1, async ([dir]) => {
      const { store, pipeline } = await open(dir);
      await feed(pipeline, 0, 50);
      const st = SeriesStateStore.inDataDir(dir);
      pipeline.saveState(st);
      // Rewrite the row as if an older release had written it.
      const db = (st as unknown as { db: { prepare(sql: string): { run(...a: unknown[]): void } } }).db;
      const { serialize } = await import('node:v8');
      db.prepare("UPDATE series_state SET state = ? WHERE key != char(0) || 'pooled'").run(serialize({ v: 0, state: {} }));
      assert.equal(st.load().states.length, 0);
      st.close();
      await store.close();
    });
  });

  test('states learnt under other settings (window length, series key) are dropped, not restored', async () => {
    await withDirs(1, async ([dir]) => {
      const { store, pipeline } = await open(dir);
      await feed(pipeline, 0, 50);
      const st = SeriesStateStore.inDataDir(dir);
      assert.equal(st.adopt('{"windowMs":60000}'), true, 'a new file takes the fingerprint');
      pipeline.saveState(st);
      assert.equal(st.adopt('{"windowMs":60000}'), true);
      assert.equal(st.load().states.length, 1);
      assert.equal(st.adopt('{"windowMs":300000}'), false);
      assert.equal(st.load().states.length, 0);
      assert.equal(st.adopt('{"windowMs":300000}'), true, 'and the new settings are recorded');
      st.close();
      await store.close();
    });
  });

  test('new settings delete the patterns learnt under the old ones, at the next start, before any window is scored', async () => {
    const t0 = Date.now() - 3_600_000;
    const first = await startServer({ SENTINEL_WINDOW: '60s', SENTINEL_LATENESS: '0s' });
    const { pipeline, store } = first.app;
    for (let w = 0; w < 30; w++) pipeline.ingestEvents([event(t0 + w * 60_000), event(t0 + w * 60_000 + 20_000, { service: 'search' })]);
    pipeline.ingestEvents([event(t0 + 31 * 60_000)]);
    await pipeline.idle();
    const before = await store.countPatterns();
    assert.ok(before >= 20, `patterns learnt: ${before}`);
    await first.close({ keepData: true });

    // The same settings keep them.
    const same = await startServer({ SENTINEL_WINDOW: '60s', SENTINEL_LATENESS: '0s' }, first.dataDir);
    assert.equal(await same.app.store.countPatterns(), before);
    await same.close({ keepData: true });

    // Another window length: 1-minute patterns are no normal for 5-minute windows of the same keys.
    const second = await startServer({ SENTINEL_WINDOW: '300s', SENTINEL_LATENESS: '0s' }, first.dataDir);
    try {
      assert.equal(await second.app.store.countPatterns(), 0);
      assert.ok(second.logs.some((l) => l.includes('patterns learnt under the previous') && l.includes('"series":2')));
    } finally {
      await second.close();
    }
  });
});
