import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, copyFileSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createApp } from '../src/app';
import { loadConfig } from '../src/config';
import { DataDirWatch, LOCK_FILE, PID_FILE } from '../src/data-dir';
import { DataDirInUseError } from '../src/errors';
import { createLogger } from '../src/logger';
import { startServer } from './helpers';

const root = resolve(import.meta.dirname, '../..');
const bin = resolve(root, 'backend/bin/sentinel.js');

/** `sentinel serve` on `dir` (a free port); resolves once it listens, or with its exit code if it exits first. */
function serve(dir: string): { child: ChildProcess; out: () => string; started: Promise<{ listening: boolean; code: number | null }> } {
  const child = spawn(process.execPath, [bin, 'serve'], { cwd: root, env: { ...process.env, SENTINEL_PORT: '0', SENTINEL_DATA_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const started = new Promise<{ listening: boolean; code: number | null }>((resolve) => {
    const onData = (d: Buffer) => {
      out += d;
      if (/"msg":"listening"/.test(out)) resolve({ listening: true, code: null });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => resolve({ listening: false, code }));
  });
  return { child, out: () => out, started };
}

test('a second instance on the same data directory is refused, naming the directory and the pid that holds it; a clean shutdown lets the next one in', async () => {
  const s = await startServer();
  try {
    const config = loadConfig({ SENTINEL_DATA_DIR: s.dataDir, SENTINEL_PORT: '0' });
    await assert.rejects(createApp(config, createLogger('silent')), (err: unknown) => {
      assert.ok(err instanceof DataDirInUseError, String(err));
      assert.ok(err.message.includes(s.dataDir), err.message);
      assert.match(err.message, new RegExp(`pid ${process.pid}\\b`));
      return true;
    });
    // The refused start took nothing: the first instance still answers and still holds the directory.
    assert.equal((await fetch(`${s.url}/api/v1/health`)).status, 200);
  } finally {
    await s.close({ keepData: true });
  }
  assert.equal(existsSync(join(s.dataDir, PID_FILE)), false, 'a clean shutdown removes the pid file');
  const again = await startServer({}, s.dataDir);
  assert.ok(!again.logs.join('').includes('did not shut down cleanly'), 'nothing to take over after a clean shutdown');
  await again.close();
});

test('two `sentinel serve` processes: the second exits 69 naming the first one\'s pid; after a kill -9 of the first, the next start takes the directory over with a warning', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-lock-'));
  const first = serve(dir);
  let second: ReturnType<typeof serve> | null = null;
  try {
    assert.equal((await first.started).listening, true, first.out());
    assert.equal(readFileSync(join(dir, PID_FILE), 'utf8').split(' ')[0], String(first.child.pid));
    second = serve(dir);
    const refused = await second.started;
    assert.deepEqual(refused, { listening: false, code: 69 }, second.out());
    const fatal = second.out().split('\n').find((l) => l.includes('"level":60')) ?? '';
    assert.ok(fatal.includes(`in use by another sentinel (pid ${first.child.pid}`), second.out());
    assert.ok(fatal.includes(dir), fatal);
    assert.match(fatal, /"variable":"SENTINEL_DATA_DIR"/);

    first.child.kill('SIGKILL');
    await new Promise((r) => first.child.once('exit', r));
    const s = await startServer({}, dir);
    try {
      const taken = s.logs.find((l) => l.includes('did not shut down cleanly'));
      assert.ok(taken, s.logs.join(''));
      assert.match(taken, new RegExp(`"pid":${first.child.pid}\\b`));
      assert.equal((await fetch(`${s.url}/api/v1/health`)).status, 200);
    } finally {
      await s.close({ keepData: true });
    }
  } finally {
    first.child.kill('SIGKILL');
    second?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

describe('health watches the data directory', () => {
  const health = async (url: string) => {
    const r = await fetch(`${url}/api/v1/health`);
    return { status: r.status, body: (await r.json()) as { status: string; reason?: string; dataDir: { ok: boolean; detail?: string } } };
  };

  test('the data directory deleted while the service runs: 503, degraded, the reason says so (SELECT 1 still answered)', async () => {
    const s = await startServer();
    try {
      const ok = await health(s.url);
      assert.deepEqual([ok.status, ok.body.status, ok.body.dataDir], [200, 'ok', { ok: true }]);
      rmSync(s.dataDir, { recursive: true, force: true });
      const h = await health(s.url);
      assert.deepEqual([h.status, h.body.status, h.body.dataDir.ok], [503, 'degraded', false], JSON.stringify(h.body));
      assert.match(h.body.reason ?? '', /the data directory \(SENTINEL_DATA_DIR\) was deleted/);
      assert.ok(!h.body.reason!.includes(s.dataDir), 'the reason names the problem, not the path');
      assert.ok(s.logs.some((l) => l.includes('data directory unusable')), 'logged once when it begins');
    } finally {
      await s.close();
    }
  });

  test('sentinel.db replaced under the running service (a restore copied over it): 503 naming the file', async () => {
    const s = await startServer();
    try {
      const db = join(s.dataDir, 'sentinel.db');
      copyFileSync(db, `${db}.copy`);
      renameSync(`${db}.copy`, db);
      const h = await health(s.url);
      assert.equal(h.status, 503);
      assert.match(h.body.reason ?? '', /^sentinel\.db \(SENTINEL_DATA_DIR\) was replaced/);
    } finally {
      await s.close();
    }
  });

  test('a data directory that is not writable (a disk remounted read-only) is a problem, with the error code', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sentinel-watch-'));
    try {
      const readOnly = new Set<string>();
      const fs = {
        statSync,
        accessSync: ((path: string, mode?: number) => {
          if (readOnly.has(path)) throw Object.assign(new Error('read-only file system'), { code: 'EROFS' });
          accessSync(path, mode);
        }) as typeof accessSync,
      };
      const watch = new DataDirWatch(dir, [LOCK_FILE, 'sentinel.db'], fs);
      assert.equal(watch.problem(), null, 'files that do not exist at start are not watched');
      readOnly.add(dir);
      assert.equal(watch.problem(), 'the data directory (SENTINEL_DATA_DIR) is not writable (EROFS)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
