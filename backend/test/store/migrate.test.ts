import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lockDataDir } from '../../src/data-dir';
import type { AnomalyRecord, Pattern } from '../../src/domain/types';
import { createLogger, type Logger } from '../../src/logger';
import { runMigrate } from '../../src/migrate';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { VectorStore } from '../../src/store/vector-store';
import { anomaly } from './contract';
import { QdrantEmulator } from './qdrant-emulator';
import { fail, LoopbackQdrant } from './qdrant-loopback';

// runMigrate writes usage text to stderr on purpose; the tests check exit codes and log lines instead.

function capture(): { log: Logger; lines: () => { msg: string; [k: string]: unknown }[] } {
  const out: string[] = [];
  const log = createLogger('info', { write: (s: string) => void out.push(s) });
  return { log, lines: () => out.map((l) => JSON.parse(l)) };
}

const dir = () => mkdtempSync(join(tmpdir(), 'sentinel-migrate-'));

/** A source store with both vector sizes in use, an incident pattern, and records with and without feedback. */
async function seed(dataDir: string): Promise<void> {
  const s = SqliteStore.inDataDir(dataDir);
  await s.init();
  const ps: Pattern[] = [];
  for (let i = 0; i < 5; i++) ps.push({ id: `w48:${i}`, seriesKey: 'service=chat|model=m1', kind: 'normal', timestamp: 1000 + i, vector: Float32Array.from({ length: 48 }, (_, j) => i + j / 100) });
  for (let i = 0; i < 3; i++) ps.push({ id: `w18:${i}`, seriesKey: 'series=latency|host=a', kind: 'normal', timestamp: 2000 + i, vector: Float32Array.from({ length: 18 }, (_, j) => i * j) });
  ps.push({ id: 'inc:1', seriesKey: 'service=chat|model=m1', kind: 'incident', timestamp: 3000, vector: new Float32Array(48).fill(9), meta: { anomalyId: 'an_3', type: 'latency_spike', cause: 'bad deploy' } });
  await s.upsertPatterns(ps);
  for (let i = 0; i < 5; i++) await s.saveAnomaly(anomaly(`an_${i}`, Date.UTC(2026, 0, 1, 0, i), { severity: i % 2 ? 'high' : 'low' }));
  await s.saveFeedback('an_3', { verdict: 'true_positive', note: 'bad deploy', at: '2026-01-01T01:00:00.000Z' });
  await s.saveFeedback('an_4', { verdict: 'false_positive', at: '2026-01-01T01:00:00.000Z' });
  await s.close();
}

/** Everything a store holds, in a comparable form. */
async function dump(store: VectorStore): Promise<{ patterns: unknown[]; anomalies: AnomalyRecord[]; counts: unknown }> {
  const patterns: unknown[] = [];
  for await (const b of store.scanPatterns(100)) for (const p of b) patterns.push({ ...p, vector: Array.from(p.vector) });
  const anomalies: AnomalyRecord[] = [];
  for await (const b of store.scanAnomalies(100)) anomalies.push(...b);
  const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1);
  return { patterns: (patterns as { id: string }[]).sort(byId), anomalies: anomalies.sort(byId), counts: await store.feedbackCounts() };
}

async function dumpDir(dataDir: string) {
  const s = SqliteStore.inDataDir(dataDir);
  await s.init();
  try {
    return await dump(s);
  } finally {
    await s.close();
  }
}

describe('sentinel migrate', () => {
  test('sqlite -> sqlite copies everything in batches with progress, and again changes nothing', async () => {
    const a = dir();
    const b = dir();
    await seed(a);
    const { log, lines } = capture();
    const args = ['migrate', '--from', 'sqlite', '--to', 'sqlite', '--from-data-dir', a, '--to-data-dir', b, '--batch-size', '4'];
    assert.equal(await runMigrate(args, {}, log), 0);
    const original = await dumpDir(a);
    assert.equal(original.patterns.length, 9);
    assert.deepEqual(await dumpDir(b), original);
    const progress = lines().filter((l) => l.phase === 'patterns').map((l) => l.msg);
    assert.deepEqual(progress, ['migrate: patterns 4/9', 'migrate: patterns 8/9', 'migrate: patterns 9/9']);
    assert.deepEqual(lines().filter((l) => l.phase === 'anomalies').map((l) => l.copied), [4, 5]);
    assert.equal(lines().at(-1)!.msg, 'migrate: done');

    assert.equal(await runMigrate(args, {}, log), 0);
    assert.deepEqual(await dumpDir(b), original, 'idempotent: upserts by id');
  });

  test('a data directory held by a running sentinel is refused (exit 69, naming the pid), source or target, and nothing is written (QA)', async () => {
    const a = dir();
    const b = dir();
    await seed(a);
    const args = ['migrate', '--from', 'sqlite', '--to', 'sqlite', '--from-data-dir', a, '--to-data-dir', b];

    const service = lockDataDir(b, createLogger('silent'));
    try {
      const { log, lines } = capture();
      assert.equal(await runMigrate(args, {}, log), 69);
      const fatal = lines().find((l) => l.level === 60);
      assert.ok(fatal, JSON.stringify(lines()));
      assert.match(fatal.msg, new RegExp(`^migrate: data directory ${b} is in use by another sentinel \\(pid ${process.pid}\\b`));
      assert.equal(fatal.pid, process.pid);
      assert.equal(fatal.option, '--to-data-dir');
      assert.equal(existsSync(join(b, 'sentinel.db')), false, 'nothing written into the held directory');
      assert.equal(lines().some((l) => l.msg === 'migrate: starting'), false);
    } finally {
      service.release();
    }

    const source = lockDataDir(a, createLogger('silent'));
    try {
      const { log, lines } = capture();
      assert.equal(await runMigrate(args, {}, log), 69);
      assert.equal(lines().find((l) => l.level === 60)?.option, '--from-data-dir');
      // Only the lock file the service that held it left (it stays by design): no store, no pid file.
      assert.deepEqual(readdirSync(b), ['sentinel.lock'], 'the target was not touched');
    } finally {
      source.release();
    }

    // Free, it copies, and lets go of both directories when done.
    assert.equal(await runMigrate(args, {}, capture().log), 0);
    assert.equal((await dumpDir(b)).patterns.length, 9);
    lockDataDir(a, createLogger('silent')).release();
    lockDataDir(b, createLogger('silent')).release();
  });

  test('sqlite -> qdrant -> sqlite round trip through the loopback Qdrant', async () => {
    const a = dir();
    const c = dir();
    await seed(a);
    const emulator = new QdrantEmulator();
    const server = await LoopbackQdrant.start(emulator.handle);
    try {
      const env = { SENTINEL_QDRANT_URL: server.url };
      const { log } = capture();
      assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'qdrant', '--from-data-dir', a, '--batch-size', '3'], env, log), 0);
      assert.deepEqual([...emulator.collections.keys()].sort(), ['sentinel_anomalies', 'sentinel_patterns_d18', 'sentinel_patterns_d48']);
      assert.equal(emulator.collections.get('sentinel_patterns_d48')!.points.size, 6);
      assert.equal(emulator.collections.get('sentinel_patterns_d18')!.points.size, 3);
      const upserts = server.requests.filter((r) => r.method === 'PUT' && /\/points$/.test(r.path) && r.path.includes('patterns'));
      assert.ok(upserts.every((r) => r.body.points.length <= 3), 'batches of --batch-size');

      assert.equal(await runMigrate(['--from', 'qdrant', '--to', 'sqlite', '--to-data-dir', c], env, log), 0);
      assert.deepEqual(await dumpDir(c), await dumpDir(a));
    } finally {
      await server.close();
    }
  });

  test('a failure part-way returns 1 and says how to resume', async () => {
    const a = dir();
    await seed(a);
    const emulator = new QdrantEmulator();
    const server = await LoopbackQdrant.start((req) => (req.method === 'PUT' && req.path === '/collections/sentinel_patterns_d18/points' ? fail(400, 'Wrong input: payload too large') : emulator.handle(req)));
    try {
      const { log, lines } = capture();
      assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'qdrant', '--from-data-dir', a], { SENTINEL_QDRANT_URL: server.url }, log), 1);
      const last = lines().at(-1)!;
      assert.match(last.msg, /failed; run it again to resume/);
      assert.match(String(last.err), /payload too large/);
      assert.equal(last.code, 'store_bad_request');
    } finally {
      await server.close();
    }
  });

  test('a source that cannot be opened returns 1 without the resume hint, which would not help (QA)', async () => {
    const a = dir();
    await seed(a);
    // A truncated sentinel.db (a full disk, a partial restore): opening it fails, nothing is copied.
    truncateSync(join(a, 'sentinel.db'), 8192);
    const { log, lines } = capture();
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'sqlite', '--from-data-dir', a, '--to-data-dir', dir()], {}, log), 1);
    const last = lines().at(-1)!;
    assert.match(last.msg, /^migrate: failed before copying anything/);
    assert.doesNotMatch(last.msg, /resume/);
    assert.match(String(last.err), /sentinel\.db.*malformed/);
  });

  test('usage and configuration errors exit with 2 before touching any store', async () => {
    const a = dir();
    await seed(a);
    const { log, lines } = capture();
    assert.equal(await runMigrate(['--to', 'sqlite'], {}, log), 2);
    assert.equal(await runMigrate(['--from', 'mysql', '--to', 'sqlite'], {}, log), 2);
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'sqlite', '--from-data-dir', a, '--to-data-dir', a], {}, log), 2);
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'qdrant', '--from-data-dir', a], {}, log), 2, 'no SENTINEL_QDRANT_URL');
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'qdrant', '--from-data-dir', a], { SENTINEL_QDRANT_URL: 'not a url' }, log), 2);
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'sqlite', '--from-data-dir', dir(), '--to-data-dir', a], {}, log), 2, 'empty source');
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'sqlite', '--bogus'], {}, log), 2);
    assert.equal(await runMigrate(['--from', 'sqlite', '--to', 'sqlite', '--batch-size', '0'], {}, log), 2);
    assert.deepEqual(lines(), [], 'each error is said once, in plain text on stderr, not also as a log line (QA)');
  });
});
