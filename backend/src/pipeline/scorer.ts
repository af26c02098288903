import { embedSubsequence, embedWindows, kthSmallestInPlace, medianInPlace, robustStats, subsequenceEmbeddingDimension } from '@llm-sentinel/embeddings';
import type { AnomalyType, Attribution, Neighbour, SeriesLabels, Severity } from '../domain/types';
import { ScoreReservoir, featureKey } from '../detectors/calibration';
import { DetectorRunner, type DetectorScore } from '../detectors/runner';
import type { Detector, DetectionInput, FeatureBaseline } from '../detectors/types';
import { knnDetector } from '../detectors/knn';
import { robustZDetector } from '../detectors/robust-z';
import type { Logger } from '../logger';
import type { VectorStore } from '../store/vector-store';
import { CACHE_SUPPORT, ERROR_SUPPORT, KEY_SUPPORT, EVENT_FEATURE_MIN_SCALE, EVENT_FEATURE_NAMES, FEATURE_INDEX, RELATIVE_FLOOR, RELATIVE_SCALE_FEATURES, type WindowExtras } from '../windowing/features';
import { MAX_GAP_WINDOWS } from '../windowing/windower';
import { poolWindow, pooledErrors, withPooledFeatures } from '../windowing/latency-pool';
import { learnDaily, newDailyProfile, usualAtThisHour } from './daily-profile';
import { BELOW_BOUNDARY, attributions, combine, outsideBand, severityFor, typeFor } from './ensemble';
import { DailyEnvelope, routineSustained } from './envelope';
import { SeriesState, isWarm, learntWindows, type QuarantinedWindow, type SeriesKind } from './series-state';
import type { MstlPool } from '../detectors/augurs';

/** The calibration samples of a detection: per-feature |z| of per-feature detectors, raw scores of others. */
function calibrationSamples(d: Detection): { keys: string[]; values: Float64Array } {
  const keys: string[] = [];
  const values: number[] = [];
  const observed = d.input.observed;
  for (const s of d.scores) {
    if (s.output.calibrated) continue;
    const z = s.output.featureZ;
    if (z) {
      for (let j = 0; j < z.length; j++) {
        // A feature the window did not observe scored 0 by construction (read as expected): a sparse
        // series' empty windows filled its reservoirs with zeros, and their 98th percentile with them.
        if (observed && Number.isNaN(observed[j])) continue;
        keys.push(featureKey(s.name, j));
        values.push(Math.abs(z[j]));
      }
    } else {
      keys.push(s.name);
      values.push(s.output.raw);
    }
  }
  return { keys, values: Float64Array.from(values) };
}

/** One thing to score: a closed event window or one point of a plain series. */
export interface Observation {
  seriesKey: string;
  labels: SeriesLabels;
  kind: SeriesKind;
  start: number;
  end: number;
  features: Float64Array;
  extras?: WindowExtras;
  /** A plain series' first point after it was stale or dormant (see SeriesState.resumedAt). */
  resumed?: true;
}

/** An event window without a single request (its silence is the finding; see commit and the traffic-stopped rule). */
export function isEmptyEventWindow(obs: Observation): boolean {
  return obs.kind === 'events' && obs.features[FEATURE_INDEX.request_count] === 0;
}

/** Everything known about one scored observation. */
export interface Detection {
  observation: Observation;
  state: SeriesState;
  /** Calibrated ensemble score: <= 1 normal, > 1 anomalous. */
  score: number;
  /**
   * The detectors' combined level alone (without a plain series' sustained score, and before the shape
   * gate of a plain series' point score): what the sustained score averages.
   */
  combinedScore: number;
  /** Score above 1 on a series past its warm-up. */
  anomalous: boolean;
  /**
   * What the window would teach waits in quarantine (see Scorer.commit): it is anomalous, or it is a window
   * of an event series with an incident open that still scores above HOLD_LEVEL.
   */
  held: boolean;
  warm: boolean;
  type: AnomalyType;
  severity: Severity;
  attributions: Attribution[];
  detectors: Record<string, number>;
  neighbours: Neighbour[];
  similarIncidents: Neighbour[];
  reasons: string[];
  culprit?: Record<string, string>;
  /** The anomaly whose false-positive verdict this window matched: its score was capped below the boundary. */
  dismissedBy?: string;
  /**
   * The window was anomalous but is what the series does at this hour every day (an event series' daily
   * profile; a plain series' sustained score whose last values all lie in its daily envelope): capped below
   * the boundary.
   */
  usualAtThisHour?: true;
  vector: Float32Array;
  input: DetectionInput;
  scores: DetectorScore[];
  /** Per-feature |z| thresholds of the robust z detector on this series (for expected bands). */
  zThresholds: Float64Array;
  /** Held although not anomalous: far out while nothing could judge it (see {@link unjudgedOutlier}). */
  outlier?: true;
  /** A plain series' point whose subsequence spans a silence: not judged by kNN, not learnt as a pattern. */
  acrossGap?: true;
  /** A plain series' point whose score is its sustained score (above the point's own): see SustainedScore. */
  sustained?: true;
}

/** Options of the {@link Scorer}. */
export interface ScorerOptions {
  store: VectorStore;
  log: Logger;
  /** Sensitivity in (0, 1), checked at construction. */
  sensitivity: number;
  warmupWindows: number;
  detectors: readonly Detector[];
  onDetectorError?: (detector: string) => void;
  /** Where seasonal fits run (see DetectionInput.fits). */
  fits?: MstlPool;
}

/** History rows kept per series: event windows are wide (16 features), points are one number. */
const HISTORY = { events: 256, points: 2048 } as const;
/** History rows the robust baseline reads (the recent past, not all of it). */
const BASELINE_ROWS = { events: 60, points: 512 } as const;
/**
 * A window of an event series with an incident open is held (learnt only after quarantine, like an anomalous
 * one) while it still scores above this: part of the incident, dipping below the boundary for a window. A
 * quieter one teaches at once. On the QA's inputs (10 replays holding 12 injected incidents, 260 windows;
 * 3 x 6 h of clean traffic) and the pinned demo replays: 0.5 covers every incident window like 0 (holding
 * every window of the incident) with 38 + 12 false alarms against 37 + 15 (before: 73 of the 260 windows
 * covered, 40 + 10 false alarms).
 */
const HOLD_LEVEL = 0.5;
/** Fewest rows an event series' baseline reads when it leaves held windows out (see Scorer.heldRows). */
const MIN_BASELINE_ROWS = 30;
/** Windows in an event-window embedding; points in a subsequence embedding. */
const WINDOW_EMBED_LENGTH = 3;
const SUBSEQUENCE_LENGTH = 16;
/** Floor of a plain series' scale, as a share of its recent range (quantised or near-flat series). */
const RANGE_FLOOR = 0.02;
/**
 * Share of the baseline left out at each end when taking that range: one glitch (a value of 10,000 among
 * values near 100) would otherwise set the floor for the next 512 points and widen every band of the
 * series to -1,104..1,305, blinding robust z and the range-normalised embedding until it left the baseline.
 */
const RANGE_TRIM = 0.01;
/** Last-resort floor of a plain series' scale, before any change has been seen. */
const TINY = 1e-9;
/** Windows an event series' normal window waits before its calibration samples are learnt; see commit. */
const ONSET_WINDOWS = 5;
/** Windows of a silence (no request at all) an event series' baseline learns; see commit. */
const SILENCE_LEARNT = 5;
/**
 * |z| of a feature past which a window that no calibrated threshold can judge (the series is warming up, or
 * the feature has no threshold yet) is held like an anomalous one and teaches calibration nothing; see
 * {@link unjudgedOutlier}. Normal traffic in warm-up stays far below it: the 340 warm-up windows and points
 * of the pinned replays (backend/test/perf/detection-regression.test.ts) peak at 9.5.
 */
export const UNJUDGED_OUTLIER_Z = 20;

/**
 * Scores observations: per-series state, robust baselines, embeddings, the detector runner and the
 * ensemble. `evaluate` reads state only (used by POST /detect too); `commit` applies what was learnt.
 */
export class Scorer {
  readonly states = new Map<string, SeriesState>();
  /** Pooled calibration per series kind and detector key: the prior of series too young for their own. */
  readonly pooled = new Map<string, ScoreReservoir>();
  private readonly runner: DetectorRunner;
  private readonly scratch = new Float64Array(Math.max(BASELINE_ROWS.events, BASELINE_ROWS.points) + 1);
  private readonly scratch2 = new Float64Array(Math.max(BASELINE_ROWS.events, BASELINE_ROWS.points) + 1);
  private readonly scratch3 = new Float64Array(BASELINE_ROWS.points + 1);
  private readonly seq = new Float64Array(SUBSEQUENCE_LENGTH);

  constructor(private readonly opts: ScorerOptions) {
    if (!(opts.sensitivity > 0 && opts.sensitivity < 1)) throw new RangeError('sensitivity must be in (0, 1)');
    this.runner = new DetectorRunner(opts.detectors, opts.log, opts.sensitivity, this.pooled, opts.onDetectorError);
  }

  /** The state of a series, created on first sight. */
  stateFor(obs: Observation): SeriesState {
    let s = this.states.get(obs.seriesKey);
    if (!s) {
      s = this.newState(obs);
      this.states.set(obs.seriesKey, s);
    }
    return s;
  }

  /** A state that is not registered (for scoring a series the service has never seen). */
  newState(obs: Observation): SeriesState {
    const events = obs.kind === 'events';
    return new SeriesState(
      obs.seriesKey,
      obs.labels,
      obs.kind,
      events ? EVENT_FEATURE_NAMES : ['value'],
      // Plain series learn their own floor (their resolution, see baseline()), so each gets its own array.
      events ? EVENT_FEATURE_MIN_SCALE : Float64Array.of(TINY),
      HISTORY[obs.kind],
    );
  }

  /** Robust median / MAD-scale of each feature over the recent history (excluding the observation). */
  baseline(state: SeriesState): FeatureBaseline {
    const f = state.featureNames.length;
    const center = new Float64Array(f);
    const scale = new Float64Array(f);
    const rows = BASELINE_ROWS[state.kind];
    const held = this.heldRows(state, rows);
    const events = state.kind === 'events';
    const mean = events ? new Float64Array(f) : undefined;
    const counts = events ? new Float64Array(f) : undefined;
    let samples = 0;
    for (let j = 0; j < f; j++) {
      // An event series' per-request features rest on the windows that observed them (NaN in the others,
      // see commit); counts, sums and a plain series' values are observed in every row.
      const n = events ? state.history.columnSkipping(j, this.scratch, rows, held) : state.history.column(j, this.scratch, rows);
      if (counts) counts[j] = n;
      if (mean && n) {
        let sum = 0;
        for (let i = 0; i < n; i++) sum += this.scratch[i];
        mean[j] = sum / n;
      }
      samples = Math.max(samples, n);
      const stats = robustStats(this.scratch.subarray(0, n), state.minScale[j], this.scratch2);
      center[j] = stats.center;
      scale[j] = events ? Math.max(stats.scale, zeroMadFallback(this.scratch, n, stats.center)) : stats.scale;
      if (state.kind === 'points' && n > 1) {
        // A plain series has no known unit, so its floor is its own resolution: the median non-zero step
        // between consecutive points. A flat or noise-free stretch otherwise has a scale near zero, and any
        // change on it would score in the millions (seen on NAB's flat and synthetic series).
        let steps = 0;
        for (let i = 0; i < n; i++) {
          const x = this.scratch[i];
          this.scratch3[i] = x;
          if (i > 0) {
            const d = Math.abs(x - this.scratch[i - 1]);
            if (d > 0) this.scratch2[steps++] = d;
          }
        }
        // A stretch with no change at all keeps the resolution learnt before it: a series that sat at 0 for
        // the whole baseline has not lost its unit.
        const resolution = steps ? medianInPlace(this.scratch2, steps) : state.minScale[j];
        state.minScale[j] = Math.max(TINY, resolution);
        const trim = Math.floor(RANGE_TRIM * n);
        const lo = kthSmallestInPlace(this.scratch3, n, trim);
        const hi = kthSmallestInPlace(this.scratch3, n, n - 1 - trim);
        scale[j] = Math.max(scale[j], RANGE_FLOOR * (hi - lo), resolution);
      }
    }
    if (events) for (const j of RELATIVE_SCALE_FEATURES) scale[j] = Math.max(scale[j], RELATIVE_FLOOR * Math.abs(center[j]));
    return { center, scale, samples, ...(mean ? { mean } : {}), ...(counts ? { counts } : {}) };
  }

  /**
   * The windows an event series' baseline leaves out: those waiting in quarantine (anomalous, or of an open
   * incident; see commit), by sequence number, so the baseline is the series before the incident. A 20-window
   * incident made a third of the 60-window baseline, and the same incident 15 windows after it ended scored
   * low and ended early. Null when none is held, or when fewer than MIN_BASELINE_ROWS others are left (a
   * level that has lasted most of the history is the baseline; its windows are released after
   * QUARANTINE_WINDOWS, and then count).
   */
  private heldRows(state: SeriesState, rows: number): Set<number> | null {
    if (state.kind !== 'events' || state.quarantine.length === 0) return null;
    const held = new Set<number>();
    for (const w of state.quarantine) held.add(w.seq);
    return state.history.size - held.size >= Math.min(rows, MIN_BASELINE_ROWS) ? held : null;
  }

  /** Embedding of the observation with its recent past. */
  embed(state: SeriesState, features: Float64Array, baseline: FeatureBaseline): Float32Array {
    if (state.kind === 'events') {
      // A past window's unobserved features (NaN in history) are read as expected, as the window's own are.
      const windows: ArrayLike<number>[] = state.history.recent(WINDOW_EMBED_LENGTH - 1).map((row) => observedOrExpected(row, baseline.center));
      windows.push(features);
      return embedWindows(windows, baseline, { length: WINDOW_EMBED_LENGTH });
    }
    const prior = state.history.column(0, this.scratch, SUBSEQUENCE_LENGTH - 1);
    for (let i = 0; i < prior; i++) this.seq[i] = this.scratch[i];
    this.seq[prior] = features[0];
    return embedSubsequence(this.seq.subarray(0, prior + 1), baseline.center[0], baseline.scale[0], { length: SUBSEQUENCE_LENGTH });
  }

  /** Dimension of the embedding of a series kind. */
  static dimension(kind: SeriesKind): number {
    return kind === 'events' ? EVENT_FEATURE_NAMES.length * WINDOW_EMBED_LENGTH : subsequenceEmbeddingDimension({ length: SUBSEQUENCE_LENGTH });
  }

  /** Scores an observation against its series' state without changing anything. */
  async evaluate(obs: Observation, state: SeriesState = this.stateFor(obs)): Promise<Detection> {
    // A window with few requests estimates its latency quantiles, token means and error rate over the
    // latest requests of the windows before it too (latency-pool.ts): the observation from here on carries
    // those, and its extras what the error rate was taken over.
    if (state.kind === 'events') {
      const seq = state.windowsSeen + 1;
      const pooled = withPooledFeatures(obs.features, obs.extras?.samples, state.latencyPool, seq);
      const errors = obs.extras ? pooledErrors(obs.extras.samples, state.latencyPool, seq) : null;
      if (pooled !== obs.features || errors) obs = { ...obs, features: pooled, ...(errors ? { extras: { ...obs.extras!, errorSupport: errors } } : {}) };
    }
    const baseline = this.baseline(state);
    let features = observedOrExpected(obs.features, baseline.center);
    // What the window's requests are too few to back is read as usual (the value served stays the window's).
    const unbacked = state.kind === 'events' && obs.extras ? unsupported(obs.extras, features, baseline.center) : [];
    if (unbacked.length) {
      features = features === obs.features ? features.slice() : features;
      for (const j of unbacked) features[j] = baseline.center[j];
    }
    const vector = this.embed(state, features, baseline);
    const input: DetectionInput = {
      state,
      start: obs.start,
      end: obs.end,
      features,
      observed: obs.features,
      extras: obs.extras,
      vector,
      baseline,
      store: this.opts.store,
      ...(this.opts.fits ? { fits: this.opts.fits } : {}),
    };
    let scores = await this.runner.run(input);
    // The subsequence of a point just after a plain series came back from a silence holds points from
    // before it: its shape is the join, not anything the series did (QA: a spike just before the silence
    // made the first normal point after it score 1.21 on kNN alone and open an incident). kNN says nothing
    // on those points, and the value detectors judge them as when kNN abstains: two must agree.
    const acrossGap = spansGap(obs, state);
    if (acrossGap) scores = scores.filter((s) => s.name !== knnDetector.name);
    const combined = combine(scores, state.kind);
    const { winner } = combined;
    // Plain series: a recent average score the series has not reached in a long while counts too, unless
    // every value of that average lies where the series has been at this time of day on an earlier day
    // (see DailyEnvelope): then it is below the boundary and the point usual at this hour.
    let sustained = state.sustained?.evaluate(combined.level) ?? 0;
    const usualLevel =
      state.sustained != null && state.envelope != null && routineSustained(sustained, combined.score, state.sustained.window, state.envelope, obs.start, obs.features[0]);
    if (usualLevel) sustained = BELOW_BOUNDARY;
    const knn = scores.find((s) => s.name === 'knn');
    const unDismissed = Math.max(combined.score, sustained);
    const z = scores.find((s) => s.name === robustZDetector.name);
    const zThresholds = new Float64Array(features.length);
    for (let j = 0; j < zThresholds.length; j++) {
      const t = z?.featureThresholds?.[j];
      zThresholds[j] = t !== undefined && Number.isFinite(t) ? t : 2 * robustZDetector.floor;
    }
    const attrs = attributions(state.featureNames, features, baseline, z?.output.featureZ, zThresholds, 5, state.kind === 'events');
    const type = typeFor(winner, attrs, scores);
    // A window like one an operator marked a false positive is that situation again: below the boundary.
    const dismissed = dismissedBy(knn, unDismissed, type, attrs);
    // So is another empty window of a series whose silence has already run its reported length (it is
    // idle, its incident resolved as stale): a batch that brings it back can hold empty windows before it.
    const idle = isEmptyEventWindow(obs) && (state.emptyRun ?? 0) >= MAX_GAP_WINDOWS;
    // And so is what an event series does at this hour every day (the evening stop, the 09:00 batch job).
    const routine = !dismissed && !idle && unDismissed > 1 && state.daily != null && usualAtThisHour(state.daily, obs.start, type, obs.features, state.minScale);
    const score = dismissed || idle || routine ? Math.min(unDismissed, BELOW_BOUNDARY) : unDismissed;
    const warm = isWarm(state, this.opts.warmupWindows);
    const anomalous = warm && score > 1;
    const outlier = !anomalous && !dismissed && !idle && !routine && unjudgedOutlier(scores, warm);
    const detectors: Record<string, number> = {};
    for (const s of scores) if (!Number.isNaN(s.threshold)) detectors[s.name] = Math.round(s.score * 1000) / 1000;
    return {
      observation: obs,
      state,
      score,
      combinedScore: combined.level,
      anomalous,
      held: anomalous || outlier || (state.kind === 'events' && state.incident != null && score > HOLD_LEVEL),
      warm,
      type,
      severity: severityFor(score, type),
      attributions: attrs,
      detectors,
      neighbours: knn?.output.neighbours ?? [],
      similarIncidents: (knn?.output.similarIncidents ?? []).filter((n) => n.distance <= (knn?.threshold ?? 0)),
      reasons: scores.filter((s) => s.score > 1 && s.output.reason).map((s) => s.output.reason!),
      // The principal a rule past its boundary names (its reason, naming it, is in the explanation), even
      // when a statistical detector scored higher: the record's labels then carry it, so alert payloads
      // show it only as a fingerprint and a dashboard can filter by it.
      culprit: winner?.output.culprit ?? scores.find((s) => s.score > 1 && s.output.culprit)?.output.culprit ?? principalOf(type, obs.extras),
      ...(dismissed ? { dismissedBy: dismissed } : {}),
      ...(routine || usualLevel ? { usualAtThisHour: true } : {}),
      ...(outlier ? { outlier: true } : {}),
      ...(acrossGap ? { acrossGap: true } : {}),
      ...(sustained > combined.score ? { sustained: true } : {}),
      vector,
      input,
      scores,
      zThresholds,
    };
  }

  /** Applies what the observation taught: history, detector state, calibration, timeline. */
  commit(d: Detection): void {
    const { state, observation: obs } = d;
    if (obs.resumed) state.resumedAt = state.windowsSeen + 1;
    // Held windows do not move the EWMA either (see below); a plain series' held points are its anomalous
    // ones and its unjudged outliers.
    this.runner.update(d.input, d.held);
    // A window that is not held teaches calibration at once; a held one never does. Held are anomalous
    // windows, an event series' windows that still score above HOLD_LEVEL while it has an incident open, and
    // unjudged outliers (see unjudgedOutlier). Their embeddings wait in quarantine (see Pipeline) and become
    // normal patterns after QUARANTINE_WINDOWS; the baselines learn them at once, and an event series'
    // baseline leaves them out while they are held (heldRows). Their calibration samples are dropped:
    // - Learnt at once, three windows of a long incident that dipped just below 1 moved the 98th percentile
    //   of a 128-sample reservoir; the bands widened (QA: TTFT upper band 418 -> 2,702 ms within 12 windows
    //   of a 4x incident), the incident resolved as recovered while it went on.
    // - Learnt on release (as they were until the twelfth session), 15 windows of a 15-minute 4x latency
    //   incident were 12 % of the reservoir: its 98th percentile became an incident value, the p95 upper band
    //   went from 2,424 to 14,271 ms, and the same incident two hours later scored 0.33-0.5 (QA).
    // A level that lasts is still learnt: the median / MAD baselines move to it once it makes most of their
    // rows (heldRows counts a window again once it is released), and its windows then score and calibrate as
    // normal. What recurs without lasting keeps alerting, unless it is what the series does at this hour
    // every day (usualAtThisHour) or an operator marked it a false positive (dismissedBy). A plain series
    // never kept samples of its anomalous points (NAB: 69.26 -> 70.16, docs/BENCHMARKS.md step 15).
    const seq = state.windowsSeen + 1;
    if (!d.held) {
      const { keys, values } = calibrationSamples(d);
      if (state.kind === 'events') (state.pendingSamples ??= []).push({ seq, keys, values });
      else this.addSamples(state, keys, values);
    } else state.quarantine.push({ seq, start: obs.start, vector: d.vector, anomalyId: null });
    // An event series learns a normal window's calibration samples ONSET_WINDOWS windows late, and not at
    // all when an anomaly follows within them: they were its onset. A latency shift on a quiet series
    // scored 0.9 in its first windows (z 4-5 on robust z and EWMA, just under their thresholds), learnt at
    // once those lifted the 98th percentile of a 60-sample reservoir, and the threshold rose from 4.7 to 11
    // before the shift reached it: the incident was never reported (small-windows.test.ts).
    if (state.pendingSamples?.length) {
      const pending = state.pendingSamples;
      if (d.anomalous) pending.length = 0;
      while (pending.length && seq - pending[0].seq >= ONSET_WINDOWS) {
        const w = pending.shift()!;
        this.addSamples(state, w.keys, w.values);
      }
    }
    // The history. Of a silence, only its first SILENCE_LEARNT windows: a sparse series' short gaps are part
    // of its normal, but an hour without traffic learnt in full made the baseline ~0, and the series' return
    // read as a critical burst.
    state.emptyRun = isEmptyEventWindow(obs) ? (state.emptyRun ?? 0) + 1 : 0;
    if (state.emptyRun <= SILENCE_LEARNT) {
      // An event series learns the window as observed, not as the detectors read it: a feature the window
      // could not observe stays NaN (its baseline rests on the windows that observed it; a sparse series'
      // empty windows read as expected and learnt so froze its baselines at their first value with a MAD
      // of 0, and every ordinary request paged: docs/DETECTION.md, section 1), and the error rate counts
      // every failure (ERROR_SUPPORT caps only what the detectors read; the error-surge rule expects
      // failures at the usual rate).
      state.history.push(state.kind === 'events' ? (d.input.observed ?? d.input.features) : d.input.features, state.windowsSeen + 1);
      state.learntWindows = learntWindows(state) + 1;
    }
    if (state.kind === 'events') poolWindow((state.latencyPool ??= []), obs.extras?.samples, state.windowsSeen + 1);
    if (state.kind === 'events') learnDaily((state.daily ??= newDailyProfile(obs.features.length)), obs.start, obs.features);
    state.sustained?.push(d.combinedScore);
    if (state.kind === 'points') (state.envelope ??= new DailyEnvelope()).push(obs.start, obs.features[0]);
    state.windowsSeen++;
    state.lastSeen = obs.end;
    state.lastScore = d.score;
    state.lastDetectors = d.detectors;
    state.lastType = d.anomalous ? d.type : null;
    const f = state.featureNames.length;
    const bands = new Float32Array(f * 4);
    // Without any history there is no expectation yet: NaN, served as null.
    const known = d.input.baseline.samples > 0;
    for (let j = 0; j < f; j++) {
      const c = d.input.baseline.center[j];
      const half = d.zThresholds[j] * d.input.baseline.scale[j];
      bands[j * 4] = obs.features[j];
      if (!known) {
        bands[j * 4 + 1] = bands[j * 4 + 2] = bands[j * 4 + 3] = NaN;
        continue;
      }
      bands[j * 4 + 1] = c;
      // Event features are counts, sums, rates and quantiles: never below 0.
      bands[j * 4 + 2] = state.kind === 'events' ? Math.max(0, c - half) : c - half;
      bands[j * 4 + 3] = c + half;
    }
    state.pushTimeline({ t: obs.start, score: d.score, anomalous: d.anomalous, bands });
  }

  private addSamples(state: SeriesState, keys: readonly string[], values: Float64Array): void {
    for (let i = 0; i < keys.length; i++) {
      state.reservoir(keys[i]).add(values[i]);
      this.pooledReservoir(`${state.kind}:${keys[i]}`).add(values[i]);
    }
  }

  /**
   * Releases quarantined windows at least `after` observations old: unless `confirmed` says the anomaly was
   * a true positive, they are returned so the caller can store their embeddings as normal patterns (their
   * calibration samples were dropped; see commit).
   */
  releaseQuarantine(state: SeriesState, after: number, confirmed: (anomalyId: string) => boolean, max: number): QuarantinedWindow[] {
    const q = state.quarantine;
    while (q.length > max) q.shift();
    const out: QuarantinedWindow[] = [];
    while (q.length && state.windowsSeen - q[0].seq >= after) {
      const w = q.shift()!;
      if (w.anomalyId && confirmed(w.anomalyId)) continue;
      out.push(w);
    }
    return out;
  }

  private pooledReservoir(key: string): ScoreReservoir {
    let r = this.pooled.get(key);
    if (!r) {
      r = new ScoreReservoir(1024);
      this.pooled.set(key, r);
    }
    return r;
  }
}

/**
 * Whether a window is far out (some feature's |z| past UNJUDGED_OUTLIER_Z) where no calibrated threshold can
 * judge it: the series is in warm-up, or that feature has no threshold yet. Such a window cannot alert, but
 * learnt, its |z| became the maximum of a reservoir of a handful of samples, and with few samples the
 * threshold is max + margin * (max - median) (calibration.ts): one 40x latency spike in a new series' first
 * windows hid the identical spikes after its warm-up for about two hours (QA). Held instead, it stays out of
 * the baseline and the EWMA, and the reservoirs never see it.
 */
export function unjudgedOutlier(scores: readonly DetectorScore[], warm: boolean): boolean {
  for (const s of scores) {
    const z = s.output.featureZ;
    if (!z || s.output.calibrated) continue;
    for (let j = 0; j < z.length; j++) {
      if (!(Math.abs(z[j]) > UNJUDGED_OUTLIER_Z)) continue;
      if (!warm || !s.featureThresholds || Number.isNaN(s.featureThresholds[j])) return true;
    }
  }
  return false;
}

/**
 * Whether a plain series' point has a subsequence (its last SUBSEQUENCE_LENGTH points) reaching back across
 * the silence it came back from: it is the first point after it, or one of the next SUBSEQUENCE_LENGTH - 1.
 */
function spansGap(obs: Observation, state: SeriesState): boolean {
  if (state.kind !== 'points') return false;
  if (obs.resumed) return true;
  return state.resumedAt !== undefined && state.windowsSeen + 1 - state.resumedAt < SUBSEQUENCE_LENGTH - 1;
}

/**
 * The principal a window of a type about one principal names when no rule past its boundary did: the
 * sender of most security events of a security_pattern, the heaviest key of a token_abuse, both typed by
 * their feature. The statistical detectors find them below the rules' boundaries (3 jailbreak verdicts in a
 * window of a series that never had one score 1.5 on robust z; the security-burst rule needs more than 4.5;
 * a new key holding 56 % of the tokens scored 2.2, the heaviest-key rule 0.73), and the record named nobody
 * (QA, live).
 */
function principalOf(type: AnomalyType, extras: WindowExtras | undefined): Record<string, string> | undefined {
  const p = type === 'security_pattern' ? extras?.topSecurityKey : type === 'token_abuse' ? extras?.topKey : undefined;
  return p ? { [p.kind]: p.id } : undefined;
}

/**
 * The features of an event window that read as changed without enough requests behind the change, which the
 * detectors then read as the usual value:
 * - an error rate above the usual resting on fewer than ERROR_SUPPORT failed requests: no evidence of more
 *   failures than usual;
 * - a top-key share above the usual whose key made fewer than KEY_SUPPORT requests in the window: one long
 *   prompt is not a key taking over;
 * - a cache hit rate that differs from the usual by fewer than CACHE_SUPPORT requests: the rate of a
 *   1-request window is 0 or 1 whatever the cache does.
 */
function unsupported(extras: WindowExtras, features: Float64Array, usual: Float64Array): number[] {
  const out: number[] = [];
  const e = FEATURE_INDEX.error_rate;
  if (extras.errorSupport && extras.errorSupport.errors < ERROR_SUPPORT && features[e] > usual[e]) out.push(e);
  const k = FEATURE_INDEX.top_key_token_share;
  if (extras.topKey && extras.topKey.requests < KEY_SUPPORT && features[k] > usual[k]) out.push(k);
  const c = FEATURE_INDEX.cache_hit_rate;
  const cache = extras.samples;
  if (cache?.cacheKnown && Math.abs((cache.cacheHits ?? 0) - usual[c] * cache.cacheKnown) < CACHE_SUPPORT && features[c] !== usual[c]) out.push(c);
  return out;
}

/**
 * Where more than half of the first n values equal their median (the MAD is 0), 1.2533 x their mean
 * absolute deviation from it: the scale Iglewicz and Hoaglin's modified z-score falls back to. Else 0. A
 * sparse series' sums are 0 in most windows: with the MAD alone the feature's floor (200 input tokens) was
 * its scale, and one ordinary request of 3,000 tokens scored z 15.
 */
function zeroMadFallback(values: Float64Array, n: number, center: number): number {
  let sum = 0;
  let equal = 0;
  for (let i = 0; i < n; i++) {
    const d = Math.abs(values[i] - center);
    sum += d;
    if (d === 0) equal++;
  }
  return 2 * equal > n ? MEAN_AD_TO_SIGMA * (sum / n) : 0;
}

/** 1.2533 = sqrt(pi / 2): the mean absolute deviation of a normal distribution is sigma / 1.2533. */
const MEAN_AD_TO_SIGMA = Math.sqrt(Math.PI / 2);

/**
 * The features with each NaN (a feature the window could not observe, see PER_REQUEST_FEATURES) read as its
 * expected value: no evidence either way. The same array when every feature was observed.
 */
function observedOrExpected(features: Float64Array, expected: Float64Array): Float64Array {
  if (!features.some(Number.isNaN)) return features;
  return features.map((x, j) => (Number.isNaN(x) ? expected[j] : x));
}

/**
 * How much stronger than the anomaly an operator called a false positive a look-alike window may score and
 * still be dismissed. The embedding squashes magnitude (asinh of z), so a 10x burst sits as close to a
 * dismissed 4x burst as another 4x one; the score tells them apart. Repeats of one situation scored within
 * about +-25 % of each other here (QA: 19.4 / 24.5 / 25.8).
 */
const DISMISS_MAX_RATIO = 1.5;

/**
 * The anomaly whose false-positive verdict dismisses this window: a pattern that verdict stored (see
 * Pipeline.feedback) among the window's nearest normal patterns, at most kNN's boundary away (as close as
 * the series' normal windows are to theirs), of the same type, with this window scoring at most
 * DISMISS_MAX_RATIO times what the dismissed anomaly scored. A bigger incident of the same kind alerts.
 */
function dismissedBy(knn: DetectorScore | undefined, score: number, type: AnomalyType, attrs: readonly Attribution[]): string | undefined {
  if (!knn || Number.isNaN(knn.threshold) || !(score > 1)) return undefined;
  for (const n of knn.output.neighbours ?? []) {
    const m = n.meta;
    if (n.distance > knn.threshold || m?.verdict !== 'false_positive' || m.score === undefined) continue;
    if (m.type === type && score <= DISMISS_MAX_RATIO * m.score && !newEvidence(attrs, m.moved ?? [])) return m.anomalyId ?? n.id;
  }
  return undefined;
}

/**
 * Whether a feature of this window is past its band further than the dismissed anomaly had it (in the same
 * direction, DISMISS_MAX_RATIO times its z): a burst of errors on top of a dismissed traffic pattern is news
 * even while the traffic decides the type and the score.
 */
function newEvidence(attrs: readonly Attribution[], moved: readonly { feature: string; z: number }[]): boolean {
  for (const a of attrs) {
    if (!outsideBand(a)) continue;
    const was = moved.find((x) => x.feature === a.feature);
    if (!was || Math.sign(was.z) !== Math.sign(a.z) || Math.abs(a.z) > DISMISS_MAX_RATIO * Math.abs(was.z)) return true;
  }
  return false;
}
