// End to end: the real Sentinel server (`cli.ts serve`) and a real Prometheus (Debian's `prometheus`)
// scraping it every second with the provisioned scrape job and rules file. Demo traffic with an
// injected token-abuse incident is replayed in event time ending two minutes before now, one window at
// a time, each state scraped before the next window is sent. Through Prometheus' HTTP API the test
// asserts that the alert conditions of the provisioned rules (Prometheus rules file and Grafana-managed
// rules, read from the YAML) are false at every second of the normal traffic and become true for the
// incident, that Prometheus' own rule evaluation agrees, and that every dashboard query runs.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';

import { DEMO_INCIDENTS, demoTraffic } from '../backend/src/demo/traffic';
import type { LlmEvent } from '../backend/src/domain/types';
import {
  PATHS,
  ROOT,
  allPanels,
  grafanaCondition,
  grafanaRules,
  promAlertRules,
  readJson,
  readYaml,
  repoPath,
  substituteGrafanaVariables,
  type Dashboard,
  type PromConfig,
} from './support/provisioning';

const MINUTE = 60_000;
/** Sentinel's default lateness: a window closes once event time passes its end by this much. */
const LATENESS_MS = 10_000;
const INCIDENT = DEMO_INCIDENTS.find((i) => i.type === 'token_abuse')!;
/** The conditions under test: the anomaly alerts of both rule files. */
const PROM_ALERTS = ['SentinelAnomalyScoreHigh', 'SentinelAnomalyDetected'];
const GRAFANA_ALERTS = ['llm-sentinel-anomaly-score', 'llm-sentinel-anomalies-detected'];

interface Running {
  proc: ChildProcess;
  log: string[];
}
const procs: Running[] = [];
const dirs: string[] = [];
let sentinelUrl = '';
let promUrl = '';

// ---- processes ----

function track(proc: ChildProcess): Running {
  const r: Running = { proc, log: [] };
  const keep = (d: Buffer) => {
    r.log.push(...d.toString().split('\n').filter(Boolean));
    if (r.log.length > 200) r.log.splice(0, r.log.length - 200);
  };
  proc.stdout?.on('data', keep);
  proc.stderr?.on('data', keep);
  procs.push(r);
  return r;
}

async function stop(r: Running): Promise<void> {
  if (r.proc.exitCode !== null || r.proc.signalCode !== null) return;
  const exited = once(r.proc, 'exit');
  r.proc.kill('SIGTERM');
  const timer = setTimeout(() => r.proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

async function freePort(): Promise<number> {
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const { port } = s.address() as AddressInfo;
  s.close();
  await once(s, 'close');
  return port;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000, context?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}${context ? `\n${context()}` : ''}`);
}

/** `cli.ts serve` on a free port with an empty data directory; resolves with its URL from the "listening" log line. */
async function startSentinel(): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentinel-e2e-data-'));
  dirs.push(dataDir);
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('SENTINEL_') && v !== undefined) env[k] = v;
  Object.assign(env, {
    SENTINEL_HOST: '127.0.0.1',
    SENTINEL_PORT: '0',
    SENTINEL_DATA_DIR: dataDir,
    SENTINEL_LOG_LEVEL: 'info',
    // The replay sends a window of events per request, far below any limit; keep rate limiting out of it.
    SENTINEL_RATE_LIMIT: '100000',
  });
  const r = track(spawn(process.execPath, ['--import', 'tsx', 'backend/src/cli.ts', 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] }));
  return until(
    'Sentinel to listen',
    async () => {
      if (r.proc.exitCode !== null) throw new Error(`sentinel exited with ${r.proc.exitCode}`);
      for (const line of r.log) {
        try {
          const j = JSON.parse(line) as { msg?: string; url?: string };
          if (j.msg === 'listening' && j.url) return j.url;
        } catch {
          // not a log line
        }
      }
      return undefined;
    },
    30_000,
    () => r.log.slice(-20).join('\n'),
  );
}

/**
 * Prometheus with the provisioned scrape job and rules file, the job pointed at the test's Sentinel and
 * every interval at 1 s (the test compresses minutes of event time into seconds).
 */
async function startPrometheus(sentinel: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-e2e-prometheus-'));
  dirs.push(dir);
  const provisioned = readYaml<PromConfig>(PATHS.promConfig);
  const job = provisioned.scrape_configs.find((s) => s.job_name === 'sentinel');
  assert.ok(job, 'the provisioned config has the sentinel job');
  const config = {
    global: { ...provisioned.global, scrape_interval: '1s', scrape_timeout: '1s', evaluation_interval: '1s' },
    rule_files: (provisioned.rule_files ?? []).map((f) => repoPath('provisioning/prometheus', f)),
    scrape_configs: [{ ...job, scrape_interval: '1s', scrape_timeout: '1s', static_configs: [{ targets: [new URL(sentinel).host] }] }],
  };
  const file = join(dir, 'prometheus.yml');
  writeFileSync(file, stringify(config));
  const port = await freePort();
  const r = track(
    spawn(
      process.env.PROMETHEUS_BIN ?? 'prometheus',
      [`--config.file=${file}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    ),
  );
  const spawnError = new Promise<never>((_, reject) =>
    r.proc.once('error', (err) => reject(new Error(`cannot start prometheus (Debian: apt-get install prometheus): ${err.message}`))),
  );
  const url = `http://127.0.0.1:${port}`;
  await Promise.race([
    spawnError,
    until(
      'Prometheus to be ready',
      async () => {
        if (r.proc.exitCode !== null) throw new Error(`prometheus exited with ${r.proc.exitCode}`);
        return (await fetch(`${url}/-/ready`)).ok ? url : undefined;
      },
      30_000,
      () => r.log.slice(-20).join('\n'),
    ),
  ]);
  return url;
}

// ---- HTTP helpers ----

interface Sample {
  metric: Record<string, string>;
  value: [number, string];
}

/** An instant query through Prometheus' HTTP API; throws on a query error. */
async function query(expr: string, time?: number): Promise<Sample[]> {
  const body = new URLSearchParams({ query: expr });
  if (time !== undefined) body.set('time', String(time / 1000));
  const res = await fetch(`${promUrl}/api/v1/query`, { method: 'POST', body });
  const j = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: Sample[] } };
  if (j.status !== 'success') throw new Error(`query failed: ${j.error}\n${expr}`);
  assert.equal(j.data!.resultType, 'vector', expr);
  return j.data!.result;
}

/**
 * Every label set for which `expr` had a result at any second of [from, to]: a subquery evaluates the
 * expression at 1 s steps (the scrape and rule interval), so nothing between scrapes is missed.
 */
async function everTrue(expr: string, from: number, to: number): Promise<Record<string, string>[]> {
  const seconds = Math.max(1, Math.ceil((to - from) / 1000));
  const rows = await query(`count_over_time((${expr})[${seconds}s:1s])`, to);
  return rows.map((r) => r.metric);
}

/** How many 1 s evaluation steps in [from, to] `expr` returned anything (0 when never). */
async function trueSeconds(expr: string, from: number, to: number): Promise<number> {
  const seconds = Math.max(1, Math.ceil((to - from) / 1000));
  const rows = await query(`count_over_time((${expr})[${seconds}s:1s])`, to);
  return rows.reduce((m, r) => Math.max(m, Number(r.value[1])), 0);
}

/** Sum of a counter's samples on Sentinel's /metrics (0 when it has no series yet). */
async function sentinelCounter(name: string): Promise<number> {
  const text = await (await fetch(`${sentinelUrl}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name} `) || line.startsWith(`${name}{`)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

/** Windows a batch sequence closes: (service, model, window) pairs ending a lateness before the newest event. */
function closedWindows(sent: readonly LlmEvent[]): number {
  const newest = sent.reduce((m, e) => Math.max(m, e.timestamp), -Infinity);
  const keys = new Set<string>();
  for (const e of sent) {
    const start = Math.floor(e.timestamp / MINUTE) * MINUTE;
    if (start + MINUTE + LATENESS_MS < newest) keys.add(`${e.service}|${e.model}|${start}`);
  }
  return keys.size;
}

const sent: LlmEvent[] = [];
/** Posts a batch, waits until Sentinel scored the windows it closed and Prometheus scraped that state. */
async function sendAndScrape(batch: LlmEvent[]): Promise<void> {
  const res = await fetch(`${sentinelUrl}/api/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(batch.map((e) => ({ ...e, timestamp: new Date(e.timestamp).toISOString() }))),
  });
  const answer = (await res.json()) as { accepted: number; rejected: unknown[] };
  assert.equal(res.status, 202, JSON.stringify(answer).slice(0, 500));
  assert.equal(answer.accepted, batch.length);
  sent.push(...batch);
  const expected = closedWindows(sent);
  const scored = await until(`Sentinel to score ${expected} windows`, async () => {
    const n = await sentinelCounter('sentinel_windows_scored_total');
    return n >= expected ? n : undefined;
  });
  const ingested = await sentinelCounter('sentinel_events_ingested_total');
  await until(`Prometheus to scrape ${scored} scored windows`, async () => {
    const [w] = await query('sum(sentinel_windows_scored_total)');
    const [i] = await query('sum(sentinel_events_ingested_total)');
    return w && i && Number(w.value[1]) >= scored && Number(i.value[1]) >= ingested ? true : undefined;
  });
}

// ---- the run ----

before(async () => {
  const t0 = Date.now();
  sentinelUrl = await startSentinel();
  const t1 = Date.now();
  promUrl = await startPrometheus(sentinelUrl);
  await until('the first scrape of Sentinel', async () => ((await query('up{job="sentinel"} == 1')).length ? true : undefined));
  process.stdout.write(`# e2e setup: sentinel listening after ${((t1 - t0) / 1000).toFixed(1)} s, prometheus scraping after ${((Date.now() - t1) / 1000).toFixed(1)} s\n`);
});

after(async () => {
  for (const r of procs.reverse()) await stop(r);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

test('the provisioned alert conditions stay false on normal traffic and fire for an injected incident', async () => {
  const t0 = Date.now();
  // Event time ends two minutes before now: live data, nothing refused as from the future.
  const start = Math.floor(Date.now() / MINUTE) * MINUTE - (INCIDENT.startMin + INCIDENT.minutes + 2) * MINUTE;
  const events = demoTraffic(start, [INCIDENT], 42);
  const incidentStart = start + INCIDENT.startMin * MINUTE;
  // Batch k holds events up to 15 s into minute k: it closes window k-1 and nothing later.
  const boundary = (k: number) => start + k * MINUTE + LATENESS_MS + 5_000;
  const batch = (k: number) => events.filter((e) => e.timestamp >= (k === 1 ? start : boundary(k - 1)) && e.timestamp < boundary(k));

  const conditions = new Map<string, string>();
  const promRules = promAlertRules();
  for (const name of PROM_ALERTS) conditions.set(`prometheus ${name}`, promRules.get(name)!.expr);
  const gRules = grafanaRules();
  for (const uid of GRAFANA_ALERTS) conditions.set(`grafana ${uid}`, grafanaCondition(gRules.get(uid)!).condition);
  for (const [name, expr] of conditions) assert.ok(expr.trim(), `${name} has an expression`);

  // Normal traffic: every window before the incident (more than the 20 warm-up windows).
  const normalFrom = Date.now();
  for (let k = 1; k <= INCIDENT.startMin; k++) await sendAndScrape(batch(k));
  const normalTo = Date.now();
  const incidentSeriesWindows = closedWindows(sent.filter((e) => e.service === INCIDENT.service));
  assert.ok(incidentSeriesWindows >= 20, `${incidentSeriesWindows} normal windows of ${INCIDENT.service}: past the default warm-up`);
  const [scores] = await query('count(sentinel_anomaly_score{signal="overall"})');
  assert.equal(Number(scores.value[1]), 2, 'both demo services are scored');
  for (const [name, expr] of conditions) {
    assert.deepEqual(await everTrue(expr, normalFrom, normalTo), [], `${name} stays false on normal traffic`);
  }
  assert.deepEqual(
    await everTrue(`ALERTS{alertname=~"${PROM_ALERTS.join('|')}"}`, normalFrom, normalTo),
    [],
    'Prometheus evaluated no anomaly alert on normal traffic',
  );

  // The incident: token abuse by one leaked key on chat-assistant, one window at a time.
  const incidentFrom = Date.now();
  for (let k = INCIDENT.startMin + 1; k <= INCIDENT.startMin + INCIDENT.minutes; k++) await sendAndScrape(batch(k));
  assert.equal(sent.at(-1)!.timestamp < Date.now(), true);
  assert.ok(sent.some((e) => e.apiKeyId === 'key-leaked-7f3a' && e.timestamp >= incidentStart), 'the incident was sent');
  // Let Prometheus evaluate its rules on the last scrape.
  await new Promise((r) => setTimeout(r, 1500));
  const incidentTo = Date.now();

  const fired = async (name: string) => everTrue(conditions.get(name)!, incidentFrom, incidentTo);
  for (const name of ['prometheus SentinelAnomalyScoreHigh', 'grafana llm-sentinel-anomaly-score']) {
    const rows = await fired(name);
    assert.ok(rows.some((m) => m.service === INCIDENT.service && m.model === 'gpt-4o'), `${name} fires for ${INCIDENT.service}: ${JSON.stringify(rows)}`);
    assert.ok(rows.every((m) => m.service === INCIDENT.service), `${name} fires for nothing else: ${JSON.stringify(rows)}`);
  }
  for (const name of ['prometheus SentinelAnomalyDetected', 'grafana llm-sentinel-anomalies-detected']) {
    const rows = await fired(name);
    assert.ok(rows.some((m) => m.type === INCIDENT.type), `${name} fires for a ${INCIDENT.type} anomaly: ${JSON.stringify(rows)}`);
    // Ten-minute window: still true now.
    assert.ok((await query(conditions.get(name)!)).some((s) => s.metric.type === INCIDENT.type), `${name} is true now`);
  }
  // Prometheus' own evaluation of the provisioned rules: firing (for: 0) and pending (for: 1m).
  const alerts = await everTrue('ALERTS', incidentFrom, incidentTo);
  assert.ok(
    alerts.some((a) => a.alertname === 'SentinelAnomalyDetected' && a.alertstate === 'firing' && a.type === INCIDENT.type),
    `SentinelAnomalyDetected fired: ${JSON.stringify(alerts)}`,
  );
  assert.ok(
    alerts.some((a) => a.alertname === 'SentinelAnomalyScoreHigh' && a.service === INCIDENT.service),
    `SentinelAnomalyScoreHigh went pending: ${JSON.stringify(alerts)}`,
  );
  // Sentinel stayed up. Both down rules wait `for: 2m`; with 1 s scrapes on a loaded 2-core machine a
  // single scrape can time out while a batch is being scored, which is not "down". So the condition may
  // hold for at most 3 isolated seconds of the whole run: a real outage holds for every second.
  const down = grafanaCondition(gRules.get('llm-sentinel-down')!).condition;
  for (const [name, expr] of [
    ['llm-sentinel-down', down],
    ['SentinelDown', promRules.get('SentinelDown')!.expr],
  ] as const) {
    const held = await trueSeconds(expr, normalFrom, incidentTo);
    assert.ok(held <= 3, `${name} held for ${held} s of ${Math.round((incidentTo - normalFrom) / 1000)} s`);
  }
  process.stdout.write(`# e2e replay: ${sent.length} events, ${closedWindows(sent)} windows, ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
});

test('every dashboard query runs on the live Prometheus, and the main panels have data', async () => {
  const dash = readJson<Dashboard>(PATHS.grafanaDashboard);
  const vars = { service: '.*', model: '.*' };
  let n = 0;
  for (const p of allPanels(dash)) {
    for (const t of p.targets ?? []) {
      if (!t.expr) continue;
      n++;
      await query(substituteGrafanaVariables(t.expr, vars)); // throws on a PromQL error
    }
  }
  assert.ok(n >= 20, `${n} queries`);
  const panel = (title: string) => allPanels(dash).find((p) => p.title === title)!;
  const score = await query(substituteGrafanaVariables(panel('Anomaly score by service / model').targets![0].expr!, vars));
  assert.deepEqual(score.map((s) => s.metric.service).sort(), ['chat-assistant', 'code-copilot']);
  // A repeated row's band panels, for one service: actual, lower and upper per model.
  for (const title of ['Input tokens per window', 'Output tokens per window', 'Latency p95 per window']) {
    for (const t of panel(title).targets!) {
      const rows = await query(substituteGrafanaVariables(t.expr!, { service: 'chat-assistant', model: '.*' }));
      assert.deepEqual(rows.map((r) => r.metric.model), ['gpt-4o'], `${title} ${t.refId}`);
    }
  }
  // Template variables: label_values(<selector>, <label>) through the series API.
  for (const v of dash.templating.list) {
    const m = /^label_values\((.*),\s*([a-zA-Z_]+)\)$/.exec(v.definition ?? '')!;
    const selector = substituteGrafanaVariables(m[1], vars);
    const res = await fetch(`${promUrl}/api/v1/label/${m[2]}/values?${new URLSearchParams({ 'match[]': selector })}`);
    const values = ((await res.json()) as { data: string[] }).data;
    assert.ok(values.length > 0, `variable ${v.name} has values`);
  }
});

test("Sentinel's /metrics, after traffic and an incident, passes `promtool check metrics`", async () => {
  const text = await (await fetch(`${sentinelUrl}/metrics`)).text();
  assert.match(text, /^sentinel_anomalies_detected_total\{/m, 'the exposition has the contract metrics');
  const p = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  p.stdin.end(text);
  const [code] = await once(p, 'exit');
  // Exit 3 is a lint finding (e.g. a gauge named *_total), 1 a parse error: both would trip a scrape check.
  assert.equal(code, 0, out);
});
