#!/usr/bin/env node
// Runs every test suite of the repository, streams their output, and ends with one line
// "N passed, N failed, N skipped" summing all of them (node:test, Jest, promtool, browser), so a run
// that tested nothing is visible. Exit code is non-zero if any suite failed or a suite ran no test.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const only = process.argv.slice(2);

function findTests(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (name === 'node_modules' || name === 'fixtures') continue;
    if (statSync(p).isDirectory()) findTests(p, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out.sort();
}

/** Suites: name, command, parser of counts from the combined output. */
const suites = [];
const nodeTests = [...findTests(join(root, 'embeddings/test')), ...findTests(join(root, 'backend/test')), ...findTests(join(root, 'test'))];
suites.push({
  name: 'node:test (embeddings, backend, end-to-end)',
  cmd: 'node',
  args: ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=tap', ...nodeTests],
  parse: parseTap,
});
suites.push({ name: 'typecheck', cmd: 'npm', args: ['run', '-s', 'typecheck'], parse: (_o, code) => ({ passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 }) });
const pluginPkg = join(root, 'plugin/package.json');
const pluginScripts = existsSync(pluginPkg) ? JSON.parse(readFileSync(pluginPkg, 'utf8')).scripts ?? {} : {};
if (pluginScripts['test:ci']) suites.push({ name: 'plugin jest', cmd: 'npm', args: ['run', '-s', 'test:ci', '-w', 'plugin'], parse: parseJest });
if (pluginScripts['lint']) suites.push({ name: 'plugin lint', cmd: 'npm', args: ['run', '-s', 'lint', '-w', 'plugin'], parse: (_o, code) => ({ passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 }) });
if (pluginScripts['test:browser']) suites.push({ name: 'plugin browser', cmd: 'npm', args: ['run', '-s', 'test:browser', '-w', 'plugin'], parse: parseTap });
const promtoolScript = join(root, 'provisioning/prometheus/test.sh');
if (existsSync(promtoolScript)) suites.push({ name: 'promtool', cmd: 'bash', args: [promtoolScript], parse: parsePromtool });

function parseTap(out) {
  const n = (k) => [...out.matchAll(new RegExp(`^# ${k} (\\d+)`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
  return { passed: n('pass'), failed: n('fail') + n('cancelled'), skipped: n('skipped') + n('todo') };
}
function parseJest(out) {
  const line = [...out.matchAll(/^Tests:\s+(.*)$/gm)].pop()?.[1] ?? '';
  const n = (k) => Number(new RegExp(`(\\d+) ${k}`).exec(line)?.[1] ?? 0);
  return { passed: n('passed'), failed: n('failed'), skipped: n('skipped') + n('todo') };
}
function parsePromtool(out) {
  const passed = (out.match(/^\s*SUCCESS/gm) ?? []).length;
  const failed = (out.match(/^\s*FAILED/gm) ?? []).length;
  return { passed, failed, skipped: 0 };
}

function run(suite) {
  return new Promise((resolve) => {
    process.stdout.write(`\n=== ${suite.name} ===\n`);
    const child = spawn(suite.cmd, suite.args, { cwd: root, env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => ((out += d), process.stdout.write(d)));
    child.stderr.on('data', (d) => ((out += d), process.stderr.write(d)));
    child.on('close', (code) => resolve({ code: code ?? 1, out }));
  });
}

const totals = { passed: 0, failed: 0, skipped: 0 };
const lines = [];
let bad = false;
for (const s of suites) {
  if (only.length && !only.some((o) => s.name.includes(o))) continue;
  const t0 = Date.now();
  const { code, out } = await run(s);
  const c = s.parse(out, code);
  // A suite that exits non-zero without a counted failure still failed (e.g. it crashed before running).
  if (code !== 0 && c.failed === 0) c.failed = 1;
  if (c.passed + c.failed === 0) bad = true;
  if (c.failed) bad = true;
  for (const k of Object.keys(totals)) totals[k] += c[k];
  lines.push(`${s.name}: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
process.stdout.write(`\n=== summary ===\n${lines.join('\n')}\n`);
process.stdout.write(`${totals.passed} passed, ${totals.failed} failed, ${totals.skipped} skipped\n`);
process.exit(bad ? 1 : 0);
