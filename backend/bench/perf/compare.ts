/**
 * Markdown table of several bench-results/perf.json files side by side (for docs/BENCHMARKS.md), e.g.
 * two runs before and two after:
 *
 *   node --import tsx backend/bench/perf/compare.ts before-1.json before-2.json after-1.json after-2.json
 *
 * Column headers are the file names without directory and .json.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import type { PerfReport } from './main';

type Row = [name: string, get: (r: PerfReport) => number | null | undefined, digits?: number, target?: string];

const scoring = (label: RegExp, f: (s: NonNullable<PerfReport['scoring']>[number]) => number) => (r: PerfReport) => {
  const s = r.scoring?.find((x) => label.test(x.label));
  return s ? f(s) : null;
};

const ROWS: Row[] = [
  ['ingest: validation + windowing, events/s', (r) => r.ingest?.eventsPerSec, 0, '>= 200,000'],
  ['ingest: events per CPU-second', (r) => r.ingest?.eventsPerCpuSec],
  ['ingest: validation ns/event', (r) => r.ingest?.validateNsPerEvent],
  ['ingest: windowing ns/event', (r) => r.ingest?.windowNsPerEvent],
  ['scoring 1k series x 1k patterns: windows/s', scoring(/^1k series/, (s) => s.windowsPerSec)],
  ['scoring 100 series x 10k patterns: windows/s', scoring(/^100 series/, (s) => s.windowsPerSec), 0, '>= 20,000'],
  ['  windows per CPU-second', scoring(/^100 series/, (s) => s.windowsPerCpuSec)],
  ['  per window p50 ms', scoring(/^100 series/, (s) => s.p50Ms), 3],
  ['  per window p99 ms', scoring(/^100 series/, (s) => s.p99Ms), 3],
  ['  kNN k=10 over 10k x 48: ms/query (CPU)', scoring(/^100 series/, (s) => s.knn.msPerQuery), 3],
  ['  kNN through sqlite-vec: ms/query (CPU)', scoring(/^100 series/, (s) => s.knn.sqliteVecMsPerQuery), 3],
  ['  sqlite-vec exact scan: GB/s', scoring(/^100 series/, (s) => s.knn.sqliteVecBytesPerSec / 1e9), 2],
  ['  sqlite-vec exact scan: % of memcpy bandwidth', (r) => scoring(/^100 series/, (s) => (100 * s.knn.sqliteVecBytesPerSec) / r.bandwidth.dramBytesPerSec)(r)],
  ['  memcpy bandwidth (256 MiB), GB/s', (r) => r.bandwidth.dramBytesPerSec / 1e9, 2],
  ['scoring 2 series x 100k patterns: windows/s', scoring(/^2 series/, (s) => s.windowsPerSec)],
  ['  kNN k=10 over 100k x 48: ms/query (CPU)', scoring(/^2 series/, (s) => s.knn.msPerQuery), 3],
  ['scoring 10k series x 100 patterns: windows/s', scoring(/^10k series/, (s) => s.windowsPerSec)],
  ['scoring 50 series x 10k, seasonal on: windows/s', scoring(/seasonal/, (s) => s.windowsPerSec)],
  ['  event-loop delay max while scoring, ms (fits on the worker)', scoring(/seasonal on/, (s) => s.eventLoop?.maxMs), 1],
  ['  the same with the fits on the scoring thread', scoring(/fits on the scoring thread/, (s) => s.eventLoop?.maxMs), 1],
  ['memory per stored pattern, heap bytes (in-memory index)', scoring(/^100 series/, (s) => s.memory.heapPerPatternBytes)],
  ['SQLite file bytes per pattern (1k+ patterns per series)', (r) => r.bytesPerPattern],
  ['SQLite file bytes per pattern (10k series x 100)', scoring(/^10k series/, (s) => s.memory.sqliteFileBytesPerPattern)],
  ['memory per active series, heap bytes (1k x 1k case)', scoring(/^1k series/, (s) => s.memory.heapPerSeriesBytes)],
  ['POST /events at 120 req/s x 500: events/s', (r) => r.http?.events.eventsPerSec, 0, '>= 50,000'],
  ['  p99 ms', (r) => r.http?.events.p99Ms, 0, '< 50'],
  ['  event-loop delay p99 ms', (r) => r.http?.events.eventLoop.p99Ms, 1],
  ['  event-loop delay max ms', (r) => r.http?.events.eventLoop.maxMs, 1],
  ['  cold start (1,000 new series): p99 ms', (r) => r.http?.coldStart?.p99Ms],
  ['POST /events saturation: events/s', (r) => r.http?.saturation.eventsPerSec],
  ['  p99 ms', (r) => r.http?.saturation.p99Ms],
  ['POST /detect at 50 req/s: p99 ms', (r) => r.http?.detect.p99Ms],
  ['detection latency, window end -> API: p99 ms', (r) => r.latency?.apiP99Ms, 0, '< 1,000'],
  ['  window end -> /metrics: p99 ms', (r) => r.latency?.metricsP99Ms],
  ['  event-loop delay p99 ms (live run)', (r) => r.latency?.eventLoop.p99Ms, 1],
];

const fmt = (x: number | null | undefined, d = 0) => (x === null || x === undefined ? '-' : (Math.round(x * 10 ** d) / 10 ** d).toLocaleString('en-US'));

export function compareTable(reports: PerfReport[], names: string[]): string {
  const lines = [`| metric | ${names.join(' | ')} | target |`, `| --- |${names.map(() => ' ---: |').join('')} --- |`];
  for (const [name, get, d = 0, target = ''] of ROWS) lines.push(`| ${name} | ${reports.map((r) => fmt(get(r), d)).join(' | ')} | ${target} |`);
  lines.push(`| load average at start | ${reports.map((r) => fmt(r.machine.loadAverage1m, 2)).join(' | ')} | |`);
  return lines.join('\n');
}

if (process.argv[1]?.endsWith('compare.ts')) {
  const files = process.argv.slice(2);
  if (files.length === 0) {
    process.stderr.write('usage: compare.ts run.json [run.json ...]\n');
    process.exit(2);
  }
  const reports = files.map((p) => JSON.parse(readFileSync(p, 'utf8')) as PerfReport);
  process.stdout.write(compareTable(reports, files.map((f) => basename(f, '.json'))) + '\n');
}
