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
}

/** Options of the {@link Windower}. */
export interface WindowerOptions {
  windowMs: number;
  latenessMs: number;
  keyDimensions: readonly KeyDimension[];
  maxSeries: number;
  /**
   * Longest run of empty windows emitted for a silent series (a drop to zero traffic is itself a signal);
   * beyond it the series counts as idle until its next event.
   * @default 60
   */
  maxGapWindows?: number;
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
  private readonly maxGap: number;
  private readonly keys: SeriesKeyCache;

  constructor(private readonly opts: WindowerOptions) {
    this.maxGap = opts.maxGapWindows ?? 60;
    this.keys = new SeriesKeyCache(opts.keyDimensions);
  }

  /** Number of series with state (open windows or recent history). */
  get seriesCount(): number {
    return this.series.size;
  }

  /** Number of windows still open, i.e. what a hard kill would lose. */
  get openWindowCount(): number {
    let n = 0;
    for (const s of this.series.values()) n += s.open.size;
    return n;
  }

  /** Event time up to which every window is closed. */
  get watermark(): number {
    return this.maxEventTime - this.opts.latenessMs;
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
      if (this.series.size >= this.opts.maxSeries) return 'series_limit';
      if (start + W <= this.watermark) return 'late';
      s = { labels: { ...labels }, open: new Map(), lastClosed: -Infinity, emptyRun: 0 };
      this.series.set(key, s);
    } else if (start <= s.lastClosed || start + W <= this.watermark) {
      return 'late';
    }
    let acc = s.open.get(start);
    if (!acc) {
      acc = new WindowAccumulator();
      s.open.set(start, acc);
    }
    s.emptyRun = 0;
    if (e.timestamp > this.maxEventTime) this.maxEventTime = e.timestamp;
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
   * Closes every window the watermark has passed, filling gaps with empty windows, and returns them in
   * time order (then by series key), so replays are deterministic.
   */
  collect(): ClosedWindow[] {
    const W = this.opts.windowMs;
    const wm = this.watermark;
    const out: ClosedWindow[] = [];
    // Windows only become closable when the watermark crosses a window boundary: skip the scan otherwise.
    const boundary = Math.floor(wm / W);
    if (boundary === this.lastBoundary) return out;
    this.lastBoundary = boundary;
    for (const [key, s] of this.series) {
      const starts = s.open.size ? [...s.open.keys()].sort((a, b) => a - b) : [];
      for (const start of starts) {
        if (start + W > wm) break;
        this.emitGap(key, s, start, out);
        const acc = s.open.get(start)!;
        s.open.delete(start);
        out.push(new LazyWindow(key, s.labels, start, start + W, acc));
        s.lastClosed = start;
        s.emptyRun = 0;
      }
      // Trailing silence: empty windows up to the last closable start (t + W <= watermark).
      if (s.open.size === 0 && Number.isFinite(wm)) {
        this.emitGap(key, s, Math.floor((wm - W) / W) * W + W, out);
      }
    }
    out.sort((a, b) => a.start - b.start || (a.seriesKey < b.seriesKey ? -1 : a.seriesKey > b.seriesKey ? 1 : 0));
    return out;
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
      s.emptyRun++;
    }
  }

  /** Closes and returns every open window regardless of the watermark (graceful shutdown). */
  drain(): ClosedWindow[] {
    // Only the open windows: no empty windows for the time that has not happened yet.
    const W = this.opts.windowMs;
    const out: ClosedWindow[] = [];
    for (const [key, s] of this.series) {
      const starts = [...s.open.keys()].sort((a, b) => a - b);
      for (const start of starts) {
        const acc = s.open.get(start)!;
        s.open.delete(start);
        out.push(new LazyWindow(key, s.labels, start, start + W, acc));
        s.lastClosed = Math.max(s.lastClosed, start);
      }
    }
    out.sort((a, b) => a.start - b.start || (a.seriesKey < b.seriesKey ? -1 : 1));
    return out;
  }
}
