import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import { SqliteStore } from '../../src/store/sqlite-store';

const T0 = Date.UTC(2026, 0, 5);

async function open(dir: string) {
  const store = new SqliteStore(path.join(dir, 'sentinel.db'));
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({}), store, log: createLogger('silent'), maxFutureMs: Infinity });
  return { store, pipeline };
}

const pointsSeen = (p: Pipeline) => [...p.scorer.states.values()].reduce((n, s) => n + s.windowsSeen, 0);

test('points accepted but not scored when a shutdown runs out of time are saved, and the next start scores them (QA)', async () => {
  // A graceful stop right after a large backfill (100,000 points: 202) scored what it could in 5 s and
  // dropped the other 73,406 points with a warning, though the client had been told they were accepted.
  const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-points-'));
  try {
    const a = await open(dir);
    const points = Array.from({ length: 20 }, (_, k) => Array.from({ length: 30 }, (_, i) => ({ series: 'cpu', labels: { host: `h${k}` }, timestamp: T0 + i * 1000, value: (i * 7 + k) % 11 }))).flat();
    assert.equal(a.pipeline.ingestPoints(points).accepted, 600);
    await a.pipeline.shutdown({ keepUnfinished: true, scoringBudgetMs: 0 });
    const scored = pointsSeen(a.pipeline);
    assert.ok(scored < 600, `${scored} points scored with no time left`);
    const saved = a.pipeline.takeUnfinished();
    assert.equal(scored + saved.points.length, 600, 'every accepted point is scored or saved');
    const states = SeriesStateStore.inDataDir(dir);
    a.pipeline.saveState(states);
    states.saveOpenWindows(saved.windows, saved.eventTime);
    states.saveQueuedPoints(saved.points);
    states.close();
    await a.store.close();

    const b = await open(dir);
    const restored = SeriesStateStore.inDataDir(dir);
    b.pipeline.restoreState(restored);
    assert.deepEqual(b.pipeline.restoreQueuedPoints(restored.takeQueuedPoints()), { restored: saved.points.length, refused: 0 });
    assert.deepEqual(restored.takeQueuedPoints(), [], 'taken once');
    restored.close();
    await b.pipeline.idle();
    assert.equal(pointsSeen(b.pipeline), 600);
    // The series go on from the last restored point: a point at or before it is refused as usual.
    const again = b.pipeline.ingestPoints([{ series: 'cpu', labels: { host: 'h0' }, timestamp: T0 + 29_000, value: 1 }, { series: 'cpu', labels: { host: 'h0' }, timestamp: T0 + 30_000, value: 1 }]);
    assert.equal(again.accepted, 1);
    assert.equal(again.rejected[0]?.field, 'timestamp');
    await b.pipeline.idle();
    await b.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('saved points go with the rest of the saved state when SENTINEL_WINDOW or SENTINEL_SERIES_KEY changed', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-points-'));
  try {
    const states = SeriesStateStore.inDataDir(dir);
    assert.equal(states.adopt('a'), true);
    states.saveQueuedPoints([{ series: 'cpu', labels: {}, timestamp: T0, value: 1 }]);
    assert.equal(states.adopt('a'), true);
    assert.equal(states.adopt('b'), false);
    assert.deepEqual(states.takeQueuedPoints(), []);
    states.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
