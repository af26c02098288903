import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StoreError } from '../../src/errors';
import { SqliteStore } from '../../src/store/sqlite-store';

test('a damaged sentinel.db stops the start with a StoreError naming the file, not a bare SqliteError stack', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-damaged-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const store = SqliteStore.inDataDir(dir);
  await store.init();
  await store.upsertPatterns(
    Array.from({ length: 300 }, (_, i) => ({ id: `p${i}`, seriesKey: 's', kind: 'normal' as const, timestamp: i, vector: Float32Array.from({ length: 48 }, (_, j) => Math.sin(i + j)) })),
  );
  await store.close();
  // A truncated copy (a disk that filled up, a partial backup restore): SQLite reads it as malformed.
  truncateSync(join(dir, 'sentinel.db'), 8192);

  const again = SqliteStore.inDataDir(dir);
  await assert.rejects(again.init(), (err: unknown) => {
    assert.ok(err instanceof StoreError, `a StoreError, got ${(err as Error).name}: ${(err as Error).message}`);
    assert.match(err.message, /sentinel\.db/);
    assert.match(err.message, /malformed/);
    return true;
  });
  await again.close();
});
