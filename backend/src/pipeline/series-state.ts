import type { DailyProfile } from './daily-profile';
import type { AnomalyType, SeriesLabels } from '../domain/types';
import type { PooledSamples } from '../windowing/latency-pool';
import { ScoreReservoir } from '../detectors/calibration';
import { RingMatrix } from './ring';
import { SustainedScore } from './sustained';
import { DailyEnvelope } from './envelope';

/** Event windows or plain metric points. */
export type SeriesKind = 'events' | 'points';

/** One entry of a series' score timeline (served by GET /api/v1/scores). */
export interface TimelinePoint {
  t: number;
  score: number;
  anomalous: boolean;
  /** Per feature: value, expected, lower, upper (4 entries per feature). */
  bands: Float32Array;
}

/** The open incident of a series, merged into while anomalous windows keep coming. */
export interface OpenIncident {
  anomalyId: string;
  lastAnomalousEnd: number;
  quietWindows: number;
  /** The type its record shows (absent in state saved before it existed). */
  type?: AnomalyType;
  /**
   * What a rule past its boundary found in the incident (its type, the principal it named, its reason): a
   * later window that scores higher on the statistical detectors alone keeps them (IncidentTracker). Absent
   * while no rule fired (and in state saved before it existed).
   */
  rule?: { type: AnomalyType; culprit?: Record<string, string>; reason?: string };
}

/**
 * A held window (anomalous, of an open incident, or an unjudged outlier) kept from the normal patterns for a
 * while (see Pipeline: quarantine). State saved before the twelfth session also holds the window's calibration
 * samples (sampleKeys, sampleValues): ignored, as held windows no longer teach calibration (Scorer.commit).
 */
export interface QuarantinedWindow {
  /** windowsSeen of the series when the window was scored. */
  seq: number;
  start: number;
  vector: Float32Array;
  anomalyId: string | null;
}

/** The calibration samples of one normal window of an event series, waiting to be learnt. */
export interface PendingSamples {
  /** windowsSeen of the series when the window was scored (1-based). */
  seq: number;
  keys: string[];
  values: Float64Array;
}

/**
 * Everything the service keeps in memory about one series: its recent feature history (the baselines),
 * per-detector state and calibration, the open incident and the score timeline.
 */
export class SeriesState {
  readonly history: RingMatrix;
  windowsSeen = 0;
  /**
   * Windows learnt into the history: every window with traffic and the first SILENCE_LEARNT of a silence
   * (all of a plain series' points). Warm-up counts these, not windowsSeen: a series with one request and an
   * hour of reported silence had 60 windows and was "warm", and its next few requests opened a critical
   * incident (QA). State saved before it existed has none: read as windowsSeen (see {@link learntWindows}).
   */
  learntWindows = 0;
  lastSeen = 0;
  lastScore = 0;
  /** Calibrated score of each detector on the last window (not saved: the next window sets it again). */
  lastDetectors: Readonly<Record<string, number>> = {};
  lastType: AnomalyType | null = null;
  incident: OpenIncident | null = null;
  /** Event series: windows without a request scored in a row (state saved before it existed: undefined, read as 0). */
  emptyRun = 0;
  /**
   * Event series: the latency samples of their last windows, which a window with few requests of its own
   * borrows (see windowing/latency-pool.ts). State saved before it existed: undefined, read as empty.
   */
  latencyPool: PooledSamples[] = [];
  /**
   * Event series: the calibration samples of their last normal windows, learnt ONSET_WINDOWS windows late
   * (see Scorer.commit). State saved before it existed: undefined, read as empty.
   */
  pendingSamples?: PendingSamples[];
  /** Event series: what they do at each hour of the day (created with the first window; see daily-profile.ts). */
  daily: DailyProfile | null = null;
  /**
   * The incident of this series' last alerting point, its windowsSeen then, and what the rule that made
   * it alert found (`range:above`, `stuck`; null for a statistical alert): the re-alert hold-off of plain
   * series. Saved state of an earlier version has no `finding` (undefined), read as a statistical alert.
   */
  lastOpened: { seq: number; anomalyId: string; finding: string | null } | null = null;
  /**
   * The score as alerting sees it: the last score, or 0 while the series is inside its re-alert hold-off
   * (a plain series that alerted less than `realertPoints` points ago cannot alert again).
   */
  alertScore = 0;
  /**
   * Plain series: the windowsSeen (+1) of the first point after the series came back from being stale (or
   * dormant): the subsequences of that point and the next ones span the silence, so kNN does not judge them
   * (see Scorer.evaluate). Undefined until it first comes back (and in state saved before it existed).
   */
  resumedAt?: number;
  /** Plain series: their recent average score against its own record (see SustainedScore). */
  readonly sustained: SustainedScore | null;
  /**
   * Plain series: what their values did around each time of day on their last days, which a sustained alert
   * must leave (see DailyEnvelope). State saved before it existed: undefined, created at the next point.
   */
  envelope?: DailyEnvelope | null;
  /** Anomalous windows waiting to become normal patterns, oldest first. */
  readonly quarantine: QuarantinedWindow[] = [];
  /** Opaque per-detector state (EWMA moments, seasonal model...), keyed by detector name. */
  readonly detectorState = new Map<string, unknown>();
  readonly calibration = new Map<string, ScoreReservoir>();
  // The score timeline, a ring of up to `timelineCapacity` entries kept column by column (no object per
  // entry: a series' state stays a handful of typed arrays, cheap to hold and to save, see state-store.ts).
  // The columns grow by doubling until the ring is full, so a young series holds only what it has scored.
  private tlT = new Float64Array(0);
  private tlScore = new Float64Array(0);
  private tlAnomalous = new Uint8Array(0);
  /** 4 entries per feature per timeline entry (value, expected, lower, upper). */
  private tlBands = new Float32Array(0);
  /** Entries the columns have room for now (<= timelineCapacity). */
  private tlCap = 0;
  private tlHead = 0;
  private tlSize = 0;

  constructor(
    readonly key: string,
    readonly labels: SeriesLabels,
    readonly kind: SeriesKind,
    readonly featureNames: readonly string[],
    readonly minScale: Float64Array,
    historyCapacity: number,
    readonly timelineCapacity = 720,
  ) {
    this.history = new RingMatrix(historyCapacity, featureNames.length);
    this.sustained = kind === 'points' ? new SustainedScore() : null;
    this.envelope = kind === 'points' ? new DailyEnvelope() : null;
  }

  reservoir(detector: string): ScoreReservoir {
    let r = this.calibration.get(detector);
    if (!r) {
      // Plain series often have periods longer than 128 points (a day of 5-minute data is 288): a longer
      // memory keeps their recurring highs calibrated. Event windows keep 128 (16 features x 3 detectors).
      r = new ScoreReservoir(this.kind === 'points' ? 512 : 128);
      this.calibration.set(detector, r);
    }
    return r;
  }

  state<T>(detector: string, init: () => T): T {
    let s = this.detectorState.get(detector) as T | undefined;
    if (s === undefined) {
      s = init();
      this.detectorState.set(detector, s);
    }
    return s;
  }

  pushTimeline(p: TimelinePoint): void {
    if (this.tlSize === this.tlCap && this.tlCap < this.timelineCapacity) this.growTimeline();
    const at = this.tlHead;
    const width = this.featureNames.length * 4;
    this.tlT[at] = p.t;
    this.tlScore[at] = p.score;
    this.tlAnomalous[at] = p.anomalous ? 1 : 0;
    this.tlBands.set(p.bands.subarray(0, width), at * width);
    this.tlHead = (at + 1) % this.tlCap;
    if (this.tlSize < this.tlCap) this.tlSize++;
  }

  /** Doubles the timeline columns (only while the ring has never wrapped: entries are in order from 0). */
  private growTimeline(): void {
    const cap = Math.min(this.timelineCapacity, Math.max(16, this.tlCap * 2));
    const width = this.featureNames.length * 4;
    const grow = <T extends Float64Array | Float32Array | Uint8Array>(old: T, make: (n: number) => T, per = 1): T => {
      const next = make(cap * per);
      next.set(old.subarray(0, this.tlSize * per));
      return next;
    };
    this.tlT = grow(this.tlT, (n) => new Float64Array(n));
    this.tlScore = grow(this.tlScore, (n) => new Float64Array(n));
    this.tlAnomalous = grow(this.tlAnomalous, (n) => new Uint8Array(n));
    this.tlBands = grow(this.tlBands, (n) => new Float32Array(n), width);
    this.tlCap = cap;
    this.tlHead = this.tlSize;
  }

  /** Timeline points in [from, to], oldest first. */
  timelineBetween(from: number, to: number): TimelinePoint[] {
    const out: TimelinePoint[] = [];
    const width = this.featureNames.length * 4;
    for (let i = 0; i < this.tlSize; i++) {
      const at = (this.tlHead - this.tlSize + i + this.tlCap) % this.tlCap;
      const t = this.tlT[at];
      if (t < from || t > to) continue;
      out.push({ t, score: this.tlScore[at], anomalous: this.tlAnomalous[at] === 1, bands: this.tlBands.slice(at * width, (at + 1) * width) });
    }
    return out;
  }
}

/** Windows a series has learnt (SeriesState.learntWindows; windowsSeen for state saved before it existed). */
export function learntWindows(s: { windowsSeen: number; learntWindows?: number }): number {
  return s.learntWindows ?? s.windowsSeen;
}

/**
 * Whether a series is past its warm-up: it has learnt `warmupWindows` windows of history. A series in
 * warm-up cannot alert, its score is not exported, and `GET /series` says `warm: false`; the three read this.
 */
export function isWarm(s: { windowsSeen: number; learntWindows?: number }, warmupWindows: number): boolean {
  return learntWindows(s) >= warmupWindows;
}
