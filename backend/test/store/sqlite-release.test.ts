import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SqliteStore } from '../../src/store/sqlite-store';

const DIM = 48;
const vec = (seed: number) => Float32Array.from({ length: DIM }, (_, i) => Math.sin(seed * 31 + i));

test('a quiet series releases its cached partition, so the budget serves the series still in use', async () => {
  // Room for about one 100-pattern partition (48 x 4 bytes per vector, plus ids).
  const store = new SqliteStore(':memory:', { vectorCacheBytes: 40_000 });
  await store.init();
  for (const series of ['gone', 'live']) {
    await store.upsertPatterns(Array.from({ length: 100 }, (_, i) => ({ id: `${series}-${i}`, seriesKey: series, kind: 'normal' as const, timestamp: i, vector: vec(i) })));
  }
  await store.searchPatterns('gone', vec(3), 5);
  const one = store.vectorCacheUsed;
  assert.ok(one > 0, 'the first series searched is cached');
  await store.searchPatterns('live', vec(3), 5);
  assert.equal(store.vectorCacheUsed, one, 'no room left for the second');

  store.releaseSeries('gone');
  assert.equal(store.vectorCacheUsed, 0);
  const hits = await store.searchPatterns('live', vec(3), 5);
  assert.equal(hits[0]?.distance, 0, 'same answers');
  assert.equal(store.vectorCacheUsed, one, 'the series in use is cached now');
  const again = await store.searchPatterns('gone', vec(7), 1);
  assert.equal(again[0]?.id, 'gone-7', 'a released series is still searchable (through sqlite-vec)');
  await store.close();
});
