/**
 * Window scoring throughput and latency with many stored patterns, on the embedded store (SQLite +
 * sqlite-vec file in a temporary data directory) and the in-process pipeline.
 *
 * Setup per case: each series' store partition is filled with `patternsPerSeries` normal patterns that
 * are real embeddings (the production embedder applied to windows cut from the trace), each series gets a
 * recent history, then `warmRounds` rounds of windows are scored unmeasured (EWMA moments, calibration
 * reservoirs, incidents settle), then `rounds` rounds are measured. A round = about 10 trace events per
 * series in the next window; ingesting it closes the previous window of every series, and the clock runs
 * from the end of that ingest call until the pipeline is idle again (scoring, learning, pattern writes,
 * pruning, incidents, metrics). Per-window latency is the time the pipeline spends on one window
 * (score + commit + learn + incident + metrics; pattern writes are batched per round and only in the
 * throughput).
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { embedWindows, robustStats } from '@llm-sentinel/embeddings';
import { loadConfig } from '../../src/config';
import type { LlmEvent, Pattern } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { SentinelMetrics } from '../../src/metrics';
import { Pipeline } from '../../src/pipeline/pipeline';
import type { Observation } from '../../src/pipeline/scorer';
import { SqliteStore } from '../../src/store/sqlite-store';
import { EVENT_FEATURE_MIN_SCALE, WindowAccumulator } from '../../src/windowing/features';
import { memorySnapshot, percentile, profilePhase, round } from './machine';
import { TrafficGenerator, seriesKeyOf, seriesLabels } from './traffic';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { MstlPool } from '../../src/detectors/augurs';

const WINDOW_MS = 60_000;
const EVENTS_PER_WINDOW = 10;
/** History rows given to each series before scoring: the baseline's 60, short of the 120 the seasonal detector needs. */
const HISTORY_ROWS = 60;
const DIM = 48;

/** One case of the scoring scenario. */
export interface ScoringCase {
  series: number;
  patternsPerSeries: number;
  warmRounds: number;
  rounds: number;
  /** Give every series 2 h of history so the seasonal detector (MSTL refits) is active. */
  seasonal?: boolean;
  /**
   * Run the seasonal fits on the scoring thread (as a replay does) instead of the worker the server uses:
   * the before/after of moving them off the event loop.
   */
  fitsOnThread?: boolean;
}

export interface ScoringResult {
  case: ScoringCase & { storedPatterns: number; dim: number; windowsScored: number };
  windowsPerSec: number;
  /** Windows per second of CPU time of this process (what an otherwise idle core would do). */
  windowsPerCpuSec: number;
  p50Ms: number;
  p99Ms: number;
  /**
   * Event-loop delay while the measured rounds are scored (perf_hooks, 1 ms resolution): the longest time
   * a request arriving then would have waited for the scoring to yield.
   */
  eventLoop: { p99Ms: number; maxMs: number };
  /** Store fill: patterns inserted per second (batched upserts of 5000). */
  prefillPatternsPerSec: number;
  /**
   * kNN search alone (the store call the kNN detector makes, k = 10), CPU ms per query over this case's
   * partitions: the store's in-memory exact search, and sqlite-vec's exact scan of the same partition.
   * bytesPerSec = vector bytes of the partition / time (the pruned in-memory search reads fewer).
   */
  knn: { msPerQuery: number; bytesScanned: number; bytesPerSec: number; sqliteVecMsPerQuery: number; sqliteVecBytesPerSec: number };
  memory: { heapPerPatternBytes: number; rssPerPatternBytes: number; sqliteFileBytesPerPattern: number; heapPerSeriesBytes: number; rssPerSeriesBytes: number };
}

/**
 * A pool of real window embeddings: windows of EVENTS_PER_WINDOW trace events, their features, the
 * robust baseline of the previous 60 windows (recomputed every 20 windows) and the production embedder.
 */
export function embeddingPool(n: number, gen: TrafficGenerator): Float32Array[] {
  const history: Float64Array[] = [];
  const out: Float32Array[] = [];
  const scratch = new Float64Array(61);
  const col = new Float64Array(60);
  let baseline = { center: new Float64Array(16), scale: Float64Array.from(EVENT_FEATURE_MIN_SCALE) };
  for (let i = 0; out.length < n; i++) {
    const acc = new WindowAccumulator();
    const events = gen.batch(EVENTS_PER_WINDOW, 1, 0, WINDOW_MS) as unknown as LlmEvent[];
    for (const e of events) acc.add({ ...e, timestamp: 0 } as LlmEvent);
    history.push(acc.features());
    if (history.length > 60) history.shift();
    if (i % 20 === 0 && history.length >= 10) {
      const center = new Float64Array(16);
      const scale = new Float64Array(16);
      for (let j = 0; j < 16; j++) {
        for (let r = 0; r < history.length; r++) col[r] = history[r][j];
        const s = robustStats(col.subarray(0, history.length), EVENT_FEATURE_MIN_SCALE[j], scratch);
        center[j] = s.center;
        scale[j] = s.scale;
      }
      baseline = { center, scale };
    }
    if (history.length >= 3) out.push(embedWindows(history.slice(-3), baseline, { length: 3 }));
  }
  return out;
}

/** LLM events (already validated) of one window of one series. */
function windowEvents(gen: TrafficGenerator, series: number, start: number, n = EVENTS_PER_WINDOW): LlmEvent[] {
  const out: LlmEvent[] = [];
  for (let i = 0; i < n; i++) {
    const e = gen.event(series, start + Math.floor((i * WINDOW_MS) / n)) as Record<string, unknown>;
    out.push({ ...e, timestamp: start + Math.floor((i * WINDOW_MS) / n) } as unknown as LlmEvent);
  }
  return out;
}

export async function scoringCase(c: ScoringCase, pool: Float32Array[], onProgress: (msg: string) => void): Promise<ScoringResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-perf-'));
  const gen = new TrafficGenerator(1000 + c.series);
  const store = SqliteStore.inDataDir(dir);
  await store.init();
  try {
    // --- prefill the store
    const m0 = memorySnapshot();
    const t0 = Date.UTC(2024, 0, 1);
    const historyRows = c.seasonal ? 130 : HISTORY_ROWS;
    const firstWindow = t0 + 3 * 86_400_000;
    let pending: Pattern[] = [];
    let k = 0;
    const fillStart = performance.now();
    for (let s = 0; s < c.series; s++) {
      const key = seriesKeyOf(s);
      for (let j = 0; j < c.patternsPerSeries; j++) {
        // Old timestamps: retention prunes the prefill first, as it would prune the oldest real patterns.
        pending.push({ id: `${key}@pre${j}`, seriesKey: key, kind: 'normal', timestamp: t0 + j, vector: pool[k++ % pool.length] });
        if (pending.length === 5000) {
          await store.upsertPatterns(pending);
          pending = [];
        }
      }
    }
    await store.upsertPatterns(pending);
    const fillMs = performance.now() - fillStart;
    const stored = c.series * c.patternsPerSeries;
    onProgress(`  prefilled ${stored} patterns in ${round(fillMs / 1000, 1)} s`);

    // --- load every partition into the store's search index (its first search), then time searches alone
    for (let s = 0; s < c.series; s++) {
      await store.searchPatterns(seriesKeyOf(s), pool[s % pool.length], 10, 'normal');
      await store.searchPatterns(seriesKeyOf(s), pool[s % pool.length], 3, 'incident');
    }
    const m1 = memorySnapshot();
    const queries = Math.min(200, Math.max(20, Math.round(2e7 / Math.max(1, c.patternsPerSeries))));
    const timeQueries = async (s: SqliteStore) => {
      const q0 = process.cpuUsage();
      for (let i = 0; i < queries; i++) await s.searchPatterns(seriesKeyOf(i % c.series), pool[(k + i * 7919) % pool.length], 10, 'normal');
      const cpu = process.cpuUsage(q0);
      return (cpu.user + cpu.system) / 1000 / queries;
    };
    const msPerQuery = await timeQueries(store);
    // The same queries through sqlite-vec (a second connection without in-memory copies): the exact scan.
    const plain = new SqliteStore(join(dir, 'sentinel.db'), { vectorCacheBytes: 0 });
    await plain.init();
    await timeQueries(plain);
    const sqliteVecMsPerQuery = await timeQueries(plain);
    await plain.close();
    const bytesScanned = c.patternsPerSeries * DIM * 4;

    // --- pipeline with warm series
    const config = loadConfig(
      { SENTINEL_LATENESS: '0', SENTINEL_MAX_PATTERNS: String(Math.max(10_000, c.patternsPerSeries)), SENTINEL_MAX_SERIES: String(Math.max(10_000, c.series)) },
      () => {},
    );
    const fits = c.fitsOnThread ? undefined : new MstlPool();
    const pipeline = new Pipeline({
      config,
      store,
      log: createLogger('silent'),
      metrics: new SentinelMetrics(undefined, { defaultMetrics: false }),
      maxFutureMs: Infinity,
      ...(fits ? { fits } : {}),
    });
    const lat: number[] = [];
    let measuring = false;
    // Time Pipeline.process (private) per window: the benchmark's only reach into the pipeline's inside.
    const inner = pipeline as unknown as { process(obs: Observation, queuedAt: number): Promise<unknown> };
    const processWindow = inner.process.bind(pipeline);
    inner.process = async (obs, queuedAt) => {
      const t = performance.now();
      const d = await processWindow(obs, queuedAt);
      if (measuring) lat.push(performance.now() - t);
      return d;
    };
    const histGen = new TrafficGenerator(7);
    for (let s = 0; s < c.series; s++) {
      const key = seriesKeyOf(s);
      const state = pipeline.scorer.stateFor({ seriesKey: key, labels: seriesLabels(s), kind: 'events', start: 0, end: 0, features: new Float64Array(16) });
      for (let r = 0; r < historyRows; r++) {
        const acc = new WindowAccumulator();
        for (const e of windowEvents(histGen, s, 0)) acc.add(e);
        state.history.push(acc.features());
      }
      state.windowsSeen = historyRows;
    }
    const m2 = memorySnapshot();
    let windowStart = firstWindow;
    const round1 = async () => {
      const events: LlmEvent[] = [];
      for (let s = 0; s < c.series; s++) events.push(...windowEvents(gen, s, windowStart));
      events.sort((a, b) => a.timestamp - b.timestamp);
      windowStart += WINDOW_MS;
      pipeline.ingestEvents(events);
      const t = performance.now();
      await pipeline.idle();
      return performance.now() - t;
    };
    await round1(); // opens the first windows (nothing closes yet)
    for (let r = 0; r < c.warmRounds; r++) await round1();
    onProgress(`  warmed ${c.series} series with ${c.warmRounds} rounds`);
    measuring = true;
    let scoringMs = 0;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    const cpu0 = process.cpuUsage();
    await profilePhase(`scoring-${c.series}x${c.patternsPerSeries}${c.seasonal ? '-seasonal' : ''}`, async () => {
      for (let r = 0; r < c.rounds; r++) scoringMs += await round1();
    });
    const cpu = process.cpuUsage(cpu0);
    loop.disable();
    measuring = false;
    const windows = lat.length;
    const m3 = memorySnapshot();
    await pipeline.shutdown();
    await fits?.close();
    await store.close();
    const file = statSync(join(dir, 'sentinel.db')).size;
    return {
      case: { ...c, storedPatterns: stored, dim: DIM, windowsScored: windows },
      windowsPerSec: round(windows / (scoringMs / 1000)),
      windowsPerCpuSec: round(windows / ((cpu.user + cpu.system) / 1e6)),
      p50Ms: round(percentile(lat, 0.5), 3),
      p99Ms: round(percentile(lat, 0.99), 3),
      eventLoop: { p99Ms: round(loop.percentile(99) / 1e6, 1), maxMs: round(loop.max / 1e6, 1) },
      prefillPatternsPerSec: round(stored / (fillMs / 1000)),
      knn: {
        msPerQuery: round(msPerQuery, 4),
        bytesScanned,
        bytesPerSec: round(bytesScanned / (msPerQuery / 1000)),
        sqliteVecMsPerQuery: round(sqliteVecMsPerQuery, 4),
        sqliteVecBytesPerSec: round(bytesScanned / (sqliteVecMsPerQuery / 1000)),
      },
      memory: {
        heapPerPatternBytes: round((m1.heapUsed + m1.external - m0.heapUsed - m0.external) / stored),
        rssPerPatternBytes: round((m1.rss - m0.rss) / stored),
        sqliteFileBytesPerPattern: round(file / stored),
        heapPerSeriesBytes: round((m3.heapUsed + m3.external - m1.heapUsed - m1.external) / c.series),
        rssPerSeriesBytes: round((m3.rss - m1.rss) / c.series),
      },
    };
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
