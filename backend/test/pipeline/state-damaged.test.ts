import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SeriesState } from '../../src/pipeline/series-state';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import { EVENT_FEATURE_MIN_SCALE, EVENT_FEATURE_NAMES } from '../../src/windowing/features';

const state = (key: string) => new SeriesState(key, { service: key }, 'events', EVENT_FEATURE_NAMES, EVENT_FEATURE_MIN_SCALE.slice(), 16);

/** A data directory whose series-state.db holds `n` saved series. */
function saved(n: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-damaged-'));
  const s = SeriesStateStore.inDataDir(dir);
  s.save(Array.from({ length: n }, (_, i) => state(`s${i}`)), null);
  s.close();
  return dir;
}

test('a damaged series-state.db (overwritten header, truncated) is moved aside and the service starts afresh', () => {
  for (const damage of ['header', 'truncate'] as const) {
    const dir = saved(400);
    const file = path.join(dir, 'series-state.db');
    try {
      if (damage === 'header') writeFileSync(file, Buffer.alloc(4096, 0x5a), { flag: 'r+' });
      else truncateSync(file, Math.floor(statSync(file).size / 2));
      const heard: string[] = [];
      const s = SeriesStateStore.inDataDir(dir, (_f, movedTo) => heard.push(movedTo));
      assert.equal(heard.length, 1, damage);
      assert.ok(existsSync(heard[0]), 'kept for a post-mortem');
      assert.deepEqual(s.load().states, [], 'a fresh file');
      s.save([state('new')], null);
      assert.equal(s.load().states.length, 1);
      s.close();
      assert.equal(readdirSync(dir).filter((f) => f.includes('.damaged-')).length >= 1, true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
});

test('a saved state that does not decode is skipped; the other series are restored', () => {
  const dir = saved(3);
  try {
    const db = new Database(path.join(dir, 'series-state.db'));
    db.prepare("UPDATE series_state SET state = x'ff0d6f2203aabbcc' WHERE key = 's1'").run();
    db.close();
    const s = SeriesStateStore.inDataDir(dir, () => assert.fail('not a damaged file'));
    assert.deepEqual(s.load().states.map((x) => x.key).sort(), ['s0', 's2']);
    assert.equal(s.unreadableRows, 1);
    s.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
