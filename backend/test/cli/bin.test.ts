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
