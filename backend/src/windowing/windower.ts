import type { KeyDimension } from '../config';
import type { LlmEvent, SecurityEvent, SeriesLabels } from '../domain/types';
import { WindowAccumulator, type WindowExtras } from './features';
import { SeriesKeyCache } from './series-key';

/** A closed window of one series, ready to score. */
export interface ClosedWindow {
  seriesKey: string;
  labels: SeriesLabels;
  start: number;
  end: number;
  features: Float64Array;
  extras: WindowExtras;
}

/**
 * A closed window whose features are computed on first read: closing every series' window at a boundary
 * happens inside one ingest call, and computing a thousand windows' quantiles there held HTTP for ~100 ms;
 * the scoring worker reads them later, between its yields. The accumulator is out of the open map, so
 * nothing changes it in between: the features are the same whenever they are computed.
 */
class LazyWindow implements ClosedWindow {
  private f?: Float64Array;
  private x?: WindowExtras;

  constructor(
    readonly seriesKey: string,
    readonly labels: SeriesLabels,
    readonly start: number,
    readonly end: number,
    private readonly acc: WindowAccumulator,
  ) {}

  get features(): Float64Array {
    return (this.f ??= this.acc.features());
  }

  get extras(): WindowExtras {
    return (this.x ??= this.acc.extras());
  }

  reopen(): OpenWindow {
    return { seriesKey: this.seriesKey, labels: this.labels, start: this.start, share: 1, acc: this.acc };
  }
}

/**
 * A closed window made open again, whole, to be saved with the open windows: one a shutdown ran out of time
 * to score. Null for a closed window that is not the windower's own (it has no accumulator to save).
 */
export function reopen(w: ClosedWindow): OpenWindow | null {
  return w instanceof LazyWindow ? w.reopen() : null;
}

/**
 * A window the input covered only part of (it began before the intake did, or the input ended inside it) is
 * scored only when the input covered at least this share of it: a window cut at 15 s of 60 holds a quarter
 * of a window's traffic and, scored like a whole one, reads as a traffic drop (every replay and every
 * restart reported one). Test traffic that stops a second or two before the window's end (0.95-0.97) is
 * still a window.
 */
export const FINISHED_SHARE = 0.9;

/** Windows left unscored because the input covered too little of them, and their events. */
export interface Unscored {
  windows: number;
  events: number;
}

/** Longest run of empty windows a silent series gets by default; after it, it is idle (see Windower). */
export const MAX_GAP_WINDOWS = 60;

/** Window order of every closing: by start, then by series key (replays are deterministic). */
export const byStartThenKey = (a: { start: number; seriesKey: string }, b: { start: number; seriesKey: string }): number =>
  a.start - b.start || (a.seriesKey < b.seriesKey ? -1 : a.seriesKey > b.seriesKey ? 1 : 0);

/** Options of the {@link Windower}. */
export interface WindowerOptions {
  windowMs: number;
  latenessMs: number;
  keyDimensions: readonly KeyDimension[];
  maxSeries: number;
  /**
   * Live series kept elsewhere that count against maxSeries too (the pipeline's plain metric series): the
   * limit is on all series the service keeps, not on event series and points each. @default none
   */
  otherSeries?: () => number;
  /**
   * Longest run of empty windows emitted for a silent series (a drop to zero traffic is itself a signal);
   * beyond it the series counts as idle until its next event.
   * @default MAX_GAP_WINDOWS (60)
   */
  maxGapWindows?: number;
  /**
   * The wall clock of a live service: event time ahead of it does not move the watermark. Accepted events
   * may be stamped up to a few minutes ahead (client clocks drift), and one such event used to close the
   * current window of every series, so every on-time event after it was refused as late. Unset in replay,
   * where event time is the only time.
   */
  clock?: () => number;
}

/** Why an event could not be placed in a window. */
export type LateReason = 'late' | 'series_limit';

interface SeriesWindows {
  labels: SeriesLabels;
  open: Map<number, WindowAccumulator>;
  /** Start of the last window emitted, or -Infinity. */
  lastClosed: number;
  /** Empty windows emitted in a row since the last event. */
  emptyRun: number;
}

/**
 * Cuts events into fixed windows per series key on event time.
 *
 * The watermark is the largest event time seen minus the allowed lateness; a window [s, s + W) closes when
 * the watermark passes s + W. Events for a window that has closed are refused as late (counted, never
 * silently dropped). Between a series' events, and for a while after it goes silent, empty windows are
 * emitted so that a drop in traffic is visible to the detectors.
 */
export class Windower {
  private readonly series = new Map<string, SeriesWindows>();
  private maxEventTime = -Infinity;
  private lastBoundary = NaN;
  /** Windows ending by this time were closed at an end of input (this run's or, restored, the last one's). */
  private endedBy = -Infinity;
  /** Earliest event time accepted: the intake covers event time from here (NaN before the first event). */
  private coveredFrom = NaN;
  /** Windows restored from the last run: they hold what it saw before this intake began. */
  private readonly restored = new WeakSet<WindowAccumulator>();
  /**
   * Windows that began before the intake did (a replay starting mid-window, the first window of every
   * series after a start without its saved windows) and were covered less than FINISHED_SHARE: not emitted.
   */
  readonly startedEarly: Unscored = { windows: 0, events: 0 };
  private readonly maxGap: number;
  private readonly keys: SeriesKeyCache;
  /**
   * Series that went silent for their longest run of empty windows (maxGapWindows) and have no open window:
   * idle. They no longer count against maxSeries: a new series at the limit takes the place of the one idle
   * longest (its scoring state is the pipeline's: on disk while it is quiet, see Pipeline.persistTo; its next
   * event starts a new entry here). With
   * series keyed by API key or user, a lifetime count refused new keys forever once enough had come and gone.
   */
  private readonly idle = new Set<string>();

  constructor(private readonly opts: WindowerOptions) {
    this.maxGap = opts.maxGapWindows ?? MAX_GAP_WINDOWS;
    this.keys = new SeriesKeyCache(opts.keyDimensions);
  }

  /** Number of series with state (open windows or recent history). */
  get seriesCount(): number {
    return this.series.size;
  }

  /** Series that count against maxSeries: those with state, but for the idle ones a new series may replace. */
  get liveSeriesCount(): number {
    return this.series.size - this.idle.size;
  }

  /** Number of windows still open, i.e. what a hard kill would lose. */
  get openWindowCount(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.open.size;
    return n;
  }

  /** Event time up to which every window is closed. */
  get watermark(): number {
    return this.time - this.opts.latenessMs;
  }

  /** Largest event time seen, but not past the wall clock when there is one (see WindowerOptions.clock). */
  private get time(): number {
    return this.opts.clock ? Math.min(this.maxEventTime, this.opts.clock()) : this.maxEventTime;
  }

  /** A window ending by this time has closed: its events are late. */
  private get closedBefore(): number {
    return Math.max(this.watermark, this.endedBy);
  }

  /** Places one event. Returns null when accepted, or why it was refused. */
  add(e: LlmEvent): LateReason | null {
    const acc = this.accumulatorFor(e);
    if (typeof acc === 'string') return acc;
    acc.add(e);
    return null;
  }

  /** Places one security verdict in the window of its series (same key dimensions as events). */
  addSecurity(e: SecurityEvent): LateReason | null {
    const acc = this.accumulatorFor(e);
    if (typeof acc === 'string') return acc;
    acc.addSecurity(e);
    return null;
  }

  private accumulatorFor(e: SecurityEvent | LlmEvent): WindowAccumulator | LateReason {
    const W = this.opts.windowMs;
    const start = Math.floor(e.timestamp / W) * W;
    const { key, labels } = this.keys.get(e as LlmEvent);
    let s = this.series.get(key);
    if (!s) {
      if (start + W <= this.closedBefore) return 'late';
      if (this.series.size + (this.opts.otherSeries?.() ?? 0) >= this.opts.maxSeries && !this.evictIdle()) return 'series_limit';
      s = { labels: { ...labels }, open: new Map(), lastClosed: -Infinity, emptyRun: 0 };
      this.series.set(key, s);
    } else if (start <= s.lastClosed || start + W <= this.closedBefore) {
      return 'late';
    } else if (s.emptyRun >= this.maxGap) {
      this.idle.delete(key);
    }
    let acc = s.open.get(start);
    if (!acc) {
      acc = new WindowAccumulator();
      s.open.set(start, acc);
    }
    s.emptyRun = 0;
    if (e.timestamp > this.maxEventTime) this.maxEventTime = e.timestamp;
    if (!(e.timestamp >= this.coveredFrom)) this.coveredFrom = e.timestamp;
    return acc;
  }

  /**
   * Moves event time forward without an event (wall-clock idle flush in the server, end of input in
   * replay). `Infinity` closes everything.
   */
  advanceTo(eventTime: number): void {
    if (eventTime > this.maxEventTime) this.maxEventTime = eventTime;
  }

  /** Largest event time seen (or advanced to). */
  get eventTime(): number {
    return this.maxEventTime;
  }

  /**
   * Event time as the windows see it: the largest seen, but not past the wall clock in a live service. What
   * a saved set of open windows was taken at (an event stamped minutes ahead must not close, on the next
   * start, every window before it).
   */
  get clockedTime(): number {
    return this.time;
  }

  /**
   * Closes every window the watermark has passed, filling gaps with empty windows, and returns them in
   * time order (then by series key), so replays are deterministic.
   */
  collect(): ClosedWindow[] {
    const W = this.opts.windowMs;
    const wm = this.watermark;
    // Windows only become closable when the watermark crosses a window boundary: skip the scan otherwise.
    const boundary = Math.floor(wm / W);
    if (boundary === this.lastBoundary) return [];
    this.lastBoundary = boundary;
    return this.closeUpTo(wm);
  }

  /**
   * End of input (a replay's last event, the service's shutdown): no event can arrive late any more, so
   * every window that has ended by the last event time closes, as {@link collect} would close it once the
   * lateness had passed. The window the input ends inside of stays open (see {@link takeOpen}).
   */
  closeEnded(): ClosedWindow[] {
    const t = this.time;
    if (!Number.isFinite(t)) return [];
    this.endedBy = t;
    return this.closeUpTo(t);
  }

  private closeUpTo(wm: number): ClosedWindow[] {
    const W = this.opts.windowMs;
    const out: ClosedWindow[] = [];
    for (const [key, s] of this.series) {
      const starts = s.open.size ? [...s.open.keys()].sort((a, b) => a - b) : [];
      for (const start of starts) {
        if (start + W > wm) break;
        this.emitGap(key, s, start, out);
        const acc = s.open.get(start)!;
        s.open.delete(start);
        if (this.coveredEnough(start, acc)) out.push(new LazyWindow(key, s.labels, start, start + W, acc));
        s.lastClosed = start;
        s.emptyRun = 0;
      }
      // Trailing silence: empty windows up to the last closable start (t + W <= watermark).
      if (s.open.size === 0 && Number.isFinite(wm)) {
        this.emitGap(key, s, Math.floor((wm - W) / W) * W + W, out);
      }
    }
    out.sort(byStartThenKey);
    return out;
  }

  /** Whether series `key` has a window open (events on their way to the scorer). */
  hasOpen(key: string): boolean {
    return (this.series.get(key)?.open.size ?? 0) > 0;
  }

  /** Forgets the series idle longest (see {@link idle}); false when none is idle. */
  private evictIdle(): boolean {
    for (const key of this.idle) {
      this.idle.delete(key);
      const s = this.series.get(key);
      if (!s || s.open.size || s.emptyRun < this.maxGap) continue;
      this.series.delete(key);
      return true;
    }
    return false;
  }

  /** Emits empty windows for [lastClosed + W, before), at most maxGap in a row. */
  private emitGap(key: string, s: SeriesWindows, before: number, out: ClosedWindow[]): void {
    const W = this.opts.windowMs;
    if (!Number.isFinite(s.lastClosed)) return;
    for (let t = s.lastClosed + W; t < before; t += W) {
      if (s.emptyRun >= this.maxGap) {
        // Idle: jump over the rest of the gap without emitting.
        s.lastClosed = before - W;
        return;
      }
      out.push(new LazyWindow(key, s.labels, t, t + W, new WindowAccumulator()));
      s.lastClosed = t;
      if (++s.emptyRun >= this.maxGap && !s.open.size) this.idle.add(key);
    }
  }

  /**
   * Takes every still-open window out of the windower (after {@link closeEnded} only the window each series'
   * input ends inside of), with the share of it that event time has covered: a window cut short by the end
   * of the input holds a fraction of a window's traffic, and scored like a whole one it reads as a drop.
   * The caller scores it ({@link closeTaken}), keeps it for the next run ({@link restoreOpen}), or drops it.
   */
  takeOpen(): OpenWindow[] {
    const W = this.opts.windowMs;
    const t = this.time;
    const out: OpenWindow[] = [];
    for (const [seriesKey, s] of this.series) {
      for (const [start, acc] of s.open) {
        const share = Math.min(1, Math.max(0, (t - start) / W));
        out.push({ seriesKey, labels: s.labels, start, share, acc });
      }
      s.open.clear();
    }
    out.sort(byStartThenKey);
    return out;
  }

  /**
   * Closes a window taken by {@link takeOpen}: the empty windows of a silence before it, then, with `score`,
   * the window (unless it began before the intake and was mostly missed, see {@link startedEarly}).
   */
  closeTaken(o: OpenWindow, score = true): ClosedWindow[] {
    const W = this.opts.windowMs;
    const s = this.series.get(o.seriesKey);
    const out: ClosedWindow[] = [];
    if (s) {
      this.emitGap(o.seriesKey, s, o.start, out);
      s.lastClosed = Math.max(s.lastClosed, o.start);
      s.emptyRun = 0;
    }
    if (score && this.coveredEnough(o.start, o.acc)) out.push(new LazyWindow(o.seriesKey, o.labels, o.start, o.start + W, o.acc));
    return out;
  }

  /** False (and counted in startedEarly) for a window that began before the intake and was mostly missed. */
  private coveredEnough(start: number, acc: WindowAccumulator): boolean {
    if (!(start < this.coveredFrom) || this.restored.has(acc)) return true;
    if ((start + this.opts.windowMs - this.coveredFrom) / this.opts.windowMs >= FINISHED_SHARE) return true;
    this.startedEarly.windows++;
    this.startedEarly.events += acc.count;
    return false;
  }

  /**
   * Puts back windows taken by {@link takeOpen} in an earlier run (saved at shutdown), with that run's event
   * time: events of the same window keep adding to it, and it closes as any other when the watermark passes.
   * Call before anything is ingested. Returns the number of windows restored.
   */
  restoreOpen(windows: readonly OpenWindow[], eventTime: number): number {
    if (eventTime > this.maxEventTime) this.maxEventTime = eventTime;
    if (eventTime > this.endedBy) this.endedBy = eventTime;
    let n = 0;
    for (const o of windows) {
      let s = this.series.get(o.seriesKey);
      if (!s) {
        if (this.series.size + (this.opts.otherSeries?.() ?? 0) >= this.opts.maxSeries) continue;
        s = { labels: { ...o.labels }, open: new Map(), lastClosed: -Infinity, emptyRun: 0 };
        this.series.set(o.seriesKey, s);
      }
      s.open.set(o.start, o.acc);
      this.restored.add(o.acc);
      n++;
    }
    return n;
  }
}

/** A window still open when the input ended, taken out by {@link Windower.takeOpen}. */
export interface OpenWindow {
  seriesKey: string;
  labels: SeriesLabels;
  /** Window start (epoch ms); it ends one window length later. */
  start: number;
  /** Share of the window's time the input covered (last event time - start) / window length, in [0, 1]. */
  share: number;
  /** What the window has accumulated so far. */
  acc: WindowAccumulator;
}
