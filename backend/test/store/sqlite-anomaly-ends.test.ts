import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStore } from '../../src/store/sqlite-store';
import { anomaly } from './contract';

test('a database from before end_ms gets the column, filled from its records, so time ranges find running incidents', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-ends-'));
  try {
    const file = join(dir, 'sentinel.db');
    const t = Date.UTC(2026, 0, 3, 12);
    const long = anomaly('an_old_long', t - 7_200_000, { end: new Date(t + 600_000).toISOString() });
    // The anomalies table as earlier versions created it.
    const old = new Database(file);
    old.exec(`CREATE TABLE anomalies (id TEXT PRIMARY KEY, series_key TEXT NOT NULL, service TEXT, start_ms INTEGER NOT NULL,
      severity TEXT NOT NULL, type TEXT NOT NULL, record TEXT NOT NULL)`);
    const insert = old.prepare('INSERT INTO anomalies VALUES (?, ?, ?, ?, ?, ?, ?)');
    insert.run(long.id, long.seriesKey, 'chat', Date.parse(long.start), long.severity, long.type, JSON.stringify(long));
    // Enough older records for several fill batches.
    old.transaction(() => {
      for (let i = 0; i < 2500; i++) {
        const a = anomaly(`an_old_${i}`, t - 86_400_000 - i * 60_000);
        insert.run(a.id, a.seriesKey, 'chat', Date.parse(a.start), a.severity, a.type, JSON.stringify(a));
      }
    })();
    old.close();

    const store = new SqliteStore(file);
    await store.init();
    const page = await store.listAnomalies({ from: t, to: t + 3_600_000, limit: 10 });
    assert.deepEqual(page.items.map((a) => a.id), ['an_old_long']);
    await store.close();
    const check = new Database(file, { readonly: true });
    assert.equal((check.prepare('SELECT COUNT(*) AS n FROM anomalies WHERE end_ms IS NULL').get() as { n: number }).n, 0);
    assert.equal((check.prepare("SELECT end_ms - start_ms AS d FROM anomalies WHERE id = 'an_old_7'").get() as { d: number }).d, 60_000);
    check.close();
    // Idempotent: a second start finds the column and nothing to fill.
    const again = new SqliteStore(file);
    await again.init();
    assert.equal((await again.listAnomalies({ from: t + 660_000, limit: 10 })).items.length, 0, 'ended before');
    await again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
