import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { Config } from './config';
import type { Logger } from './logger';
import { SentinelMetrics } from './metrics';
import { Pipeline } from './pipeline/pipeline';
import { SeriesStateStore } from './pipeline/state-store';
import { buildServer } from './api/server';
import { otlpReceiver } from './otlp';
import { createStore } from './store';
import { attachExplainer, type ExplainQueue } from './explain/explain-queue';
import { explainRoutes } from './explain/explain-route';
import { attachAlerting, deadLetterRoutes, type Alerting } from './alerts';
import type { AlertDispatcher, DispatcherMemory } from './alerts/dispatcher';
import type { VectorStore } from './store/vector-store';
import { MstlPool } from './detectors/augurs';
import { DataDirWatch, LOCK_FILE, lockDataDir, type DataDirLock } from './data-dir';

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
 * nowhere else. Holds the data directory (see lockDataDir) until `close`; a second instance on it is
 * refused with a DataDirInUseError.
 */
export async function createApp(config: Readonly<Config>, log: Logger, deps: { store?: VectorStore; now?: () => number } = {}): Promise<App> {
  // Before anything opens a file there: a second instance on the directory would overwrite this one's state.
  const lock = lockDataDir(config.dataDir, log);
  try {
    return await assemble(config, log, deps, lock);
  } catch (err) {
    lock.release();
    throw err;
  }
}

async function assemble(config: Readonly<Config>, log: Logger, deps: { store?: VectorStore; now?: () => number }, lock: DataDirLock): Promise<App> {
  const store = deps.store ?? (await createStore(config, log));
  const metrics = new SentinelMetrics();
  // Seasonal fits (up to ~200 ms of WASM each) on a worker thread, so HTTP is never held by one.
  const fits = new MstlPool();
  const pipeline = new Pipeline({ config, store, log, metrics, now: deps.now, fits });
  const explain = attachExplainer({ config, log, store, metrics, onAnomaly: (l) => pipeline.onAnomaly(l) });
  // Watched once the files it checks are open (below).
  let dataDir: DataDirWatch | null = null;
  const http = await buildServer({
    config,
    log,
    pipeline,
    metrics,
    version: VERSION,
    dataDirProblem: () => dataDir?.problem() ?? null,
    plugins: [otlpReceiver({ config, target: pipeline, log, metrics, now: deps.now, admit: () => pipeline.admitIngest() }), explainRoutes(store, explain.queue)],
  });
  const alerting = await attachAlerting({ config, log, pipeline, metrics, now: deps.now }).catch(async (err: unknown) => {
    await http.close();
    await store.close();
    throw err;
  });
  // After the server's auth hook, like every route; before it listens (the caller starts it).
  deadLetterRoutes(alerting, metrics, async (id) => (await store.getAnomaly(id))?.status ?? null)(http);
  const tick = setInterval(() => pipeline.tick(), 1000);
  tick.unref();
  const state = persistState(config, log, pipeline, alerting.dispatcher);
  await state.pruneSuperseded(store);
  dataDir = new DataDirWatch(config.dataDir, [LOCK_FILE, ...(config.qdrantUrl ? [] : ['sentinel.db']), ...(state.keepsWindows ? ['series-state.db'] : [])]);
  // Confirmed anomalies whose windows wait in the restored quarantine must stay unlearnt.
  const confirmed = await pipeline.restoreVerdicts().catch((err: unknown) => {
    log.warn({ err }, 'verdicts of quarantined windows unreadable; confirmed anomalies among them may be learnt as normal');
    return 0;
  });
  if (confirmed) log.info({ anomalies: confirmed }, 'confirmed anomalies in quarantine restored');
  // Open before a crash (or before new settings), but the series state that would resolve them was not saved:
  // resolve them now, as state_lost. Not only those alerted (their receivers wait for a "resolved"): an
  // incident held back by a cooldown, or any incident without alert sinks, stayed open in the store forever
  // (QA), listed as open by the API and the plugin.
  const untracked = new Set(alerting.dispatcher?.alertedIncidents() ?? []);
  try {
    for (const id of await recentOpenIncidents(store, (deps.now ?? Date.now)())) untracked.add(id);
  } catch (err) {
    log.warn({ err }, 'open incidents of the last run unreadable; those no series state tracks stay open');
  }
  const n = await pipeline.resolveUntracked(untracked);
  if (n) log.warn({ incidents: n }, 'resolved incidents of the last run that no saved series state tracks (not saved before a crash, or new settings)');
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
      // Every step runs whatever the one before did: a full disk failed the pipeline's last pattern flush, and
      // the state save, the open windows and the alert flush after it were skipped (QA). The first failure
      // is rethrown at the end.
      let failure: unknown = null;
      const step = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          log.error({ err, step: name }, 'shutdown step failed; the next steps still run');
          failure ??= err;
        }
      };
      await step('stop alert intake', () => alerting.stopIntake());
      await step('close http', () => http.close());
      // With state saved to disk, the windows the service is in the middle of are saved too and continued
      // by the next start; scored now, cut short, they would read as a traffic drop.
      await step('score and flush', () => pipeline.shutdown({ keepUnfinished: state.keepsWindows, scoringBudgetMs: SHUTDOWN_SCORING_MS }));
      await step('stop seasonal fits', () => fits.close());
      await step('save series state', () => state.close());
      // After the shutdown: its last windows may open or resolve incidents whose alerts must still go out.
      await step('deliver alerts', () => alerting.close());
      await step('save alert state', () => state.finish());
      await step('stop explanations', () => explain.close());
      await step('close store', () => store.close());
      await step('release data directory', async () => lock.release());
      if (failure) throw failure;
    },
  };
}

/**
 * Ids of the open incidents in the store that were still going on in the last two days (an incident ends at
 * its last anomalous window; an outage, the longest held, resolves within a day of silence).
 */
async function recentOpenIncidents(store: VectorStore, now: number): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listAnomalies({ from: now - 2 * 86_400_000, limit: 500, ...(cursor ? { cursor } : {}) });
    for (const r of page.items) if (r.status === 'open') ids.push(r.id);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return ids;
}

/**
 * How long a shutdown goes on scoring the windows queued when it began. `serve` exits after 20 s whatever
 * happens (and alert deliveries get 10 s of it after the state is saved); a backlog of thousands of series'
 * windows took longer, and the process was killed before it saved any state. What is left is saved with
 * the open windows and scored first by the next start.
 */
const SHUTDOWN_SCORING_MS = 5_000;

/**
 * Series saved per SQLite transaction (here about 0.5 ms for a plain series, 54 KB, and 0.4 ms for an event
 * series, 260 KB, most of it the 720-entry score timeline); the event loop gets a turn between batches.
 */
const STATE_SAVE_BATCH = 20;

/** Name of the alert dispatcher's memory in series-state.db. */
const ALERTING_MEMORY = 'alerting';
/** How soon after an alert decision the dispatcher's memory is on disk (the rest of the state waits for the interval). */
const ALERT_MEMORY_DELAY_MS = 250;

/**
 * Restores the series state saved by the last run and saves what changed every SENTINEL_STATE_SAVE_SECONDS
 * and at shutdown (nothing when it is 0), with the alert dispatcher's memory (which incidents were alerted,
 * running cooldowns) so that an incident alerted before a restart still sends its "resolved" after it; that
 * memory is also written within 250 ms of every alert, so a crash keeps it too. A failed save is logged and
 * retried at the next interval: the state stays in memory meanwhile. At shutdown the windows still open are
 * saved as well, and the next start continues them (`keepsWindows`).
 */
function persistState(
  config: Readonly<Config>,
  log: Logger,
  pipeline: Pipeline,
  dispatcher: AlertDispatcher | null,
): { keepsWindows: boolean; pruneSuperseded(store: VectorStore): Promise<void>; close(): Promise<void>; finish(): Promise<void> } {
  if (config.stateSaveSeconds <= 0) return { keepsWindows: false, pruneSuperseded: async () => {}, close: async () => {}, finish: async () => {} };
  const store = SeriesStateStore.inDataDir(config.dataDir, (file, movedTo, err) =>
    log.error({ err, file, movedTo }, 'series state file damaged: moved aside; every series starts afresh (warm-up again)'),
  );
  // Window length and series key give the saved baselines their meaning; with others they are dropped.
  const kept = store.adopt(JSON.stringify({ windowMs: config.windowMs, seriesKey: config.seriesKey }));
  // Series that go quiet leave memory for this file, and come back from it (see Pipeline.persistTo).
  pipeline.persistTo(store);
  if (kept) {
    log.info({ series: pipeline.restoreState(store) }, 'series state restored');
    if (store.unreadableRows) log.warn({ rows: store.unreadableRows }, 'saved series states that did not decode were skipped; those series start afresh');
    const open = store.takeOpenWindows();
    if (open.windows.length) log.info(pipeline.restoreUnfinished(open.windows, open.eventTime), 'windows open at the last shutdown restored');
    const queued = store.takeQueuedPoints();
    if (queued.length) log.info(pipeline.restoreQueuedPoints(queued), 'points not scored at the last shutdown restored');
  } else log.warn('series state was saved with another SENTINEL_WINDOW or SENTINEL_SERIES_KEY; starting afresh');
  let closed = false;
  /** Writes the alert dispatcher's memory (alerted incidents, cooldowns, outbox) next to the series rows. */
  const saveAlerting = () => {
    if (dispatcher) store.saveValue(ALERTING_MEMORY, dispatcher.memory());
  };
  if (dispatcher) {
    try {
      const memory = store.loadValue(ALERTING_MEMORY) as DispatcherMemory | undefined;
      if (memory) log.info({ incidents: dispatcher.restore(memory) }, 'alert state restored');
    } catch (err) {
      log.warn({ err }, 'saved alert state unreadable; alerted incidents of the last run may send no "resolved"');
    }
    // A crash must not forget an alert that went out: written through within ALERT_MEMORY_DELAY_MS of a
    // change, one write for all the changes of an alert storm.
    let pending: NodeJS.Timeout | null = null;
    dispatcher.persistent = true;
    // A resend takes alerts out of the dead-letter file only after this wrote them into the saved outbox.
    dispatcher.saveMemory = () => {
      if (closed) throw new Error('the series state store is closed (shutting down)');
      saveAlerting();
    };
    dispatcher.onMemoryChange = () => {
      pending ??= setTimeout(() => {
        pending = null;
        if (closed) return;
        try {
          saveAlerting();
        } catch (err) {
          log.warn({ err }, 'saving alert state failed; retried at the next interval');
        }
      }, ALERT_MEMORY_DELAY_MS).unref();
    };
  }
  let saving: Promise<void> | null = null;
  const run = async (): Promise<void> => {
    try {
      let saved = 0;
      let n: number;
      do {
        n = pipeline.saveState(store, STATE_SAVE_BATCH);
        saved += n;
        if (n === STATE_SAVE_BATCH) await new Promise((r) => setImmediate(r));
      } while (n === STATE_SAVE_BATCH);
      saveAlerting();
      if (saved) log.debug({ series: saved }, 'series state saved');
    } catch (err) {
      log.warn({ err }, 'saving series state failed; retried at the next interval');
    }
  };
  // One save at a time. Cleared in a callback, i.e. after the assignment: a save with nothing to await
  // used to finish inside the assignment, leave `saving` set for good and turn every later save into a
  // no-op (the state was written once per process, and not at shutdown).
  const save = (): Promise<void> => (saving ??= run().finally(() => (saving = null)));
  const timer = setInterval(() => void save(), config.stateSaveSeconds * 1000);
  timer.unref();
  return {
    keepsWindows: true,
    /**
     * Deletes the patterns of the series whose state new settings dropped, before any window is scored:
     * learnt from windows of another length, they would pass for normal ones of the same key, and those of
     * keys that no longer exist stayed in the store forever (nothing prunes a key without state). A key is
     * crossed off only once its patterns are gone, so an interrupted start finishes the job at the next.
     */
    async pruneSuperseded(patterns: VectorStore) {
      const keys = store.supersededKeys();
      if (!keys.length) return;
      let deleted = 0;
      for (const key of keys) {
        deleted += (await patterns.prunePatterns(key, 'normal', 0)) + (await patterns.prunePatterns(key, 'incident', 0));
        store.supersededDone(key);
      }
      log.info({ series: keys.length, patterns: deleted }, 'patterns learnt under the previous SENTINEL_WINDOW / SENTINEL_SERIES_KEY deleted');
    },
    async close() {
      clearInterval(timer);
      await saving;
      await save();
      closed = true;
      pipeline.persistTo(null);
      try {
        const open = pipeline.takeUnfinished();
        store.saveOpenWindows(open.windows, open.eventTime);
        if (open.windows.length) log.info({ windows: open.windows.length }, 'open windows saved for the next start');
        store.saveQueuedPoints(open.points);
        if (open.points.length) log.info({ points: open.points.length }, 'points not scored saved for the next start');
      } catch (err) {
        log.warn({ err }, 'saving the open windows or queued points failed; they are not scored');
      }
    },
    async finish() {
      // After the alert sinks closed: the alerts still undelivered then stay in the outbox for the next start.
      try {
        saveAlerting();
      } catch (err) {
        log.warn({ err }, 'saving alert state failed; alerts not delivered at shutdown may be lost');
      }
      store.close();
    },
  };
}
