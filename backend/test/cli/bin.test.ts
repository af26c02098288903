import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');

test('the `sentinel` command that package.json declares exists and runs the CLI', async () => {
  const bin = resolve(root, 'backend/bin/sentinel.js');
  const r = await run(process.execPath, [bin, '--help'], { cwd: root });
  assert.match(r.stdout, /^usage: sentinel <command>/);
  assert.match(r.stdout, /migrate --from sqlite\|qdrant/);
  // npm links it for the workspace on install (npx sentinel ...).
  const linked = resolve(root, 'node_modules/.bin/sentinel');
  if (existsSync(linked)) assert.match((await run(linked, ['help'], { cwd: root })).stdout, /^usage: sentinel/);
  const bad = await run(process.execPath, [bin, 'frobnicate'], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((bad as { code: number }).code, 2);
  assert.match((bad as { stderr: string }).stderr, /unknown command: frobnicate/);
});

test('SIGTERM to `npm start` (the README command) reaches the service: it shuts down gracefully and nothing is left running', async () => {
  const { spawn } = await import('node:child_process');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = mkdtempSync(resolve(tmpdir(), 'sentinel-start-'));
  const npm = spawn('npm', ['start'], { cwd: root, env: { ...process.env, SENTINEL_PORT: '0', SENTINEL_DATA_DIR: dir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  npm.stdout.on('data', (d) => (out += d));
  npm.stderr.on('data', (d) => (out += d));
  try {
    const deadline = Date.now() + 30_000;
    while (!/"msg":"listening"/.test(out)) {
      assert.ok(Date.now() < deadline, `no "listening" within 30 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const url = /"url":"(http:[^"]+)"/.exec(out)![1];
    assert.equal((await fetch(`${url}/api/v1/health`)).status, 200);
    npm.kill('SIGTERM');
    const [code] = (await Promise.race([
      new Promise((r) => npm.once('exit', (...a) => r(a))),
      new Promise((_, j) => setTimeout(() => j(new Error(`npm start did not exit within 20 s:\n${out}`)), 20_000)),
    ])) as [number | null];
    assert.match(out, /"msg":"stopped cleanly"/, out);
    assert.equal(code, 0);
    // Nothing kept the port: the service itself exited, not only npm.
    await assert.rejects(fetch(`${url}/api/v1/health`));
  } finally {
    npm.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});

test('serve: options are refused (configuration is SENTINEL_*); a port in use names the variables and exits 69', async () => {
  const bin = resolve(root, 'backend/bin/sentinel.js');
  const opt = await run(process.execPath, [bin, 'serve', '--port', '1'], { cwd: root }).catch((e: { code: number; stderr: string }) => e);
  assert.equal((opt as { code: number }).code, 2);
  assert.match((opt as { stderr: string }).stderr, /usage: sentinel serve/);
  const { createServer } = await import('node:net');
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
  const port = (busy.address() as { port: number }).port;
  const dir = mkdtempSync(resolve(tmpdir(), 'sentinel-busy-'));
  try {
    const r = await run(process.execPath, [bin, 'serve'], { cwd: root, env: { ...process.env, SENTINEL_PORT: String(port), SENTINEL_DATA_DIR: dir } }).catch(
      (e: { code: number; stdout: string }) => e,
    );
    assert.equal((r as { code: number }).code, 69);
    assert.match((r as { stdout: string }).stdout, /SENTINEL_HOST\/SENTINEL_PORT.*the port is in use/);
  } finally {
    busy.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('`sentinel` without a command is a usage error: the usage on stderr, exit 2; --help prints it on stdout, exit 0 (QA)', async () => {
  const bin = resolve(root, 'backend/bin/sentinel.js');
  const bare = await run(process.execPath, [bin], { cwd: root }).catch((e: { code: number; stdout: string; stderr: string }) => e);
  assert.equal((bare as { code: number }).code, 2);
  assert.equal((bare as { stdout: string }).stdout, '');
  assert.match((bare as { stderr: string }).stderr, /^usage: sentinel <command>/);
  const help = await run(process.execPath, [bin, '--help'], { cwd: root });
  assert.match(help.stdout, /^usage: sentinel <command>/);
  assert.equal(help.stderr, '');
});
