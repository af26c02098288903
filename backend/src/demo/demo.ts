import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createApp } from '../app';
import { loadConfig } from '../config';
import type { AnomalyRecord } from '../domain/types';
import { createLogger } from '../logger';
import { replay } from '../replay';
import { DEMO_INCIDENTS, demoTraffic, type Incident } from './traffic';

/** An incident counts as found when an anomaly of its service starts within this many windows of it. */
const MAX_DELAY_WINDOWS = 2;
/** Most anomalies allowed on the clean hour. */
const MAX_CLEAN_ANOMALIES = 2;

/** Verdict of the demo: which incidents were found, how fast, and the false alarms. */
export interface DemoOutcome {
  rows: { incident: Incident; found: AnomalyRecord | undefined; delayWindows: number | null }[];
  falseAlarms: AnomalyRecord[];
  cleanAnomalies: AnomalyRecord[];
  ok: boolean;
}

/** Matches anomalies to injected incidents (same service, start within MAX_DELAY_WINDOWS windows). */
export function judge(anomalies: AnomalyRecord[], clean: AnomalyRecord[], startMs: number, windowMs: number): DemoOutcome {
  const used = new Set<string>();
  const rows = DEMO_INCIDENTS.map((incident) => {
    const from = startMs + incident.startMin * 60_000;
    const found = anomalies.find(
      (a) => !used.has(a.id) && a.labels.service === incident.service && Date.parse(a.start) >= from && Date.parse(a.start) <= from + MAX_DELAY_WINDOWS * windowMs,
    );
    if (found) used.add(found.id);
    return { incident, found, delayWindows: found ? Math.round((Date.parse(found.start) - from) / windowMs) : null };
  });
  // Anomalies inside an incident's span (e.g. its later windows on another feature) are not false alarms.
  const inIncident = (a: AnomalyRecord) =>
    DEMO_INCIDENTS.some((i) => {
      const from = startMs + i.startMin * 60_000;
      const t = Date.parse(a.start);
      return a.labels.service === i.service && t >= from && t < from + i.minutes * 60_000 + MAX_DELAY_WINDOWS * windowMs;
    });
  const falseAlarms = anomalies.filter((a) => !used.has(a.id) && !inIncident(a));
  return { rows, falseAlarms, cleanAnomalies: clean, ok: rows.every((r) => r.found) && clean.length <= MAX_CLEAN_ANOMALIES };
}

/** The printed table. */
export function formatOutcome(o: DemoOutcome, startMs: number): string {
  const min = (iso: string) => ((Date.parse(iso) - startMs) / 60_000).toFixed(0).padStart(3);
  const lines = [
    'incident                          service          injected  reported  delay  type              severity  score',
    '--------------------------------  ---------------  --------  --------  -----  ----------------  --------  -----',
  ];
  for (const r of o.rows) {
    const f = r.found;
    lines.push(
      [
        r.incident.name.padEnd(32),
        r.incident.service.padEnd(15),
        `min ${String(r.incident.startMin).padStart(3)}`.padEnd(8),
        (f ? `min ${min(f.start)}` : 'MISSED').padEnd(8),
        (r.delayWindows === null ? '-' : `${r.delayWindows} w`).padEnd(5),
        (f?.type ?? '-').padEnd(16),
        (f?.severity ?? '-').padEnd(8),
        f ? f.score.toFixed(2) : '-',
      ].join('  '),
    );
  }
  lines.push('');
  lines.push(`found ${o.rows.filter((r) => r.found).length}/${o.rows.length} incidents within ${MAX_DELAY_WINDOWS} windows of their start`);
  lines.push(`other anomalies during the run with incidents: ${o.falseAlarms.length}${o.falseAlarms.map((a) => `\n  - min ${min(a.start)} ${a.labels.service} ${a.type}: ${a.explanation.summary}`).join('')}`);
  lines.push(`anomalies on the same hour without incidents (clean): ${o.cleanAnomalies.length} (limit ${MAX_CLEAN_ANOMALIES})${o.cleanAnomalies.map((a) => `\n  - min ${min(a.start)} ${a.labels.service} ${a.type}: ${a.explanation.summary}`).join('')}`);
  lines.push(o.ok ? 'DEMO PASSED' : 'DEMO FAILED');
  return lines.join('\n');
}

/**
 * `npm run demo`: starts the service, replays an hour of real Azure LLM traffic (two services) with five
 * injected incidents through POST /api/v1/events, prints what was found next to what was injected, and
 * leaves the service running for curl (`--exit` to stop after the table; exit code 1 if the demo's
 * criteria fail).
 */
/** Marks a data directory the demo made (and may therefore delete on its next run). */
const DEMO_MARKER = '.sentinel-demo';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { exit: { type: 'boolean' } } });
  const env = { ...process.env, SENTINEL_DATA_DIR: process.env.SENTINEL_DATA_DIR ?? join('data', 'demo') };
  const log = createLogger(process.env.SENTINEL_LOG_LEVEL ?? 'warn');
  const config = loadConfig(env, (m) => log.warn(m));
  // The demo starts from an empty directory, and only ever deletes one it made (its marker file): an
  // exported SENTINEL_DATA_DIR may be a real service's data.
  const marker = join(config.dataDir, DEMO_MARKER);
  const own = process.env.SENTINEL_DATA_DIR === undefined; // data/demo is the demo's own
  if (!own && existsSync(config.dataDir) && readdirSync(config.dataDir).length > 0 && !existsSync(marker)) {
    process.stderr.write(
      `SENTINEL_DATA_DIR=${config.dataDir} holds data the demo did not create, and the demo starts from an empty directory.\n` +
        'Unset SENTINEL_DATA_DIR (the demo then uses data/demo) or point it at an empty or new directory.\n',
    );
    process.exitCode = 2;
    return;
  }
  rmSync(config.dataDir, { recursive: true, force: true });
  mkdirSync(config.dataDir, { recursive: true });
  writeFileSync(marker, 'made by `npm run demo`: the next demo run deletes this directory and starts afresh\n');
  // The traffic ends just before now, so the events are live for the server (and for Grafana).
  const startMs = Math.floor((Date.now() - 62 * 60_000) / 60_000) * 60_000;
  const events = demoTraffic(startMs, DEMO_INCIDENTS);
  const app = await createApp(config, log);
  const url = await app.http.listen({ host: config.host, port: config.port });
  process.stdout.write(`LLM-Sentinel demo: ${url}, data in ${config.dataDir}\nreplaying ${events.length} events (1 h of the Azure LLM trace, 2 services, 5 injected incidents)...\n`);
  const t0 = performance.now();
  for (let i = 0; i < events.length; i += 2000) {
    const res = await fetch(`${url}/api/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(config.apiKeys[0] ? { authorization: `Bearer ${config.apiKeys.find((k) => !k.readOnly)?.key}` } : {}) },
      body: JSON.stringify(events.slice(i, i + 2000)),
    });
    if (!res.ok) throw new Error(`POST /api/v1/events: ${res.status} ${await res.text()}`);
  }
  // The hour is over: close its last windows now instead of waiting for the idle flush.
  app.pipeline.endOfInput();
  await app.pipeline.idle();
  const found: AnomalyRecord[] = [];
  let cursor: string | null = null;
  do {
    const page = (await app.pipeline.store.listAnomalies({ limit: 500, ...(cursor ? { cursor } : {}) })) as { items: AnomalyRecord[]; nextCursor: string | null };
    found.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor);
  found.sort((a, b) => a.start.localeCompare(b.start));
  const clean = await replay(demoTraffic(startMs, []), config, createLogger('silent'));
  const outcome = judge(found, clean.anomalies, startMs, config.windowMs);
  process.stdout.write(`scored in ${((performance.now() - t0) / 1000).toFixed(1)} s\n\n${formatOutcome(outcome, startMs)}\n`);
  if (values.exit) {
    await app.close();
    process.exitCode = outcome.ok ? 0 : 1;
    return;
  }
  process.stdout.write(`\nthe service keeps running; try:\n  curl -s ${url}/api/v1/anomalies\n  curl -s ${url}/api/v1/series\n  curl -s ${url}/metrics | grep sentinel_anomal\n(Ctrl-C to stop)\n`);
  const stop = () => void app.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  });
}
