/**
 * `sentinel bench perf` / `npm run bench:perf`: the performance benchmark of the detection path (issue 9).
 * Prints a table and writes bench-results/perf.json. Input sizes are in both; docs/BENCHMARKS.md
 * ("Performance") records the numbers and what they mean.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { httpScenario, latencyScenario, type HttpOptions, type HttpResult, type LatencyOptions, type LatencyResult } from './http';
import { ingestScenario, type IngestOptions, type IngestResult } from './ingest';
import { machineInfo, memcpyBandwidth, round, type Bandwidth, type MachineInfo } from './machine';
import { embeddingPool, scoringCase, type ScoringCase, type ScoringResult } from './scoring';
import { TrafficGenerator } from './traffic';

const SCENARIOS = ['ingest', 'scoring', 'http', 'latency'] as const;
type Scenario = (typeof SCENARIOS)[number];

/** Input sizes of a run. */
interface Plan {
  ingest: IngestOptions;
  scoring: (ScoringCase & { label: string })[];
  http: HttpOptions;
  latency: LatencyOptions;
}

const FULL: Plan = {
  ingest: { events: 1_000_000, series: 1000, batch: 500, spanMs: 600_000, passes: 2 },
  scoring: [
    { label: '1k series x 1k patterns', series: 1000, patternsPerSeries: 1000, warmRounds: 10, rounds: 5 },
    { label: '100 series x 10k patterns', series: 100, patternsPerSeries: 10_000, warmRounds: 10, rounds: 10 },
    { label: '2 series x 100k patterns', series: 2, patternsPerSeries: 100_000, warmRounds: 10, rounds: 100 },
    { label: '10k series x 100 patterns', series: 10_000, patternsPerSeries: 100, warmRounds: 10, rounds: 1 },
    { label: '50 series x 10k patterns, seasonal on', series: 50, patternsPerSeries: 10_000, warmRounds: 1, rounds: 15, seasonal: true },
    { label: '50 series x 10k, seasonal, fits on the scoring thread', series: 50, patternsPerSeries: 10_000, warmRounds: 1, rounds: 15, seasonal: true, fitsOnThread: true },
  ],
  http: { series: 1000, batchEvents: 500, rate: 120, connections: 8, durationSec: 20, saturationSec: 10, detectRate: 50, detectSec: 10, detectEvents: 100, detectPatterns: 10_000 },
  latency: { spikeSeries: 30, backgroundSeries: 200, eventsPerSec: 20 },
};

const QUICK: Plan = {
  ingest: { events: 200_000, series: 1000, batch: 500, spanMs: 120_000, passes: 1 },
  scoring: [
    { label: '200 series x 1k patterns', series: 200, patternsPerSeries: 1000, warmRounds: 10, rounds: 3 },
    { label: '20 series x 10k patterns', series: 20, patternsPerSeries: 10_000, warmRounds: 10, rounds: 10 },
    { label: '1 series x 100k patterns', series: 1, patternsPerSeries: 100_000, warmRounds: 10, rounds: 50 },
    { label: '20 series x 1k patterns, seasonal on', series: 20, patternsPerSeries: 1000, warmRounds: 1, rounds: 15, seasonal: true },
    { label: '20 series x 1k, seasonal, fits on the scoring thread', series: 20, patternsPerSeries: 1000, warmRounds: 1, rounds: 15, seasonal: true, fitsOnThread: true },
  ],
  http: { series: 1000, batchEvents: 500, rate: 120, connections: 8, durationSec: 5, saturationSec: 5, detectRate: 50, detectSec: 5, detectEvents: 100, detectPatterns: 10_000 },
  latency: { spikeSeries: 6, backgroundSeries: 100, eventsPerSec: 20 },
};

/** bench-results/perf.json. Top-level keys are the headline numbers; the rest is detail. */
export interface PerfReport {
  ingestEventsPerSec: number | null;
  scoreWindowsPerSec: number | null;
  httpEventsPerSec: number | null;
  httpP99Ms: number | null;
  detectP99Ms: number | null;
  detectionLatencyP99Ms: number | null;
  bytesPerPattern: number | null;
  eventLoopLagP99Ms: number | null;
  quick: boolean;
  startedAt: string;
  durationSec: number;
  machine: MachineInfo;
  bandwidth: Bandwidth;
  ingest?: IngestResult;
  scoring?: (ScoringResult & { label: string })[];
  http?: HttpResult;
  latency?: LatencyResult;
}

const USAGE = `usage: sentinel bench perf [options]
  --quick              short run (smaller inputs, about 3 minutes)
  --only <a,b>         only these scenarios: ${SCENARIOS.join(', ')}
  --out <file>         where to write the JSON report (default bench-results/perf.json)
  -h, --help           show this help`;

export async function perfCommand(argv: string[]): Promise<number> {
  let values: { quick?: boolean; only?: string; out?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: { quick: { type: 'boolean' }, only: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const only = values.only ? values.only.split(',').map((s) => s.trim()) : [...SCENARIOS];
  const bad = only.filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (bad.length) {
    process.stderr.write(`unknown scenario ${bad.join(', ')}\n${USAGE}\n`);
    return 2;
  }
  const run = (s: Scenario) => only.includes(s);
  const plan = values.quick ? QUICK : FULL;
  const log = (msg: string) => process.stderr.write(msg + '\n');
  const started = Date.now();
  const machine = machineInfo();
  log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, node ${machine.node}, load ${machine.loadAverage1m}`);
  const bandwidth = memcpyBandwidth();
  log(`memcpy: ${gb(bandwidth.dramBytesPerSec)} GB/s (256 MiB), ${gb(bandwidth.cacheBytesPerSec)} GB/s (2 MiB)`);

  const report: PerfReport = {
    ingestEventsPerSec: null,
    scoreWindowsPerSec: null,
    httpEventsPerSec: null,
    httpP99Ms: null,
    detectP99Ms: null,
    detectionLatencyP99Ms: null,
    bytesPerPattern: null,
    eventLoopLagP99Ms: null,
    quick: !!values.quick,
    startedAt: new Date(started).toISOString(),
    durationSec: 0,
    machine,
    bandwidth,
  };

  if (run('ingest')) {
    log(`ingest: ${plan.ingest.events} events, ${plan.ingest.series} series, batches of ${plan.ingest.batch}`);
    report.ingest = await ingestScenario(plan.ingest, (m) => log('  ' + m));
    report.ingestEventsPerSec = report.ingest.eventsPerSec;
  }
  let pool: Float32Array[] = [];
  if (run('scoring') || run('http')) {
    log('building a pool of 50k real window embeddings');
    pool = embeddingPool(50_000, new TrafficGenerator(3));
  }
  if (run('scoring')) {
    report.scoring = [];
    for (const c of plan.scoring) {
      log(`scoring: ${c.label}`);
      const r = await scoringCase(c, pool, log);
      log(`  ${r.windowsPerSec} windows/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms; kNN ${r.knn.msPerQuery} ms/query`);
      report.scoring.push({ label: c.label, ...r });
    }
    const tenK = report.scoring.find((r) => r.case.patternsPerSeries === 10_000 && !r.case.seasonal);
    report.scoreWindowsPerSec = tenK?.windowsPerSec ?? null;
    const big = report.scoring.reduce((a, b) => (b.case.storedPatterns > a.case.storedPatterns ? b : a));
    report.bytesPerPattern = big.memory.sqliteFileBytesPerPattern;
  }
  if (run('http')) {
    log('http');
    report.http = await httpScenario(plan.http, pool, log);
    report.httpEventsPerSec = report.http.events.eventsPerSec;
    report.httpP99Ms = report.http.events.p99Ms;
    report.detectP99Ms = report.http.detect.p99Ms;
    report.eventLoopLagP99Ms = report.http.events.eventLoop.p99Ms;
  }
  if (run('latency')) {
    log('detection latency');
    report.latency = await latencyScenario(plan.latency, log);
    report.detectionLatencyP99Ms = report.latency.apiP99Ms;
  }
  report.durationSec = round((Date.now() - started) / 1000);
  const out = resolve(values.out ?? 'bench-results/perf.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, JSON.stringify(report, null, 2) + '\n');
  process.stdout.write(formatReport(report) + `\nwritten to ${out} (${report.durationSec} s)\n`);
  return 0;
}

const gb = (bytesPerSec: number) => round(bytesPerSec / 1e9, 2);
const num = (x: number | null | undefined, d = 0) => (x === null || x === undefined ? '-' : round(x, d).toLocaleString('en-US'));

/** The printed table. */
export function formatReport(r: PerfReport): string {
  const m = r.machine;
  const lines: string[] = [
    `LLM-Sentinel performance (${r.quick ? 'quick' : 'full'} run, ${r.startedAt})`,
    `machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB RAM, node ${m.node}, load average at start ${m.loadAverage1m}`,
    `memcpy bandwidth: ${gb(r.bandwidth.dramBytesPerSec)} GB/s from RAM (256 MiB), ${gb(r.bandwidth.cacheBytesPerSec)} GB/s in cache (2 MiB)`,
    '',
    'metric                                               value          target',
  ];
  const row = (name: string, value: string, target = '') => lines.push(`${name.padEnd(52)} ${value.padStart(14)}   ${target}`);
  if (r.ingest) {
    const i = r.ingest;
    row(`ingest, validation + windowing (events/s)`, num(i.eventsPerSec), '>= 200,000');
    row(`  per CPU-second of the process`, num(i.eventsPerCpuSec));
    row(`  ${i.input.events} events, ${i.input.series} series: validate / window ns/event`, `${num(i.validateNsPerEvent)} / ${num(i.windowNsPerEvent)}`);
  }
  for (const s of r.scoring ?? []) {
    row(`scoring ${s.label} (windows/s)`, num(s.windowsPerSec), s.case.patternsPerSeries === 10_000 && !s.case.seasonal ? '>= 20,000' : '');
    row(`  per CPU-second of the process`, num(s.windowsPerCpuSec));
    row(`  per window p50 / p99 (ms)`, `${num(s.p50Ms, 3)} / ${num(s.p99Ms, 3)}`);
    if (s.eventLoop) row(`  event-loop delay while scoring p99 / max (ms)`, `${num(s.eventLoop.p99Ms, 1)} / ${num(s.eventLoop.maxMs, 1)}`);
    const frac = (x: number) => num((100 * x) / r.bandwidth.dramBytesPerSec, 0);
    row(`  kNN sqlite-vec exact scan: ms/query, GB/s (of memcpy)`, `${num(s.knn.sqliteVecMsPerQuery, 3)}, ${gb(s.knn.sqliteVecBytesPerSec)} (${frac(s.knn.sqliteVecBytesPerSec)}%)`);
    row(`  kNN in-memory exact search: ms/query, GB/s equiv.`, `${num(s.knn.msPerQuery, 3)}, ${gb(s.knn.bytesPerSec)} (${frac(s.knn.bytesPerSec)}%)`);
    row(`  store: bytes/pattern file, heap, RSS`, `${num(s.memory.sqliteFileBytesPerPattern)}, ${num(s.memory.heapPerPatternBytes)}, ${num(s.memory.rssPerPatternBytes)}`);
    row(`  memory per active series: heap, RSS (bytes)`, `${num(s.memory.heapPerSeriesBytes)}, ${num(s.memory.rssPerSeriesBytes)}`);
    row(`  store fill (patterns/s, batches of 5000)`, num(s.prefillPatternsPerSec));
  }
  if (r.http) {
    const h = r.http;
    row(`POST /events at ${h.events.offeredRequestsPerSec} req/s x ${h.input.batchEvents}: events/s`, num(h.events.eventsPerSec), '>= 50,000');
    row(`  p50 / p99 (ms)`, `${num(h.events.p50Ms)} / ${num(h.events.p99Ms)}`, 'p99 < 50');
    row(`  event-loop delay p99 / max (ms)`, `${num(h.events.eventLoop.p99Ms, 1)} / ${num(h.events.eventLoop.maxMs, 1)}`);
    row(`  windows scored during the run`, num(h.events.windowsScored));
    row(`  cold start (new series): events/s, p99 (ms)`, `${num(h.coldStart.eventsPerSec)}, ${num(h.coldStart.p99Ms)}`);
    row(`POST /events saturation: events/s, p99 (ms)`, `${num(h.saturation.eventsPerSec)}, ${num(h.saturation.p99Ms)}`);
    row(`POST /detect at ${h.detect.offeredRequestsPerSec} req/s: p50 / p99 (ms)`, `${num(h.detect.p50Ms)} / ${num(h.detect.p99Ms)}`);
  }
  if (r.latency) {
    const l = r.latency;
    row(`detection latency, window end -> API: p50 / p99 (ms)`, `${num(l.apiP50Ms)} / ${num(l.apiP99Ms)}`, 'p99 < 1,000');
    row(`  window end -> /metrics p99 (ms); found / spikes`, `${num(l.metricsP99Ms)}; ${l.detected}/${l.spikes}`);
    row(`  event-loop delay p99 / max (ms)`, `${num(l.eventLoop.p99Ms, 1)} / ${num(l.eventLoop.maxMs, 1)}`);
  }
  return lines.join('\n');
}
