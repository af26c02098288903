/**
 * Ingest throughput, single process, no HTTP: raw events (as parsed from a JSON body) -> validation with
 * the zod event schema in batches (validateBatch, exactly what POST /api/v1/events does) -> the pipeline's
 * windowing (series keys, accumulators, window closing and features). Windows that close are queued for
 * scoring; scoring is not part of this number (the pipeline runs with no detectors, and the queue is
 * drained after the clock stops).
 */
import { loadConfig } from '../../src/config';
import { validateBatch } from '../../src/ingest/parse';
import { eventSchema } from '../../src/ingest/schema';
import { createLogger } from '../../src/logger';
import { SentinelMetrics } from '../../src/metrics';
import { Pipeline } from '../../src/pipeline/pipeline';
import { MAX_BATCH } from '../../src/api/routes';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { LlmEvent } from '../../src/domain/types';
import { profilePhase, round } from './machine';
import { TrafficGenerator, type RawEvent } from './traffic';

/** Input sizes of the ingest scenario. */
export interface IngestOptions {
  events: number;
  series: number;
  batch: number;
  /** Event-time span of the input; every window boundary in it closes one window per series. */
  spanMs: number;
  /** Whole passes over the input, each on a fresh pipeline; the best is reported. */
  passes: number;
}

export interface IngestResult {
  input: IngestOptions & { windowMs: number; closedWindows: number };
  eventsPerSec: number;
  /** Events per second of CPU time of this process (best pass): robust to other load on the machine. */
  eventsPerCpuSec: number;
  /** Of the best pass: ns per event in validation and in windowing. */
  validateNsPerEvent: number;
  windowNsPerEvent: number;
  passes: number[];
}

export async function ingestScenario(o: IngestOptions, onProgress: (msg: string) => void): Promise<IngestResult> {
  const gen = new TrafficGenerator(42);
  const t0 = Date.UTC(2024, 0, 1);
  const batches: RawEvent[][] = [];
  const perBatchSpan = (o.spanMs * o.batch) / o.events;
  for (let i = 0; i < o.events; i += o.batch) {
    const from = t0 + (i / o.batch) * perBatchSpan;
    batches.push(gen.batch(Math.min(o.batch, o.events - i), o.series, from, from + perBatchSpan));
  }
  const config = loadConfig({ SENTINEL_MAX_SERIES: String(Math.max(10_000, o.series)) }, () => {});
  const passes: number[] = [];
  const cpuRates: number[] = [];
  let best = { rate: 0, validate: 0, window: 0, closed: 0 };
  for (let p = 0; p < o.passes; p++) {
    const store = new SqliteStore(':memory:');
    await store.init();
    const pipeline = new Pipeline({ config, store, log: createLogger('silent'), metrics: new SentinelMetrics(undefined, { defaultMetrics: false }), detectors: [], maxFutureMs: Infinity });
    let closed = 0;
    const enqueue = pipeline.windower.collect.bind(pipeline.windower);
    pipeline.windower.collect = () => {
      const w = enqueue();
      closed += w.length;
      return w;
    };
    let validateMs = 0;
    let windowMs = 0;
    let accepted = 0;
    // Synchronous loop: the scoring worker only runs once the loop yields, after the clock has stopped.
    const cpu0 = process.cpuUsage();
    await profilePhase(`ingest-pass${p + 1}`, async () => {
      for (const raw of batches) {
        const a = performance.now();
        const batch = validateBatch<LlmEvent>(eventSchema, raw, MAX_BATCH);
        const b = performance.now();
        accepted += pipeline.ingestEvents(batch.records, batch.indexes).accepted;
        validateMs += b - a;
        windowMs += performance.now() - b;
      }
    });
    const cpu = process.cpuUsage(cpu0);
    cpuRates.push(round(o.events / ((cpu.user + cpu.system) / 1e6)));
    if (accepted !== o.events) throw new Error(`ingest benchmark: ${o.events - accepted} events were refused`);
    const rate = o.events / ((validateMs + windowMs) / 1000);
    passes.push(round(rate));
    onProgress(`ingest pass ${p + 1}: ${round(rate)} events/s (validation ${round((validateMs * 1e6) / o.events)} ns/event, windowing ${round((windowMs * 1e6) / o.events)} ns/event)`);
    if (rate > best.rate) best = { rate, validate: validateMs, window: windowMs, closed };
    await pipeline.shutdown();
    await store.close();
  }
  return {
    input: { ...o, windowMs: config.windowMs, closedWindows: best.closed },
    eventsPerSec: round(best.rate),
    eventsPerCpuSec: Math.max(...cpuRates),
    validateNsPerEvent: round((best.validate * 1e6) / o.events),
    windowNsPerEvent: round((best.window * 1e6) / o.events),
    passes,
  };
}
