import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { Pattern } from '../../src/domain/types';
import { steadyTraffic } from '../helpers';

const T0 = Date.UTC(2026, 0, 5);

/** The embedded store on a disk that fills up: pattern writes fail while `full` is set (SQLITE_FULL). */
class FillingStore extends SqliteStore {
  full = false;
  override async upsertPatterns(patterns: Pattern[]): Promise<void> {
    if (this.full) throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    return super.upsertPatterns(patterns);
  }
}

test('a store that refuses writes (full disk) does not stop scoring; health learns of it, and it recovers', async () => {
  const store = new FillingStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({}), store, log: createLogger('silent'), maxFutureMs: Infinity });
  const minute = async (m: number, latencyMs = 900) => {
    pipeline.ingestEvents(steadyTraffic(T0 + m * 60_000, 1, 30, { latencyMs }, m));
    await pipeline.idle();
  };
  for (let m = 0; m < 30; m++) await minute(m);
  store.full = true;
  for (let m = 30; m < 40; m++) await minute(m);
  // A latency incident while the disk is full is still found (it used to throw for every window).
  for (let m = 40; m < 44; m++) await minute(m, 20_000);
  pipeline.endOfInput();
  await pipeline.idle();
  assert.equal(pipeline.failureCount, 0, 'every window scored');
  assert.match(pipeline.storeWriteError ?? '', /disk is full/);
  const found = (await store.listAnomalies({ limit: 10 })).items;
  assert.ok(found.some((a) => a.type === 'latency_spike'), found.map((a) => a.type).join());
  store.full = false;
  await minute(45);
  await pipeline.shutdown();
  assert.equal(pipeline.storeWriteError, null, 'the next write that works clears it');
  await store.close();
});

test('a shutdown with a backlog of 150k queued points saves them for the next start (a spread overflowed the stack)', async () => {
  const store = new SqliteStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({}), store, log: createLogger('silent'), maxFutureMs: Infinity });
  const points = Array.from({ length: 150_000 }, (_, i) => ({ series: 'cpu', labels: {}, timestamp: T0 + i * 1000, value: i % 7 }));
  assert.equal(pipeline.ingestPoints(points).accepted, points.length);
  await pipeline.shutdown({ keepUnfinished: true, scoringBudgetMs: 0 });
  await store.close();
});
