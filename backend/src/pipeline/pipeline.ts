import type { Config } from '../config';
import type { AnomalyRecord, LlmEvent, SecurityEvent, SeriesPoint } from '../domain/types';
import { UnavailableError, ValidationError } from '../errors';
import type { MstlPool } from '../detectors/augurs';
import type { Detector } from '../detectors/types';
import { DEFAULT_DETECTORS } from '../detectors';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { VectorStore } from '../store/vector-store';
import type { Rejection } from '../ingest/parse';
import { WindowAccumulator } from '../windowing/features';
import { eventSeriesKey, pointSeriesKey } from '../windowing/series-key';
import { byStartThenKey, FINISHED_SHARE, MAX_GAP_WINDOWS, reopen, Windower, type ClosedWindow, type OpenWindow, type Unscored } from '../windowing/windower';
import { BandExport } from './band-export';
import { IncidentTracker, resolveRecord, type IncidentEvent } from './incidents';
import { PatternWriter } from './pattern-writer';
import { Scorer, type Detection, type Observation } from './scorer';
import { CredentialScrubber } from '../ingest/credentials';
import { isWarm, type SeriesState } from './series-state';
import type { DormantSummary, SeriesStateStore } from './state-store';

/** Longest stretch of scoring between two yields to the event loop. */
const YIELD_EVERY_MS = 4;
/**
 * Most patterns written in one store transaction by the scoring worker. Small: the first pattern of a
 * series allocates its vec0 partition chunk (~0.6 ms each), and a transaction cannot yield to HTTP.
 */
const FLUSH_EVERY = 16;

/**
 * Observations an anomalous window waits before its embedding joins the normal patterns (120 windows: 2 h
 * at 1-minute windows). Anomalous windows are never learnt at once, so an attack cannot teach itself in;
 * but behaviour that persists or recurs (a new daily ramp, a level shift) must become normal eventually,
 * as it already does for the median baselines within ~30 windows. Confirmed anomalies are never released.
 */
export const QUARANTINE_WINDOWS = 120;
/** Most windows quarantined per series; beyond it the oldest is dropped (never learnt). */
const MAX_QUARANTINE = 1024;
/** Retry-After of ingest refused while the scoring queue is full (SENTINEL_MAX_SCORING_QUEUE). */
const BACKLOG_RETRY_AFTER_MS = 5_000;
/** How often the wall-clock tick looks for plain series that stopped reporting. */
const STALE_SWEEP_MS = 5_000;
/** How often dormant series are checked against SENTINEL_DORMANT_RETENTION_DAYS (see forgetExpired). */
const FORGET_SWEEP_MS = 3_600_000;
/** Dormant series forgotten per sweep at most (the rest wait for the next one). */
const FORGET_BATCH = 1_000;
/** A plain series is stale after this many of its usual point intervals without a point (if longer than SENTINEL_STALE_SECONDS). */
const STALE_INTERVALS = 10;
/**
 * How long an outage (an incident whose last anomalous window had no traffic: the silence is the incident)
 * stays open without traffic before it resolves as stale: a model or key retired for good. Other incidents of
 * a series that goes quiet resolve as stale after its reported silence (MAX_GAP_WINDOWS windows); an outage
 * did too, and with 1-minute windows a PagerDuty incident resolved itself after an hour of a total outage
 * (QA). It resolves as recovered when traffic returns.
 */
const OUTAGE_STALE_MS = 24 * 3_600_000;

/**
 * Series key dimensions whose series come and go as clients do: with them in SENTINEL_SERIES_KEY, a series
 * that stops is usually a user or key that is done, so its stop resolves as stale after its reported silence
 * like any quiet series instead of being held open (and in memory) as an outage for a day; with 1,000 keys
 * that was 1,000 incidents open and ~260 MB of state held a day for ordinary churn.
 */
const CLIENT_DIMENSIONS: ReadonlySet<string> = new Set(['user', 'apiKeyId']);

/** The series' open incident is an outage still going on: its last window had no traffic and was anomalous. */
function ongoingOutage(s: SeriesState): boolean {
  return s.incident != null && (s.emptyRun ?? 0) > 0 && s.incident.lastAnomalousEnd === s.lastSeen;
}

/** Log message of an event series' incident resolved because the series went quiet. */
const EVENT_SERIES_STALE = 'event series silent for its longest reported gap; its incident resolved';

/** What ingest keeps of a plain series: its last point (event time), when it arrived (wall clock), its usual interval. */
interface PointSeries {
  /** Event time of its last accepted point: the next must be after it. */
  last: number;
  at: number;
  /** Moving average of the gaps between its points, each counted as at most 4x the average so far; NaN until the second point. */
  intervalMs: number;
  /** Found stale by the sweep and not heard from since. */
  stale: boolean;
}

/** A point of `p` accepted at `start` (event time), arriving at `now` (wall clock). */
function heard(p: PointSeries, start: number, now: number): void {
  const gap = start - p.last;
  p.last = start;
  p.at = now;
  p.stale = false;
  // One long outage must not make the series look slow for good.
  p.intervalMs = Number.isNaN(p.intervalMs) ? gap : p.intervalMs + (Math.min(gap, 4 * p.intervalMs) - p.intervalMs) * 0.1;
}

/** The observation of a closed event window (reads its features, computing them if still lazy). */
function windowObservation(w: ClosedWindow): Observation {
  return { seriesKey: w.seriesKey, labels: w.labels, kind: 'events', start: w.start, end: w.end, features: w.features, extras: w.extras };
}

/** Receives every incident change (alert sinks, explainers). Must not throw; errors are logged. */
export type AnomalyListener = (event: IncidentEvent, record: AnomalyRecord, detection: Detection | null) => void | Promise<void>;

/** Options of the {@link Pipeline}. */
export interface PipelineOptions {
  config: Readonly<Config>;
  store: VectorStore;
  log: Logger;
  metrics?: SentinelMetrics;
  detectors?: readonly Detector[];
  /**
   * Runs seasonal model fits off the event loop (the server passes one and closes it); without it they
   * run on the calling thread, which is what an offline replay wants.
   */
  fits?: MstlPool;
  /**
   * Largest event time accepted ahead of the wall clock, so one bad timestamp cannot close every window.
   * `Infinity` in offline replay. @default 300000
   */
  maxFutureMs?: number;
  /** Wall clock (tests and replays may pin it). @default Date.now */
  now?: () => number;
}

/** Outcome of an ingest call. */
export interface IngestResult {
  accepted: number;
  rejected: Rejection[];
}

/**
 * The detection pipeline: ingest -> windows -> scorer (embeddings, detectors, ensemble) -> learning and
 * incidents -> listeners. Windows are scored by one serial worker in time order, so series state is only
 * ever touched by one observation at a time; ingest itself only windows events and returns at once.
 */
export class Pipeline {
  readonly windower: Windower;
  readonly scorer: Scorer;
  private readonly incidents: IncidentTracker;
  private readonly writer: PatternWriter;
  private readonly listeners: AnomalyListener[] = [];
  /** Credentials in ingested telemetry become fingerprints before anything keeps them (ingest/credentials.ts). */
  private readonly credentials = new CredentialScrubber();
  /** Windows to score, in order; a closed window's features are computed when it is scored (LazyWindow). */
  private queue: QueueItem[] = [];
  /**
   * When shutdown's time for scoring runs out (performance.now() scale): the worker stops there, and what it
   * had not scored waits in `leftover` (event windows and points are saved for the next start, see takeUnfinished).
   */
  private stopScoringAt = Infinity;
  private leftover: QueueItem[] = [];
  /** The part of the queue the worker has taken, and the position of the item it is on (see scoringQueue). */
  private scoring: QueueItem[] = [];
  private scoringAt = 0;
  /** Ingest was last refused for a full scoring queue (logged when that begins and ends). */
  private refusing = false;
  private working: Promise<void> | null = null;
  private readonly pointSeries = new Map<string, PointSeries>();
  /** Points stamped ahead of the wall clock, in time order, waiting for it (see ingestPoints). */
  private early: SeriesPoint[] = [];
  private lastStaleSweep = -Infinity;
  /** When dormant series were last checked for retention (the first check is at the first sweep). */
  private lastForgetSweep = -Infinity;
  /** startedEarly.windows when last logged. */
  private startedEarlyLogged = 0;
  /** windowsSeen of each series at its last saveState. */
  private readonly savedSeen = new Map<string, number>();
  /** Some series was saved since the pooled calibration last was. */
  private pooledUnsaved = false;
  /** Anomalies confirmed by feedback: their quarantined windows never become normal. */
  private readonly confirmed = new Set<string>();
  /** Where the state of a series that has gone quiet is kept while it is out of memory (see persistTo). */
  private stateStore: SeriesStateStore | null = null;
  /** Quiet event series queued to sleep (see sweepStale). */
  private readonly toSleep = new Set<string>();
  /** Series brought back from disk whose quarantine's verdicts have not been read yet (see restoreVerdicts). */
  private readonly unverified = new Set<string>();
  private readonly now: () => number;
  /** Largest event time accepted ahead of the wall clock (PipelineOptions.maxFutureMs). */
  private readonly maxFutureMs: number;
  private lastAdvance: number;
  private lastWatermarkSeen = -Infinity;
  private failures = 0;
  /** Message of the last failed pattern write while writes keep failing (see flushPatterns). */
  private lastWriteError: string | null = null;
  private lastWriteErrorLogged = -Infinity;
  private readonly bands = new BandExport();
  /**
   * The band gauges are labelled by service and model only: with a finer series key (user, API key, route,
   * provider) many series share one label set and the gauges would show whichever closed a window last.
   * Then they are not exported (the plugin's score queries have every series' bands).
   */
  private readonly exportsBands: boolean;
  /** Outages are held open through their silence (see OUTAGE_STALE_MS): not for series per user or API key. */
  private readonly holdsOutages: boolean;

  constructor(private readonly opts: PipelineOptions) {
    const { config, store, log, metrics } = opts;
    this.now = opts.now ?? Date.now;
    this.maxFutureMs = opts.maxFutureMs ?? 300_000;
    this.lastAdvance = this.now();
    this.exportsBands = config.seriesKey.every((d) => d === 'service' || d === 'model');
    this.holdsOutages = !config.seriesKey.some((d) => CLIENT_DIMENSIONS.has(d));
    this.windower = new Windower({
      windowMs: config.windowMs,
      latenessMs: config.latenessMs,
      keyDimensions: config.seriesKey,
      maxSeries: config.maxSeries,
      otherSeries: () => this.pointSeries.size,
      // Live: event time stamped ahead of the wall clock does not close windows early. Replay: no clock.
      ...(Number.isFinite(this.maxFutureMs) ? { clock: this.now } : {}),
    });
    this.scorer = new Scorer({
      store,
      log,
      sensitivity: config.sensitivity,
      warmupWindows: config.warmupWindows,
      detectors: opts.detectors ?? DEFAULT_DETECTORS,
      onDetectorError: (d) => metrics?.detectorErrors.inc({ detector: d }),
      ...(opts.fits ? { fits: opts.fits } : {}),
    });
    this.incidents = new IncidentTracker(store, undefined, config.realertPoints);
    this.writer = new PatternWriter(store, { maxPerSeries: config.maxPatternsPerSeries });
    if (metrics) {
      metrics.scoreSource = () => this.scoreGaugeValues();
      metrics.bandSource = (which, set, remove) => this.bands.fill(which, set, remove);
    }
  }

  /** Registers a listener for incident changes. */
  onAnomaly(listener: AnomalyListener): void {
    this.listeners.push(listener);
  }

  get store(): VectorStore {
    return this.opts.store;
  }

  /** Windows a series needs before it may alert. */
  get warmupWindows(): number {
    return this.opts.config.warmupWindows;
  }

  /** Places validated events into windows; closed windows are queued for scoring. */
  ingestEvents(raw: readonly LlmEvent[], indexes?: readonly number[]): IngestResult {
    const events = this.credentials.events(raw);
    const rejected: Rejection[] = [];
    const limit = this.now() + this.maxFutureMs;
    let accepted = 0;
    const order = timeOrder(events);
    for (let k = 0; k < events.length; k++) {
      const i = order ? order[k] : k;
      const e = events[i];
      const index = indexes ? indexes[i] : i;
      if (e.timestamp > limit) {
        rejected.push(this.futureRejection(index));
        continue;
      }
      const why = this.windower.add(e);
      if (why) {
        rejected.push({
          index,
          field: why === 'late' ? 'timestamp' : 'service',
          message: why === 'late' ? 'late: its window has already closed' : 'too many series (SENTINEL_MAX_SERIES)',
        });
        this.opts.metrics?.eventsRejected.inc({ reason: why });
        continue;
      }
      accepted++;
    }
    this.opts.metrics?.eventsIngested.inc(accepted);
    this.enqueueWindows(this.windower.collect());
    return { accepted, rejected };
  }

  /**
   * Places security verdicts (e.g. from the RabbitMQ consumer) into the windows of their series. Returns
   * what was refused, like ingestEvents; a verdict's `model` may be absent (then it joins the series with
   * no model label when model is a key dimension).
   */
  ingestSecurityEvents(raw: readonly SecurityEvent[]): IngestResult {
    const events = this.credentials.events(raw);
    const rejected: Rejection[] = [];
    let accepted = 0;
    const limit = this.now() + this.maxFutureMs;
    events.forEach((e, index) => {
      const why = e.timestamp > limit ? 'future' : this.windower.addSecurity(e);
      if (why) {
        rejected.push({ index, field: why === 'series_limit' ? 'service' : 'timestamp', message: why });
        this.opts.metrics?.eventsRejected.inc({ reason: why });
      } else accepted++;
    });
    this.enqueueWindows(this.windower.collect());
    return { accepted, rejected };
  }

  /**
   * Queues validated points of plain series, refusing ones not after their series' last point or too far
   * ahead of the clock. A point stamped ahead of the wall clock (a client clock that runs fast) is accepted
   * and waits until the clock reaches it (see {@link tick}), as an early event waits in its own window:
   * taken at once, it made every on-time point of its series "not after the previous point" for minutes (QA).
   */
  ingestPoints(raw: readonly SeriesPoint[], indexes?: readonly number[]): IngestResult {
    const points = this.credentials.points(raw);
    const rejected: Rejection[] = [];
    let accepted = 0;
    const now = this.now();
    // In time order, as for events: a batch that lists a series' points newest first refused all but one.
    const order = timeOrder(points);
    for (let k = 0; k < points.length; k++) {
      const i = order ? order[k] : k;
      const index = indexes ? indexes[i] : i;
      // As for events: one point stamped a year ahead would refuse every real point of its series until then.
      if (points[i].timestamp > now + this.maxFutureMs) {
        rejected.push(this.futureRejection(index));
        continue;
      }
      if (Number.isFinite(this.maxFutureMs) && points[i].timestamp > now) {
        this.early.push(points[i]);
        accepted++;
        continue;
      }
      const why = this.admitPoint(points[i], now);
      if (why) rejected.push({ index, ...why });
      else accepted++;
    }
    if (this.early.length) this.early.sort((a, b) => a.timestamp - b.timestamp);
    this.opts.metrics?.pointsIngested.inc(accepted);
    this.kick();
    return { accepted, rejected };
  }

  /** Queues one point for scoring; what was wrong with it otherwise (counted in sentinel_events_rejected_total). */
  private admitPoint(p: SeriesPoint, now: number): Omit<Rejection, 'index'> | null {
    const obs = this.pointObservation(p);
    let known = this.pointSeries.get(obs.seriesKey);
    // Back from a silence: stale (the sweep saw it quiet), or dormant (its state was on disk).
    let resumed = known?.stale === true;
    if (!known) {
      known = this.revivePoints(obs.seriesKey, now);
      resumed = known !== undefined;
    }
    if (known !== undefined && obs.start <= known.last) {
      this.opts.metrics?.eventsRejected.inc({ reason: 'out_of_order' });
      return { field: 'timestamp', message: 'not after the previous point of this series' };
    }
    if (known === undefined && this.pointSeries.size + this.windower.liveSeriesCount >= this.opts.config.maxSeries) {
      this.opts.metrics?.eventsRejected.inc({ reason: 'series_limit' });
      return { field: 'series', message: 'too many series (SENTINEL_MAX_SERIES)' };
    }
    if (known) heard(known, obs.start, now);
    else this.pointSeries.set(obs.seriesKey, { last: obs.start, at: now, intervalMs: NaN, stale: false });
    this.queue.push({ obs: resumed ? { ...obs, resumed: true } : obs, queuedAt: now });
    return null;
  }

  /**
   * Points accepted ahead of the wall clock whose time has come (all of them at the end of input), in time
   * order. One refused now (an on-time point of its series came after it) is counted, not reported: its
   * request was answered when it arrived.
   */
  private releaseEarly(upTo: number): void {
    let n = 0;
    while (n < this.early.length && this.early[n].timestamp <= upTo) n++;
    if (!n) return;
    const now = this.now();
    for (const p of this.early.splice(0, n)) this.admitPoint(p, now);
    this.kick();
  }

  /** A dormant plain series coming back: its state returns to memory, with its last point for the order check. */
  private revivePoints(key: string, now: number): PointSeries | undefined {
    const s = this.revive(key);
    if (!s) return undefined;
    const a: PointSeries = { last: s.lastSeen, at: now, intervalMs: NaN, stale: false };
    this.pointSeries.set(key, a);
    return a;
  }

  /** The rejection of a record stamped more than maxFutureMs ahead of the clock (counted as 'future'). */
  private futureRejection(index: number): Rejection {
    this.opts.metrics?.eventsRejected.inc({ reason: 'future' });
    return { index, field: 'timestamp', message: `more than ${Math.round(this.maxFutureMs / 1000)} s in the future` };
  }

  private pointObservation(p: SeriesPoint): Observation {
    const key = pointSeriesKey(p.series, p.labels);
    return { seriesKey: key, labels: { series: p.series, ...p.labels }, kind: 'points', start: p.timestamp, end: p.timestamp, features: Float64Array.of(p.value) };
  }

  /**
   * Wall-clock tick (the server calls it every second): when no event has moved event time for a window
   * plus the lateness, event time is advanced with the wall clock so the last windows of a quiet stream
   * still close.
   */
  tick(): void {
    const now = this.now();
    this.releaseEarly(now);
    this.sweepStale(now);
    const wm = this.windower.eventTime;
    const idle = now - this.lastAdvance;
    const { windowMs, latenessMs } = this.opts.config;
    if (wm !== this.lastWatermarkSeen) {
      this.lastWatermarkSeen = wm;
      this.lastAdvance = now;
    } else if (Number.isFinite(wm) && idle >= windowMs + latenessMs) {
      this.windower.advanceTo(wm + idle);
      this.lastWatermarkSeen = this.windower.eventTime;
      this.lastAdvance = now;
    }
    // Every tick: when events were stamped ahead of the wall clock, the watermark follows the clock.
    this.enqueueWindows(this.windower.collect());
  }

  /**
   * Plain series that have sent nothing for SENTINEL_STALE_SECONDS (or STALE_INTERVALS of their usual
   * interval, when longer) are stale: their score leaves the exported gauge, and an incident they have open
   * is queued to resolve (in queue order, so a point that arrived before it is scored first); then their
   * state leaves memory (see {@link persistTo}). Event series need none of that (their empty windows close
   * by the tick and resolve incidents the usual way), but they too leave memory once quiet.
   */
  private sweepStale(now: number): void {
    if (now - this.lastStaleSweep < STALE_SWEEP_MS) return;
    this.lastStaleSweep = now;
    const staleMs = this.opts.config.staleSeconds * 1000;
    let queued = false;
    for (const [key, a] of staleMs > 0 ? this.pointSeries : []) {
      if (a.stale || now - a.at <= Math.max(staleMs, STALE_INTERVALS * (a.intervalMs || 0))) continue;
      a.stale = true;
      if (this.scorer.states.get(key)?.incident || this.stateStore) {
        this.queue.push({ staleKey: key, queuedAt: now });
        queued = true;
      }
    }
    for (const s of this.scorer.states.values()) {
      // Without a store to sleep in, only a quiet series' open incident (an outage a day old) has to go.
      if (s.kind !== 'events' || (!this.stateStore && !s.incident) || this.toSleep.has(s.key) || !this.quietEventSeries(s)) continue;
      this.toSleep.add(s.key);
      this.queue.push({ sleepKey: s.key, queuedAt: now });
      queued = true;
    }
    if (this.forgetExpired(now)) queued = true;
    if (queued) this.kick();
  }

  /**
   * Queues the series that have been dormant for longer than SENTINEL_DORMANT_RETENTION_DAYS to be forgotten
   * (checked hourly). A key or user seen once last quarter otherwise keeps its saved state (~54-260 KB) and
   * its patterns forever. Returns whether anything was queued.
   */
  private forgetExpired(now: number): boolean {
    const days = this.opts.config.dormantRetentionDays;
    if (!this.stateStore || !(days > 0) || now - this.lastForgetSweep < FORGET_SWEEP_MS) return false;
    this.lastForgetSweep = now;
    let keys: string[];
    try {
      keys = this.stateStore.expiredDormant(now - days * 86_400_000, FORGET_BATCH);
    } catch (err) {
      this.opts.log.warn({ err }, 'reading dormant series for retention failed');
      return false;
    }
    for (const key of keys) this.queue.push({ forgetKey: key, queuedAt: now });
    return keys.length > 0;
  }

  /**
   * Forgets a long-dormant series (in queue order, so it cannot race its own return): its patterns are
   * deleted first, then its saved state, so an interruption leaves a dormant row to try again, never
   * patterns that no state refers to. A series that came back since it was queued is kept.
   */
  private async forget(key: string, queuedAt: number): Promise<void> {
    if (!this.stateStore || this.scorer.states.has(key)) return;
    const before = queuedAt - this.opts.config.dormantRetentionDays * 86_400_000;
    if (!this.stateStore.isExpired(key, before)) return;
    const patterns = (await this.opts.store.prunePatterns(key, 'normal', 0)) + (await this.opts.store.prunePatterns(key, 'incident', 0));
    if (!this.stateStore.forget(key, before)) return;
    this.opts.metrics?.seriesForgotten.inc();
    this.opts.log.info({ seriesKey: key, patterns }, 'dormant series forgotten (SENTINEL_DORMANT_RETENTION_DAYS)');
  }

  /**
   * An event series has been quiet for as long as the windower reports silences (MAX_GAP_WINDOWS windows
   * after its last window with traffic, plus one and the lateness, by event time) and has no window open:
   * also true of a series that went quiet across a restart, which gets no empty windows at all.
   */
  private quietEventSeries(s: SeriesState): boolean {
    const { windowMs, latenessMs } = this.opts.config;
    const silence = this.windower.eventTime - (s.lastSeen - (s.emptyRun ?? 0) * windowMs);
    if (this.holdsOutages && ongoingOutage(s) && silence < OUTAGE_STALE_MS) return false;
    return s.windowsSeen > 0 && silence >= (MAX_GAP_WINDOWS + 1) * windowMs + latenessMs && !this.windower.hasOpen(s.key);
  }

  /** A quiet event series (see sweepStale), checked again in queue order: its incident resolves, it sleeps. */
  private async sleepIfQuiet(key: string): Promise<void> {
    this.toSleep.delete(key);
    const state = this.scorer.states.get(key);
    if (!state || !this.quietEventSeries(state)) return;
    await this.resolveStaleIncident(state, EVENT_SERIES_STALE);
    this.putToSleep(state);
  }

  private async resolveStale(key: string): Promise<void> {
    const state = this.scorer.states.get(key);
    // A point that arrived after the sweep queued this is scored next, against the open incident.
    if (!state || !this.pointSeries.get(key)?.stale) return;
    await this.resolveStaleIncident(state, 'plain series stopped reporting; its incident resolved');
    if (this.putToSleep(state)) this.pointSeries.delete(key);
  }

  /**
   * Where series that go quiet are kept out of memory: an event series after its longest reported silence
   * (MAX_GAP_WINDOWS empty windows), a plain series once stale, each with its incident resolved. Its state
   * is saved there as dormant and dropped from memory; when the series comes back, the state is read back
   * and it carries on where it stopped (baselines, calibration, hold-off, daily profile). With series keyed
   * by user or API key, keys come and go all day, and each kept ~80-260 KB of state in memory (and was
   * loaded at every start) for as long as the service ran. Without a store (state saving off, replays),
   * states stay in memory.
   */
  persistTo(store: SeriesStateStore | null): void {
    this.stateStore = store;
  }

  /** Saves a quiet series' state as dormant and drops it from memory; false (kept) without a store or on error. */
  private putToSleep(state: SeriesState): boolean {
    if (!this.stateStore || state.incident) return false;
    try {
      this.stateStore.save([state], null, this.now(), true);
    } catch (err) {
      this.opts.log.warn({ err, seriesKey: state.key }, 'saving a quiet series failed; its state stays in memory');
      return false;
    }
    this.scorer.states.delete(state.key);
    // Out of memory, it leaves sentinel_anomaly_score (computed from the states in memory): its bands go too.
    if (state.kind === 'events') this.bands.drop(state.labels.service ?? '', state.labels.model ?? '');
    this.savedSeen.delete(state.key);
    this.unverified.delete(state.key);
    this.opts.store.releaseSeries?.(state.key);
    this.opts.metrics?.seriesSlept.inc({ kind: state.kind });
    return true;
  }

  /** A dormant series' state back in memory (null when there is none); see {@link persistTo}. */
  private revive(key: string): SeriesState | null {
    if (!this.stateStore) return null;
    let s: SeriesState | null;
    try {
      s = this.stateStore.revive(key);
    } catch (err) {
      this.opts.log.warn({ err, seriesKey: key }, 'reading a dormant series failed; it starts afresh');
      return null;
    }
    if (!s) return null;
    this.scorer.states.set(key, s);
    this.savedSeen.set(key, s.windowsSeen);
    if (s.quarantine.some((w) => w.anomalyId)) this.unverified.add(key);
    this.opts.metrics?.seriesRevived.inc({ kind: s.kind });
    return s;
  }

  /** A series' state for reading (POST /detect, score queries): in memory, else dormant on disk, else null. */
  peekState(key: string): SeriesState | null {
    const s = this.scorer.states.get(key);
    if (s) return s;
    try {
      return this.stateStore?.peek(key) ?? null;
    } catch {
      return null;
    }
  }

  /** Series whose state is on disk only, last seen at or after `since`, most recent first (see persistTo). */
  dormantSeries(since?: number, limit?: number): DormantSummary[] {
    try {
      return this.stateStore?.dormant(since, limit) ?? [];
    } catch (err) {
      this.opts.log.warn({ err }, 'reading dormant series failed');
      return [];
    }
  }

  /** Resolves a silent series' open incident as stale (if it has one) and tells the listeners. */
  private async resolveStaleIncident(state: SeriesState, message: string): Promise<void> {
    const change = await this.incidents.resolveStale(state);
    if (!change) return;
    this.opts.metrics?.openIncidents.dec();
    this.opts.log.info({ seriesKey: state.key, anomalyId: change.record.id }, message);
    await this.emit('resolved', change.record, null);
  }

  /**
   * End of an offline input (or of the service): every window that has ended by the last event time is
   * scored, with the empty windows of trailing silences; the window each series' input ends inside of is
   * scored only when the input covers FINISHED_SHARE of it, and otherwise left out and counted (its events
   * are in the returned count, not in any score). With `keepUnfinished`, every such window stays open
   * instead, for {@link takeUnfinished} to save and the next run to continue.
   */
  endOfInput(opts: { keepUnfinished?: boolean } = {}): Unscored {
    this.releaseEarly(Infinity);
    const closed = this.windower.closeEnded();
    const unscored: Unscored = { windows: 0, events: 0 };
    if (!opts.keepUnfinished) for (const o of this.windower.takeOpen()) this.closeOrCount(o, closed, unscored);
    closed.sort(byStartThenKey);
    this.enqueueWindows(closed);
    if (unscored.windows) {
      this.opts.log.info(unscored, `the input ended early in ${unscored.windows} window(s): covered less than ${FINISHED_SHARE * 100} % of them, they are not scored`);
    }
    return unscored;
  }

  /**
   * A window no event will come for any more: its silence before it goes to `closed` either way, the window
   * itself only when FINISHED_SHARE of it was covered; otherwise it is counted in `unscored`.
   */
  private closeOrCount(o: OpenWindow, closed: ClosedWindow[], unscored: Unscored): void {
    const whole = o.share >= FINISHED_SHARE;
    closed.push(...this.windower.closeTaken(o, whole));
    if (!whole) {
      unscored.windows++;
      unscored.events += o.acc.count;
    }
  }

  /**
   * Takes the windows still open (after `endOfInput({ keepUnfinished: true })`) to save them, with the event
   * time; with them the closed windows a shutdown ran out of time to score (whole windows: the next start
   * scores them first), and the plain-series points it did not score (for {@link restoreQueuedPoints}).
   */
  takeUnfinished(): { windows: OpenWindow[]; eventTime: number; points: SeriesPoint[] } {
    const windows = this.windower.takeOpen();
    const points: SeriesPoint[] = [];
    for (const item of this.leftover) {
      const o = item.window && reopen(item.window);
      if (o) windows.push(o);
      else if (item.obs?.kind === 'points') points.push(pointOf(item.obs));
    }
    this.leftover = [];
    windows.sort(byStartThenKey);
    // Not the raw largest event time: one client stamping minutes ahead made every live event of every
    // series late for those minutes after a restart (QA).
    return { windows, eventTime: this.windower.clockedTime, points };
  }

  /**
   * Puts back the points a previous run accepted but had no time left to score at shutdown (see
   * {@link takeUnfinished}; call after restoreState, before anything is ingested): they are admitted again in
   * their order and scored first. A client that was answered 202 does not send them again.
   */
  restoreQueuedPoints(points: readonly SeriesPoint[]): { restored: number; refused: number } {
    const now = this.now();
    let restored = 0;
    for (const p of points) if (!this.admitPoint(p, now)) restored++;
    this.kick();
    return { restored, refused: points.length - restored };
  }

  /**
   * Puts back windows a previous run saved at shutdown (call after restoreState, before anything is
   * ingested). A window whose time ran out while the service was down (its end plus the lateness has passed)
   * gets nothing more: it is closed now, by the end-of-input rule (scored when the last run saw at least
   * FINISHED_SHARE of it). The others stay open for the events that come.
   */
  restoreUnfinished(windows: readonly OpenWindow[], eventTime: number): { restored: number; closed: number; unscored: Unscored } {
    const { windowMs, latenessMs } = this.opts.config;
    const deadline = this.now() - windowMs - latenessMs;
    const live: OpenWindow[] = [];
    const closed: ClosedWindow[] = [];
    const unscored: Unscored = { windows: 0, events: 0 };
    for (const o of windows) {
      if (o.start > deadline) live.push(o);
      else this.closeOrCount(o, closed, unscored);
    }
    const restored = this.windower.restoreOpen(live, eventTime);
    this.enqueueWindows(closed);
    return { restored, closed: closed.length, unscored };
  }

  private enqueueWindows(windows: ClosedWindow[]): void {
    const early = this.windower.startedEarly;
    if (early.windows !== this.startedEarlyLogged) {
      this.startedEarlyLogged = early.windows;
      this.opts.log.info(early, `windows that began before the intake did and were covered less than ${FINISHED_SHARE * 100} % are not scored`);
    }
    if (windows.length === 0) return;
    const now = this.now();
    for (const window of windows) this.queue.push({ window, queuedAt: now });
    this.kick();
  }

  private kick(): void {
    if (!this.working && this.queue.length) {
      this.working = this.work().finally(() => {
        this.working = null;
        if (this.queue.length) this.kick();
      });
    }
  }

  private async work(): Promise<void> {
    let slice = performance.now();
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      this.scoring = batch;
      for (let i = 0; i < batch.length; i++) {
        const item = batch[i];
        this.scoringAt = i;
        if (performance.now() >= this.stopScoringAt) {
          // A loop, not push(...): a backlog of 100k+ windows as call arguments overflowed the stack (QA).
          for (let j = i; j < batch.length; j++) this.leftover.push(batch[j]);
          for (const rest of this.queue) this.leftover.push(rest);
          this.queue = [];
          break;
        }
        // Scoring runs in microtasks (the embedded store is synchronous): without a macrotask break now
        // and then, a burst of closed windows would hold HTTP (and the Prometheus scrape) for its whole
        // duration. Order is unchanged: windows still go one at a time, in queue order.
        if (performance.now() - slice > YIELD_EVERY_MS) {
          await new Promise<void>((resolve) => setImmediate(resolve));
          slice = performance.now();
        }
        try {
          if (item.staleKey !== undefined) {
            await this.resolveStale(item.staleKey);
            continue;
          }
          if (item.sleepKey !== undefined) {
            await this.sleepIfQuiet(item.sleepKey);
            continue;
          }
          if (item.forgetKey !== undefined) {
            await this.forget(item.forgetKey, item.queuedAt);
            continue;
          }
          // A series' patterns are written before its next window is scored; beyond that, writes go in
          // transactions of at most FLUSH_EVERY patterns, so a burst of windows (every series closing a
          // window at once) does not become one long transaction that holds the event loop. Windows
          // only search their own series, so when other series' patterns land does not change a score.
          const obs = item.obs ?? windowObservation(item.window!);
          if (this.writer.hasPending(obs.seriesKey) || this.writer.pendingCount >= FLUSH_EVERY) await this.flushPatterns();
          await this.process(obs, item.queuedAt);
        } catch (err) {
          this.failures++;
          this.opts.log.error({ err, seriesKey: item.obs?.seriesKey ?? item.window?.seriesKey ?? item.staleKey ?? item.sleepKey ?? item.forgetKey }, 'scoring a window failed');
        }
      }
      this.scoring = [];
      this.scoringAt = 0;
      await this.flushPatterns();
    }
  }

  /**
   * Writes pending patterns. A failed write (a full disk, a read-only file) keeps them pending (the writer's
   * buffer is bounded) and scoring goes on without the newest patterns: it used to throw for every later
   * window of the series, so detection and alerting stopped while ingest still said 202 (QA). Logged at most
   * once a minute; {@link storeWriteError} tells health.
   */
  private async flushPatterns(): Promise<void> {
    try {
      await this.writer.flush();
      this.lastWriteError = null;
    } catch (err) {
      const now = Date.now();
      if (!this.lastWriteError || now - this.lastWriteErrorLogged >= 60_000) {
        this.opts.log.error({ err, pending: this.writer.pendingCount }, 'writing patterns failed; scoring goes on without them (logged once a minute)');
        this.lastWriteErrorLogged = now;
      }
      this.lastWriteError = err instanceof Error ? err.message : String(err);
    }
  }

  /**
   * What waits to be scored: closed windows, points and queued series sweeps (the item being scored counts
   * until it is done), and how long the oldest of them has waited (0 when none), by the pipeline's clock.
   */
  get scoringQueue(): { queued: number; oldestAgeMs: number } {
    const inBatch = this.scoring.length - this.scoringAt;
    const oldest = inBatch > 0 ? this.scoring[this.scoringAt] : this.queue[0];
    return { queued: inBatch + this.queue.length, oldestAgeMs: oldest ? Math.max(0, this.now() - oldest.queuedAt) : 0 };
  }

  /** SENTINEL_MAX_SCORING_QUEUE: from this many items in the scoring queue ingest is refused (see admitIngest). */
  get maxScoringQueue(): number {
    return this.opts.config.maxScoringQueue;
  }

  /**
   * Called before an ingest request is read: throws UnavailableError (503 `scoring_backlog`, Retry-After)
   * while the scoring queue is full. Closed windows wait there to be scored one at a time, and with thousands
   * of series on short windows they can close faster than they are scored: the queue (and memory) grew without
   * bound while ingest answered 202. Nothing already accepted is dropped; the windows still open keep
   * collecting the requests that were taken, and close and queue as usual. One request may take the queue
   * past the bound (it is checked before, not after): the bound is on growth, not an exact size.
   */
  admitIngest(): void {
    const { queued } = this.scoringQueue;
    const full = queued >= this.opts.config.maxScoringQueue;
    if (full !== this.refusing) {
      this.refusing = full;
      if (full) this.opts.log.warn({ queued, limit: this.opts.config.maxScoringQueue }, 'scoring is behind: ingest refused with 503 until the scoring queue drains (SENTINEL_MAX_SCORING_QUEUE)');
      else this.opts.log.info({ queued }, 'scoring queue drained below SENTINEL_MAX_SCORING_QUEUE: ingest accepted again');
    }
    if (full) {
      throw new UnavailableError(`scoring is behind: ${queued} windows and points wait to be scored (SENTINEL_MAX_SCORING_QUEUE is ${this.opts.config.maxScoringQueue}); nothing accepted is lost, retry later`, {
        code: 'scoring_backlog',
        retryAfterMs: BACKLOG_RETRY_AFTER_MS,
      });
    }
  }

  /** Why the last pattern write failed, while writes keep failing (null once one succeeds): for health. */
  get storeWriteError(): string | null {
    return this.lastWriteError;
  }

  private async process(obs: Observation, queuedAt: number): Promise<Detection> {
    if (!this.scorer.states.has(obs.seriesKey)) this.revive(obs.seriesKey);
    if (this.unverified.delete(obs.seriesKey)) {
      await this.readVerdicts([this.scorer.states.get(obs.seriesKey)!]).catch((err: unknown) => {
        this.opts.log.warn({ err, seriesKey: obs.seriesKey }, 'verdicts of a returning series unreadable; confirmed anomalies in its quarantine may be learnt as normal');
      });
    }
    const d = await this.scorer.evaluate(obs);
    this.scorer.commit(d);
    const m = this.opts.metrics;
    if (!d.held) this.learn(d);
    const change = await this.incidents.observe(d);
    this.quarantine(d, change?.record.id ?? d.state.incident?.anomalyId ?? null);
    if (m) {
      m.windowsScored.inc({ kind: obs.kind });
      m.detectionLatency.observe((this.now() - queuedAt) / 1000);
      if (obs.kind === 'events') this.exportBands(d);
      if (change?.event === 'opened') {
        m.anomaliesDetected.inc({ severity: change.record.severity, type: change.record.type });
        m.openIncidents.inc();
      } else if (change?.reopened) m.openIncidents.inc();
      else if (change?.event === 'resolved') m.openIncidents.dec();
    }
    if (change) await this.emit(change.event, change.record, d);
    // An event series silent for as long as the windower reports its silence is gone (a retired model, a
    // key no longer used): its incident resolves as stale, as a plain series' does, rather than stay open;
    // unless the silence is the incident (an outage: see OUTAGE_STALE_MS). Once, at the last window of the
    // reported silence: the empty windows of a gap a returning series brings are not that.
    if (obs.kind === 'events' && d.state.emptyRun === MAX_GAP_WINDOWS && !(this.holdsOutages && ongoingOutage(d.state))) {
      await this.resolveStaleIncident(d.state, EVENT_SERIES_STALE);
    }
    return d;
  }

  /** A normal window becomes a pattern, unless a near-identical one is already stored. */
  private learn(d: Detection): void {
    // A subsequence across a silence is the join of two stretches, not a shape the series has.
    if (d.acrossGap) return;
    const nearest = d.neighbours[0]?.distance ?? Infinity;
    if (nearest < 1e-3) return;
    this.addPattern(d.state.key, d.observation.start, d.vector);
  }

  private addPattern(seriesKey: string, start: number, vector: Float32Array): void {
    const ok = this.writer.add({ id: `${seriesKey}@${start}`, seriesKey, kind: 'normal', timestamp: start, vector });
    if (ok) this.opts.metrics?.patternsWritten.inc();
    else this.opts.metrics?.patternsDropped.inc();
  }

  /**
   * Tags the window just quarantined by the scorer with its anomaly id, and releases the windows that have
   * waited QUARANTINE_WINDOWS observations: unless confirmed, their embeddings become normal patterns (held
   * windows never teach calibration; see Scorer.commit).
   */
  private quarantine(d: Detection, anomalyId: string | null): void {
    const q = d.state.quarantine;
    if (d.held && q.length) q[q.length - 1].anomalyId = anomalyId;
    for (const w of this.scorer.releaseQuarantine(d.state, QUARANTINE_WINDOWS, (id) => this.confirmed.has(id), MAX_QUARANTINE)) {
      this.addPattern(d.state.key, w.start, w.vector);
    }
  }

  private exportBands(d: Detection): void {
    if (!this.exportsBands) return;
    const service = d.state.labels.service ?? '';
    const model = d.state.labels.model ?? '';
    const b = d.input.baseline;
    const x = d.observation.features;
    this.bands.record(service, model, d.state.featureNames, (v) => {
      const f = x.length;
      for (let j = 0; j < f; j++) {
        const half = d.zThresholds[j] * b.scale[j];
        v[j] = x[j];
        v[f + j] = b.center[j];
        v[2 * f + j] = Math.max(0, b.center[j] - half);
        v[3 * f + j] = b.center[j] + half;
      }
    });
  }

  /**
   * Resolves the open incidents among `anomalyIds` that no series state tracks: their series' state was not
   * saved before a crash (or was dropped for new settings), so nothing would ever resolve them, and the
   * alerts they sent would stay open at the receivers. Listeners see a `resolved` event (without a
   * detection). Returns how many were resolved.
   */
  async resolveUntracked(anomalyIds: Iterable<string>): Promise<number> {
    const tracked = new Set<string>();
    for (const s of this.scorer.states.values()) if (s.incident) tracked.add(s.incident.anomalyId);
    let n = 0;
    for (const id of anomalyIds) {
      if (tracked.has(id)) continue;
      const change = await resolveRecord(this.opts.store, id, 'state_lost');
      if (!change) continue;
      await this.emit('resolved', change.record, null);
      n++;
    }
    return n;
  }

  private async emit(event: IncidentEvent, record: AnomalyRecord, d: Detection | null): Promise<void> {
    for (const l of this.listeners) {
      try {
        await l(event, record, d);
      } catch (err) {
        this.opts.log.error({ err, anomalyId: record.id }, 'anomaly listener failed');
      }
    }
  }

  private *scoreGaugeValues(): Iterable<{ service: string; model: string; signal: string; score: number }> {
    const max = new Map<string, { service: string; model: string; signal: string; score: number }>();
    for (const s of this.scorer.states.values()) {
      // A series in warm-up cannot alert, so its score would only make alert rules fire for nothing; a plain
      // series that stopped reporting has no current score.
      if (!isWarm(s, this.opts.config.warmupWindows) || this.pointSeries.get(s.key)?.stale) continue;
      const service = s.labels.service ?? '';
      const model = s.labels.model ?? (s.kind === 'points' ? s.labels.series : '');
      // `overall` is the ensemble's score; each detector's calibrated score is a signal of its own, for
      // dashboards and rules about one kind of evidence (e.g. llm_rules).
      const signals: [string, number][] = [['overall', s.lastScore], ...Object.entries(s.lastDetectors)];
      for (const [signal, score] of signals) {
        if (!Number.isFinite(score)) continue;
        const k = `${service}\u0000${model}\u0000${signal}`;
        const cur = max.get(k);
        if (!cur || score > cur.score) max.set(k, { service, model, signal, score });
      }
    }
    yield* max.values();
  }

  /** Resolves when everything queued so far has been scored and flushed. */
  async idle(): Promise<void> {
    while (this.working || this.queue.length) {
      this.kick();
      await this.working;
    }
  }

  /** Scoring failures since start (for health). */
  get failureCount(): number {
    return this.failures;
  }

  /**
   * POST /detect: scores events as one window (or one point) against the history of their series,
   * without storing or learning anything.
   */
  async detectEvents(raw: readonly LlmEvent[]): Promise<Detection> {
    const events = this.credentials.events(raw);
    if (events.length === 0) throw new ValidationError('events must hold at least one event', { field: 'events' });
    const { key, labels } = eventSeriesKey(events[0], this.opts.config.seriesKey);
    const acc = new WindowAccumulator();
    let start = Infinity;
    let end = -Infinity;
    for (const [i, e] of events.entries()) {
      if (eventSeriesKey(e, this.opts.config.seriesKey).key !== key) {
        throw new ValidationError('all events of one detect call must belong to one series', { field: `events.${i}`, index: i });
      }
      acc.add(e);
      start = Math.min(start, e.timestamp);
      end = Math.max(end, e.timestamp);
      // The window is scored against the series' windows: three hours of events in one would read as a
      // burst of three hours' traffic.
      if (end - start >= this.opts.config.windowMs) {
        throw new ValidationError(`the events of one detect call must fit in one window (${this.opts.config.windowMs / 1000} s, SENTINEL_WINDOW)`, {
          field: `events.${i}.timestamp`,
          index: i,
        });
      }
    }
    const obs: Observation = { seriesKey: key, labels, kind: 'events', start, end: Math.max(end, start + 1), features: acc.features(), extras: acc.extras() };
    await this.idle();
    return this.scorer.evaluate(obs, this.peekState(key) ?? this.scorer.newState(obs));
  }

  async detectPoint(raw: SeriesPoint): Promise<Detection> {
    const obs = this.pointObservation(this.credentials.point(raw));
    await this.idle();
    return this.scorer.evaluate(obs, this.peekState(obs.seriesKey) ?? this.scorer.newState(obs));
  }

  /**
   * Feedback. A false positive's window becomes a normal pattern at once (no retraining), and a later window
   * at least as close to it as the series' normal windows are to their neighbours, of the same type and not
   * much stronger, is dismissed as that same situation (see Scorer.evaluate). A confirmed anomaly is kept as
   * an incident pattern, so similar windows say "seen before", and its quarantined windows are never learnt.
   * One pattern per anomaly (`fb:<id>`): a changed verdict replaces what the earlier one stored.
   */
  async feedback(
    anomalyId: string,
    verdict: 'true_positive' | 'false_positive',
    note?: string,
  ): Promise<{ record: AnomalyRecord; patternsAdded: number; changed: boolean }> {
    // A verdict the anomaly already had (a second click, a retried request) is saved again but is no news,
    // and without a note of its own it keeps the note given with it before.
    const earlier = (await this.opts.store.getAnomaly(anomalyId))?.feedback;
    const changed = earlier?.verdict !== verdict;
    if (!note && !changed) note = earlier?.note;
    // saveFeedback throws NotFoundError for an unknown id and returns the whole record (with its vector).
    const record = await this.opts.store.saveFeedback(anomalyId, { verdict, ...(note ? { note } : {}), at: new Date(this.now()).toISOString() });
    if (verdict === 'true_positive') this.confirmed.add(anomalyId);
    else this.confirmed.delete(anomalyId);
    let patternsAdded = 0;
    if (record.vector?.length) {
      await this.writer.flush();
      await this.opts.store.upsertPatterns([
        {
          id: `fb:${anomalyId}`,
          seriesKey: record.seriesKey,
          kind: verdict === 'false_positive' ? 'normal' : 'incident',
          timestamp: Date.parse(record.start),
          vector: Float32Array.from(record.vector),
          meta: {
            anomalyId,
            verdict,
            type: record.type,
            score: record.score,
            moved: record.attributions.map((a) => ({ feature: a.feature, z: a.z })),
            ...(note ? { cause: note } : {}),
          },
        },
      ]);
      patternsAdded = 1;
    }
    return { record, patternsAdded, changed };
  }

  /**
   * After a restart: the anomalies whose windows are still in quarantine and were confirmed by feedback
   * (the verdicts are in the store; which were confirmed was only in memory), so those windows are still never
   * learnt as normal. Returns how many were confirmed.
   */
  async restoreVerdicts(): Promise<number> {
    await this.readVerdicts(this.scorer.states.values());
    return this.confirmed.size;
  }

  /** Adds the confirmed anomalies among the quarantined windows of `states` to `confirmed` (from the store). */
  private async readVerdicts(states: Iterable<SeriesState>): Promise<void> {
    const ids = new Set<string>();
    for (const s of states) for (const w of s.quarantine) if (w.anomalyId) ids.add(w.anomalyId);
    for (const id of ids) {
      const record = await this.opts.store.getAnomaly(id);
      if (record?.feedback?.verdict === 'true_positive') this.confirmed.add(id);
    }
  }

  /**
   * Loads the series states saved by {@link saveState} (call before anything is ingested): baselines,
   * calibration, detector state, hold-off and timelines continue where the last run left them. Returns the
   * number of series restored.
   */
  restoreState(store: SeriesStateStore): number {
    const { states, pooled } = store.load();
    const now = this.now();
    for (const [k, r] of pooled) this.scorer.pooled.set(k, r);
    for (const s of states) {
      // Quiet when saved by a version that kept every series in memory: dormant from now on, unread.
      if (s.kind === 'events' && s.emptyRun >= MAX_GAP_WINDOWS && !s.incident && this.stateStore === store) {
        store.save([s], null, now, true);
        continue;
      }
      this.scorer.states.set(s.key, s);
      this.savedSeen.set(s.key, s.windowsSeen);
      // A plain series refuses points that are not after its last one, across the restart too.
      if (s.kind === 'points' && s.windowsSeen > 0) {
        // Its staleness counts from the start: a series that never comes back resolves its incident.
        this.pointSeries.set(s.key, { last: s.lastSeen, at: now, intervalMs: NaN, stale: false });
      }
      // Counted as open, so their resolution does not take the gauge below zero.
      if (s.incident) this.opts.metrics?.openIncidents.inc();
    }
    return this.scorer.states.size;
  }

  /**
   * Saves the state of series that have scored something since their last save, at most `max` of them (one
   * SQLite transaction; call again while it returns `max`, so a large save does not hold the event loop).
   * The pooled calibration only changes when some series does, and goes with the last call of such a round.
   * Returns how many series were saved.
   */
  saveState(store: SeriesStateStore, max = Infinity): number {
    const changed: SeriesState[] = [];
    for (const s of this.scorer.states.values()) {
      if (changed.length >= max) break;
      if (this.savedSeen.get(s.key) !== s.windowsSeen) changed.push(s);
    }
    if (changed.length) this.pooledUnsaved = true;
    const pooled = changed.length < max && this.pooledUnsaved ? this.scorer.pooled : null;
    if (!changed.length && !pooled) return 0;
    const n = store.save(changed, pooled);
    for (const s of changed) this.savedSeen.set(s.key, s.windowsSeen);
    if (pooled) this.pooledUnsaved = false;
    return n;
  }

  /**
   * Graceful shutdown: scores every window that has ended (see {@link endOfInput}), flushes patterns. With
   * `keepUnfinished` the window each series is in the middle of stays open for {@link takeUnfinished};
   * without, it is scored if nearly whole and otherwise left out (counted in the log). With
   * `scoringBudgetMs`, scoring stops when that time has passed (a backlog of thousands of windows could
   * otherwise outlast the process's stop deadline, and a killed process saves no state at all); with
   * `keepUnfinished` the windows it did not score go to {@link takeUnfinished}.
   */
  async shutdown(opts: { keepUnfinished?: boolean; scoringBudgetMs?: number } = {}): Promise<void> {
    this.endOfInput(opts);
    if (opts.scoringBudgetMs !== undefined) this.stopScoringAt = performance.now() + opts.scoringBudgetMs;
    await this.idle();
    await this.flushPatterns();
    if (!this.leftover.length) return;
    const windows = this.leftover.filter((i) => i.window).length;
    const points = this.leftover.filter((i) => i.obs).length;
    this.opts.log.warn(
      { windows, points, budgetMs: opts.scoringBudgetMs },
      opts.keepUnfinished
        ? 'shutdown: time for scoring ran out; the windows and points not scored are saved for the next start'
        : 'shutdown: time for scoring ran out; the windows and points not scored are lost (state saving is off)',
    );
    if (!opts.keepUnfinished) this.leftover = [];
  }
}

/**
 * The order to place a batch's events in: null when it is already in time order (the usual case), else
 * their positions sorted by timestamp (stable). A batch sent newest-first (backfill tools do) would
 * otherwise move the watermark to its newest event first and refuse most of the rest as late.
 */
function timeOrder(events: readonly { timestamp: number }[]): number[] | null {
  for (let i = 1; i < events.length; i++) {
    if (events[i].timestamp < events[i - 1].timestamp) {
      return Array.from(events.keys()).sort((a, b) => events[a].timestamp - events[b].timestamp || a - b);
    }
  }
  return null;
}

/** The point a queued point observation was made from (see Pipeline.pointObservation). */
function pointOf(obs: Observation): SeriesPoint {
  const { series, ...labels } = obs.labels;
  return { series, labels, timestamp: obs.start, value: obs.features[0] };
}

/**
 * A unit of scoring work: a closed event window, a point's observation, a stale plain series to resolve,
 * a quiet event series to put to sleep, or a long-dormant series to forget.
 */
interface QueueItem {
  obs?: Observation;
  window?: ClosedWindow;
  staleKey?: string;
  sleepKey?: string;
  forgetKey?: string;
  queuedAt: number;
}
