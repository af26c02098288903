import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config';
import type { Logger } from './logger';
import { SentinelMetrics } from './metrics';
import { Pipeline } from './pipeline/pipeline';
import { buildServer } from './api/server';
import { otlpReceiver } from './otlp';
import { createStore } from './store';
import { attachExplainer, type ExplainQueue } from './explain/explain-queue';
import { explainRoutes } from './explain/explain-route';
import { attachAlerting, type Alerting } from './alerts';
import type { VectorStore } from './store/vector-store';

/** Service version, from backend/package.json. */
export const VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** The assembled service: what `serve` runs and what tests start in-process. */
export interface App {
  config: Readonly<Config>;
  log: Logger;
  store: VectorStore;
  metrics: SentinelMetrics;
  pipeline: Pipeline;
  http: FastifyInstance;
  /** LLM explanations (null without SENTINEL_LLM_*). */
  explainer: ExplainQueue | null;
  /** Alert sinks, dead letters and the AMQP security-event consumer (each present only when configured). */
  alerting: Alerting;
  /** Closes windows, scores them, flushes and closes the store (nothing accepted is lost). */
  close(): Promise<void>;
}

/**
 * Composition root: one store, one metrics Registry, one pipeline, one HTTP server, wired here and
 * nowhere else.
 */
export async function createApp(config: Readonly<Config>, log: Logger, deps: { store?: VectorStore; now?: () => number } = {}): Promise<App> {
  const store = deps.store ?? (await createStore(config, log));
  const metrics = new SentinelMetrics();
  const pipeline = new Pipeline({ config, store, log, metrics, now: deps.now });
  const explain = attachExplainer({ config, log, store, metrics, onAnomaly: (l) => pipeline.onAnomaly(l) });
  const http = await buildServer({
    config,
    log,
    pipeline,
    metrics,
    version: VERSION,
    plugins: [otlpReceiver({ config, target: pipeline, log, metrics, now: deps.now }), explainRoutes(store, explain.queue)],
  });
  const alerting = await attachAlerting({ config, log, pipeline, metrics, now: deps.now }).catch(async (err: unknown) => {
    await http.close();
    await store.close();
    throw err;
  });
  const tick = setInterval(() => pipeline.tick(), 1000);
  tick.unref();
  let closed = false;
  return {
    config,
    log,
    store,
    metrics,
    pipeline,
    http,
    explainer: explain.queue,
    alerting,
    async close() {
      if (closed) return;
      closed = true;
      clearInterval(tick);
      await alerting.stopIntake();
      await http.close();
      await pipeline.shutdown();
      // After the shutdown: its last windows may open or resolve incidents whose alerts must still go out.
      await alerting.close();
      await explain.close();
      await store.close();
    },
  };
}
