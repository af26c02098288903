import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App } from '../src/app';
import { loadConfig } from '../src/config';
import type { AnomalyRecord, LlmEvent } from '../src/domain/types';
import { createLogger } from '../src/logger';
import { Pipeline, type AnomalyListener } from '../src/pipeline/pipeline';
import { SqliteStore } from '../src/store/sqlite-store';

/** A running in-process service on a free loopback port, with a fresh data dir and captured logs. */
export interface TestServer {
  app: App;
  url: string;
  dataDir: string;
  logs: string[];
  close(opts?: { keepData?: boolean }): Promise<void>;
}

export async function startServer(env: Record<string, string> = {}, dataDir = mkdtempSync(join(tmpdir(), 'sentinel-test-'))): Promise<TestServer> {
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logs.push(String(chunk));
      cb();
    },
  });
  const config = loadConfig({ SENTINEL_DATA_DIR: dataDir, SENTINEL_PORT: '0', ...env });
  const log = createLogger('info', sink);
  const app = await createApp(config, log);
  const url = await app.http.listen({ host: '127.0.0.1', port: 0 });
  return {
    app,
    url,
    dataDir,
    logs,
    async close(opts = {}) {
      await app.close();
      if (!opts.keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** One ordinary request event at `t`. */
export function event(t: number, over: Partial<LlmEvent> = {}): LlmEvent {
  return {
    timestamp: t,
    service: 'chat',
    model: 'm1',
    inputTokens: 500,
    outputTokens: 120,
    latencyMs: 900,
    status: 'ok',
    costUsd: 0.002,
    ...over,
  };
}

/** `minutes` of steady traffic from `start`, `perMinute` requests a minute, with seeded jitter. */
export function steadyTraffic(start: number, minutes: number, perMinute = 30, over: Partial<LlmEvent> = {}, seed = 1): LlmEvent[] {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  const out: LlmEvent[] = [];
  for (let m = 0; m < minutes; m++) {
    const n = perMinute + Math.floor(r() * 6) - 3;
    for (let i = 0; i < n; i++) {
      out.push(event(start + m * 60_000 + Math.floor((i / n) * 59_000), { latencyMs: 800 + Math.floor(r() * 200), inputTokens: 450 + Math.floor(r() * 100), outputTokens: 100 + Math.floor(r() * 40), ...over }));
    }
  }
  return out;
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body) });

/** A minute-aligned start time `minutesAgo` before now (events must not be in the future). */
export const minutesAgo = (m: number) => Math.floor((Date.now() - m * 60_000) / 60_000) * 60_000;

/**
 * Replays `minutes` one-minute batches (`eventsAt(m)` for minute m from `start`) through a fresh pipeline
 * on an in-memory store, in event time as `sentinel replay` does; returns the anomaly records, oldest first.
 * `listener` sees every incident change with the detection of the window that made it.
 */
export async function replayMinutes(start: number, minutes: number, eventsAt: (m: number) => LlmEvent[], listener?: AnomalyListener, env: Record<string, string> = {}): Promise<AnomalyRecord[]> {
  const store = new SqliteStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig(env, () => {}), store, log: createLogger('silent'), maxFutureMs: Infinity });
  if (listener) pipeline.onAnomaly(listener);
  for (let m = 0; m < minutes; m++) {
    pipeline.ingestEvents(eventsAt(m));
    await pipeline.idle();
  }
  pipeline.endOfInput();
  await pipeline.idle();
  const records = (await store.listAnomalies({ limit: 1000 })).items;
  await store.close();
  return records.sort((a, b) => a.start.localeCompare(b.start));
}
