/**
 * HTTP scenarios: the service (createApp: Fastify, pipeline, embedded store in a temporary data
 * directory) in THIS process on a loopback port, the load generator (autocannon) in a second process.
 *
 * 1. POST /api/v1/detect at a fixed rate against a warm series holding `detectPatterns` patterns.
 * 2. POST /api/v1/events, batches of 500 events over `series` series with current timestamps, at a fixed
 *    offered load (requests/s), with 10 s windows so windows close and are scored during the run: first
 *    while the series are new (cold start: state and store partitions are created), then steady.
 * 3. The same as fast as the generator can send (saturation).
 * Server side: events accepted per second (sentinel_events_ingested_total), windows scored, and the event
 * loop delay (perf_hooks.monitorEventLoopDelay) during each phase.
 */
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { LlmEvent, Pattern } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import type { AutocannonJob, AutocannonReport, LiveJob, LiveReport } from './load-child';
import { percentile, profilePhase, round, tick } from './machine';
import { TrafficGenerator, seriesKeyOf } from './traffic';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(HERE, '../../..');

/** Runs one job in a forked load-generator process. */
export function runChild<R>(job: AutocannonJob | LiveJob): Promise<R> {
  return new Promise((resolvePromise, reject) => {
    const child = fork(join(HERE, 'load-child.ts'), [], { cwd: REPO, execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let done = false;
    child.once('message', (m: { ok: boolean; result?: R; error?: string }) => {
      done = true;
      if (m.ok) resolvePromise(m.result!);
      else reject(new Error(`load generator failed: ${m.error}`));
    });
    child.once('exit', (code) => {
      if (!done) reject(new Error(`load generator exited with ${code} before answering`));
    });
    child.send(job);
  });
}

/** Event-loop delay over one phase, in ms. */
export interface LoopLag {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export function lagMonitor(): { stop(): LoopLag } {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  return {
    stop() {
      h.disable();
      return { p50Ms: round(h.percentile(50) / 1e6, 2), p99Ms: round(h.percentile(99) / 1e6, 2), maxMs: round(h.max / 1e6, 2) };
    },
  };
}

async function counter(app: App, name: 'eventsIngested' | 'windowsScored'): Promise<number> {
  const v = await app.metrics[name].get();
  return v.values.reduce((s, x) => s + x.value, 0);
}

export interface HttpOptions {
  series: number;
  batchEvents: number;
  /** Offered load of the fixed-rate phase, requests per second. */
  rate: number;
  connections: number;
  durationSec: number;
  saturationSec: number;
  detectRate: number;
  detectSec: number;
  detectEvents: number;
  detectPatterns: number;
}

export interface HttpPhase {
  offeredRequestsPerSec: number | null;
  requestsPerSec: number;
  eventsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  non2xx: number;
  windowsScored: number;
  eventLoop: LoopLag;
}

export interface HttpResult {
  input: HttpOptions & { windowMs: number; latenessMs: number };
  detect: HttpPhase;
  /** The fixed load on series never seen before (their first windows create state and partitions). */
  coldStart: HttpPhase;
  /** The fixed load once those series exist (steady state). */
  events: HttpPhase;
  saturation: HttpPhase;
}

export async function httpScenario(o: HttpOptions, pool: Float32Array[], onProgress: (msg: string) => void): Promise<HttpResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-perf-http-'));
  const config = loadConfig(
    {
      SENTINEL_PORT: '0',
      SENTINEL_DATA_DIR: dir,
      SENTINEL_RATE_LIMIT: '1000000',
      SENTINEL_WINDOW: '10s',
      SENTINEL_LATENESS: '2s',
      SENTINEL_MAX_SERIES: String(Math.max(10_000, o.series + 1)),
    },
    () => {},
  );
  const app = await createApp(config, createLogger('silent'));
  try {
    const address = await app.http.listen({ host: '127.0.0.1', port: 0 });
    // A warm series for /detect: 2 h of history in event time (well before now), then stored patterns.
    const gen = new TrafficGenerator(11);
    const detectSeries = o.series; // outside the ingest phase's series
    const key = seriesKeyOf(detectSeries);
    const histStart = Math.floor((Date.now() - 4 * 3_600_000) / config.windowMs) * config.windowMs;
    for (let w = 0; w < 150; w++) {
      const events = gen.batch(o.detectEvents, 1, 0, config.windowMs).map((e, i) => ({
        ...e,
        ...seriesOf(detectSeries),
        timestamp: histStart + w * config.windowMs + Math.floor((i * config.windowMs) / o.detectEvents),
      })) as unknown as LlmEvent[];
      app.pipeline.ingestEvents(events);
      await app.pipeline.idle();
    }
    const patterns: Pattern[] = [];
    for (let j = 0; j < o.detectPatterns; j++) patterns.push({ id: `${key}@pre${j}`, seriesKey: key, kind: 'normal', timestamp: histStart - 1 - j, vector: pool[j % pool.length] });
    for (let i = 0; i < patterns.length; i += 5000) await app.store.upsertPatterns(patterns.slice(i, i + 5000));
    await app.pipeline.idle();
    await tick();

    const phase = async (job: AutocannonJob, events: boolean): Promise<HttpPhase> => {
      const e0 = await counter(app, 'eventsIngested');
      const w0 = await counter(app, 'windowsScored');
      const lag = lagMonitor();
      const r = await profilePhase(`http-${job.path.split('/').pop()}-${job.rate || 'max'}`, () => runChild<AutocannonReport>(job));
      const eventLoop = lag.stop();
      const e1 = await counter(app, 'eventsIngested');
      const w1 = await counter(app, 'windowsScored');
      return {
        offeredRequestsPerSec: job.rate || null,
        requestsPerSec: round(r.requestsPerSec, 1),
        eventsPerSec: events ? round((e1 - e0) / r.durationSec) : 0,
        p50Ms: r.p50Ms,
        p99Ms: r.p99Ms,
        maxMs: r.maxMs,
        errors: r.errors,
        non2xx: r.non2xx,
        windowsScored: w1 - w0,
        eventLoop,
      };
    };

    const now = Date.now();
    const detectBody = JSON.stringify({
      events: gen.batch(o.detectEvents, 1, now - config.windowMs, now).map((e) => ({ ...e, ...seriesOf(detectSeries) })),
    });
    onProgress(`  /detect: ${o.detectRate} req/s for ${o.detectSec} s (${o.detectEvents} events per call, ${o.detectPatterns} patterns)`);
    const detect = await phase({ mode: 'autocannon', url: address, path: '/api/v1/detect', fixedBody: detectBody, rate: o.detectRate, connections: 4, durationSec: o.detectSec }, false);
    const batch = { events: o.batchEvents, series: o.series, seed: 3 };
    // First the same load on series the service has never seen: every series' first window creates its
    // state and its store partition (vec0 allocates a chunk per partition). Reported apart as the cold start.
    const warmSec = Math.ceil((1.5 * config.windowMs + config.latenessMs) / 1000);
    onProgress(`  /events cold start: ${o.rate} req/s x ${o.batchEvents} events for ${warmSec} s over ${o.series} new series`);
    const coldStart = await phase({ mode: 'autocannon', url: address, path: '/api/v1/events', batch: { ...batch, seed: 2 }, rate: o.rate, connections: o.connections, durationSec: warmSec }, true);
    await app.pipeline.idle();
    onProgress(`  /events: ${o.rate} req/s x ${o.batchEvents} events for ${o.durationSec} s over ${o.series} series`);
    const events = await phase({ mode: 'autocannon', url: address, path: '/api/v1/events', batch, rate: o.rate, connections: o.connections, durationSec: o.durationSec }, true);
    await app.pipeline.idle();
    onProgress(`  /events: saturation for ${o.saturationSec} s`);
    const saturation = await phase({ mode: 'autocannon', url: address, path: '/api/v1/events', batch: { ...batch, seed: 4 }, rate: 0, connections: o.connections, durationSec: o.saturationSec }, true);
    return { input: { ...o, windowMs: config.windowMs, latenessMs: config.latenessMs }, detect, coldStart, events, saturation };
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function seriesOf(i: number): { service: string; model: string } {
  const [s, m] = seriesKeyOf(i).split('|');
  return { service: s.slice('service='.length), model: m.slice('model='.length) };
}

export interface LatencyOptions {
  spikeSeries: number;
  backgroundSeries: number;
  eventsPerSec: number;
}

export interface LatencyResult {
  input: LatencyOptions & { windowMs: number; latenessMs: number; spikeFactor: number; warmupWindows: number };
  /** Window end -> anomaly listed by GET /api/v1/anomalies, over the spike windows. */
  apiP50Ms: number;
  apiP99Ms: number;
  apiMaxMs: number;
  /** Window end -> counted in sentinel_anomalies_detected_total on /metrics. */
  metricsP99Ms: number;
  detected: number;
  spikes: number;
  eventsSent: number;
  eventLoop: LoopLag;
}

/**
 * Detection latency of a closed window: real-time traffic (1 s windows, no lateness) with one spike per
 * spike series; window end -> the anomaly is visible in the API and in /metrics, as seen by a client
 * polling both every 20 ms (so figures include up to one polling interval).
 */
export async function latencyScenario(o: LatencyOptions, onProgress: (msg: string) => void): Promise<LatencyResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-perf-live-'));
  const config = loadConfig(
    { SENTINEL_PORT: '0', SENTINEL_DATA_DIR: dir, SENTINEL_RATE_LIMIT: '1000000', SENTINEL_WINDOW: '1s', SENTINEL_LATENESS: '0' },
    () => {},
  );
  const app = await createApp(config, createLogger('silent'));
  try {
    const address = await app.http.listen({ host: '127.0.0.1', port: 0 });
    const job: LiveJob = {
      mode: 'live',
      url: address,
      spikeSeries: o.spikeSeries,
      backgroundSeries: o.backgroundSeries,
      eventsPerSec: o.eventsPerSec,
      spikeFactor: 10,
      windowMs: config.windowMs,
      warmupWindows: config.warmupWindows + 10,
      spikeEvery: 1,
      tickMs: 50,
      pollMs: 20,
      seriesOffset: 5000,
    };
    onProgress(`  live: ${o.spikeSeries} spikes, ${o.backgroundSeries} background series, ${o.eventsPerSec} events/s each, 1 s windows`);
    const lag = lagMonitor();
    const r = await runChild<LiveReport>(job);
    const eventLoop = lag.stop();
    const spikeKeys = new Map(r.spikes.map((s) => [seriesKeyOf(s.series), s.windowStart]));
    const hits = r.anomalies.filter((a) => spikeKeys.get(a.series) === a.end - config.windowMs);
    const api = hits.map((a) => a.apiSeenAt - a.end);
    const metrics = hits.filter((a) => a.metricsSeenAt !== null).map((a) => a.metricsSeenAt! - a.end);
    return {
      input: { ...o, windowMs: config.windowMs, latenessMs: config.latenessMs, spikeFactor: job.spikeFactor, warmupWindows: job.warmupWindows },
      apiP50Ms: round(percentile(api, 0.5)),
      apiP99Ms: round(percentile(api, 0.99)),
      apiMaxMs: round(Math.max(0, ...api)),
      metricsP99Ms: round(percentile(metrics, 0.99)),
      detected: hits.length,
      spikes: r.spikes.length,
      eventsSent: r.eventsSent,
      eventLoop,
    };
  } finally {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
