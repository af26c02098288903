/**
 * NAB (Numenta Anomaly Benchmark, v1.1) scoring, reimplemented from the rules written down in
 * `../shared/data/README.md` ("How NAB scores") and checked against NAB's published results by
 * `self-check.ts`. Pure functions only: loading the data lives in `nab-data.ts`.
 *
 * Vocabulary: a *series* is one corpus file (e.g. `realTraffic/speed_7578.csv`); a *row* is one of its
 * timestamped values; a *window* is a labelled anomaly span; a *detection* is a row whose anomaly score
 * is >= the threshold.
 */
import { NabDataError } from './errors';

/** The three NAB cost profiles, in the order NAB reports them. */
export const PROFILE_NAMES = ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate'] as const;

/** Name of a NAB cost profile. */
export type ProfileName = (typeof PROFILE_NAMES)[number];

/** Weights of one cost profile (NAB's `CostMatrix`; `tnWeight` is unused by the scoring rules). */
export interface CostProfile {
  /** Reward for detecting a window at its very first row. */
  readonly tp: number;
  /** Cost of a detection far from any window (scaled down close after a window). */
  readonly fp: number;
  /** Cost of a window without any detection. */
  readonly fn: number;
}

/** The three cost profiles by name. */
export type CostProfiles = Readonly<Record<ProfileName, CostProfile>>;

/**
 * Fraction of each series NAB leaves unscored so detectors can learn.
 * @default 0.15
 */
export const DEFAULT_PROBATION_PERCENT = 0.15;

/**
 * Threshold NAB starts its sweep at: above every score in [0, 1], so it stands for "detect nothing".
 */
export const NAB_START_THRESHOLD = 1.1;

/** A labelled anomaly window as stored in `combined_windows.json`, with both ends parsed. */
export interface NabWindow {
  /** Start timestamp as written in the labels file. */
  readonly start: string;
  /** End timestamp (inclusive) as written in the labels file. */
  readonly end: string;
  /** `start` in epoch milliseconds (UTC). */
  readonly startMs: number;
  /** `end` in epoch milliseconds (UTC). */
  readonly endMs: number;
}

/** A window located in a series: both ends as row indices, inclusive. */
export interface WindowSpan {
  /** Index of the first row of the window. */
  readonly start: number;
  /** Index of the last row of the window. */
  readonly end: number;
}

/**
 * Everything about one series the scoring needs except the detector's scores: computed once per
 * series and shared by every profile and threshold.
 */
export interface PreparedSeries {
  /** Corpus id, e.g. `realTraffic/speed_7578.csv`. */
  readonly fileId: string;
  /** Number of rows in the series. */
  readonly length: number;
  /** Rows with index < `probation` are not scored. */
  readonly probation: number;
  /** The series' windows as row spans, in time order. */
  readonly windows: readonly WindowSpan[];
  /** Per row: index into `windows` of the window the row belongs to, or -1 outside every window. */
  readonly windowIndex: Int32Array;
  /**
   * Per row: the unweighted scaled-sigmoid value. Inside a window it is multiplied by `tp / s(-1)`,
   * outside by `fp` (it is -1 before the first window and negative after one).
   */
  readonly sigmoid: Float64Array;
  /** Windows with at least one scorable (post-probation) row; only these count as TP or FN. */
  readonly scoredWindowCount: number;
}

/** A series together with the anomaly score a detector gave each of its rows. */
export interface ScoredSeries {
  /** The prepared series. */
  readonly series: PreparedSeries;
  /** One anomaly score per row, same length as the series; higher means more anomalous. */
  readonly scores: ArrayLike<number>;
}

/** Result of scoring one series at one threshold under one profile (a row of NAB's `_scores.csv`). */
export interface FileScore {
  /** Corpus id of the series. */
  readonly fileId: string;
  /** Threshold used: rows with score >= threshold are detections. */
  readonly threshold: number;
  /** NAB score of the series (not normalised). */
  readonly score: number;
  /** Scorable rows inside windows that are detections. */
  readonly tp: number;
  /** Scorable rows outside windows that are not detections. */
  readonly tn: number;
  /** Scorable rows outside windows that are detections. */
  readonly fp: number;
  /** Scorable rows inside windows that are not detections. */
  readonly fn: number;
  /** All rows of the series, probation included (NAB's `Total_Count`). */
  readonly totalCount: number;
  /** Scored windows with at least one detection. */
  readonly windowsDetected: number;
  /** Scored windows. */
  readonly windowCount: number;
}

/** The threshold a sweep chose and the corpus score it gives. */
export interface ThresholdChoice {
  /** Best threshold (rows with score >= threshold are detections). */
  readonly threshold: number;
  /** Raw corpus score (sum over series) at that threshold. */
  readonly score: number;
}

/** Corpus-level result for one profile. */
export interface ProfileScore {
  /** Profile name. */
  readonly profile: ProfileName;
  /** Threshold used for every series. */
  readonly threshold: number;
  /** Whether `threshold` came from the sweep (true) or was given by the caller (false). */
  readonly optimized: boolean;
  /** Sum of the per-series scores. */
  readonly rawScore: number;
  /** `rawScore` normalised so that the null detector scores 0 and a perfect one 100. */
  readonly normalizedScore: number;
  /** Scored windows in the corpus (116 for the full NAB corpus). */
  readonly windowCount: number;
  /** Per-series results, in input order. */
  readonly files: readonly FileScore[];
}

/** Corpus results for every profile. */
export type CorpusScore = Readonly<Record<ProfileName, ProfileScore>>;

/**
 * Rows NAB leaves unscored at the start of a series: `min(floor(p * n), p * 5000)`, i.e. 15 % capped
 * at 750 rows with the default `p`.
 */
export function probationLength(rowCount: number, probationPercent = DEFAULT_PROBATION_PERCENT): number {
  return Math.min(Math.floor(probationPercent * rowCount), probationPercent * 5000);
}

/**
 * NAB's scaled sigmoid: `2 / (1 + e^(5x)) - 1`, pinned to -1 for `x > 3` (far after a window).
 * Positive for x < 0 (inside a window), 0 at the window's end, negative after it.
 */
export function scaledSigmoid(x: number): number {
  if (x > 3) return -1;
  return 2 / (1 + Math.exp(5 * x)) - 1;
}

/** `scaledSigmoid(-1)`: in-window weights are divided by it so the first row of a window weighs exactly `tp`. */
const SIGMOID_AT_WINDOW_START = scaledSigmoid(-1);

/**
 * Weight of row `i` of a prepared series under a profile: positive inside a window (largest at its
 * first row), negative outside.
 */
export function rowWeight(series: PreparedSeries, i: number, profile: CostProfile): number {
  const s = series.sigmoid[i];
  // Same operation order as NAB (s * tp / s(-1)) so weights agree to the last bit where possible.
  return series.windowIndex[i] >= 0 ? (s * profile.tp) / SIGMOID_AT_WINDOW_START : s * profile.fp;
}

/**
 * Locates a series' windows and precomputes every row's window membership and sigmoid value.
 *
 * Window ends are matched to rows by exact timestamp (first matching row, as NAB's
 * `timestamps.index()`); membership follows NAB's own loop, comparing times against the current window.
 * Rows are taken in file order, which is NAB's order even where a file's timestamps repeat.
 *
 * @param fileId corpus id, used in errors and results.
 * @param timestampsMs row timestamps in epoch ms, in file order.
 * @param windows the series' labelled windows, in time order.
 * @param probationPercent see {@link DEFAULT_PROBATION_PERCENT}.
 * @throws NabDataError when a window end matches no row or windows overlap or are out of order.
 */
export function prepareSeries(
  fileId: string,
  timestampsMs: ArrayLike<number>,
  windows: readonly NabWindow[],
  probationPercent = DEFAULT_PROBATION_PERCENT,
): PreparedSeries {
  const n = timestampsMs.length;
  const firstIndexOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    if (!firstIndexOf.has(timestampsMs[i])) firstIndexOf.set(timestampsMs[i], i);
  }
  const spans: WindowSpan[] = windows.map((w, k) => {
    const start = firstIndexOf.get(w.startMs);
    const end = firstIndexOf.get(w.endMs);
    if (start === undefined || end === undefined) {
      throw new NabDataError(fileId, `window ${k} [${w.start}, ${w.end}] does not match row timestamps`);
    }
    if (end < start || w.endMs < w.startMs) {
      throw new NabDataError(fileId, `window ${k} [${w.start}, ${w.end}] ends before it starts`);
    }
    if (k > 0 && w.startMs <= windows[k - 1].endMs) {
      throw new NabDataError(fileId, `window ${k} [${w.start}, ${w.end}] overlaps or precedes window ${k - 1}`);
    }
    return { start, end };
  });

  const windowIndex = new Int32Array(n).fill(-1);
  const sigmoid = new Float64Array(n);
  let k = 0;
  let curRight = -1;
  let curWidth = 0;
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const t = timestampsMs[i];
    const cur = k < windows.length ? windows[k] : undefined;
    if (cur !== undefined && t === cur.startMs) {
      curRight = spans[k].end;
      curWidth = spans[k].end - spans[k].start + 1;
    }
    if (cur !== undefined && cur.startMs <= t && t <= cur.endMs) {
      if (curRight < 0) {
        // Only possible when timestamps go backwards into a window before its first row was seen.
        throw new NabDataError(fileId, `row ${i} falls inside window ${k} before the window's first row`);
      }
      windowIndex[i] = k;
      sigmoid[i] = scaledSigmoid(-(curRight - i + 1) / curWidth);
    } else if (prevRight < 0) {
      sigmoid[i] = -1;
    } else {
      sigmoid[i] = scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1));
    }
    if (cur !== undefined && t === cur.endMs) {
      prevRight = i;
      prevWidth = curWidth;
      curRight = -1;
      k++;
    }
  }

  const probation = probationLength(n, probationPercent);
  const scoredWindowCount = spans.filter((s) => s.end >= probation).length;
  return { fileId, length: n, probation, windows: spans, windowIndex, sigmoid, scoredWindowCount };
}

/** First scorable row index (probation may be fractional in principle; NAB compares `i >= probation`). */
function firstScoredRow(series: PreparedSeries): number {
  return Math.max(0, Math.ceil(series.probation));
}

/**
 * Scores one series at a given threshold under one profile: every undetected window costs `fn`, a
 * detected window earns the largest weight among its detected rows, each detection outside windows adds
 * its (negative) weight.
 *
 * @throws RangeError when `scores` and the series differ in length.
 */
export function scoreFile(
  series: PreparedSeries,
  scores: ArrayLike<number>,
  threshold: number,
  profile: CostProfile,
): FileScore {
  if (scores.length !== series.length) {
    throw new RangeError(`${series.fileId}: ${scores.length} scores for ${series.length} rows`);
  }
  const best = new Float64Array(series.windows.length).fill(Number.NEGATIVE_INFINITY);
  let tp = 0;
  let tn = 0;
  let fp = 0;
  let fn = 0;
  let fpScore = 0;
  for (let i = firstScoredRow(series); i < series.length; i++) {
    const detected = scores[i] >= threshold;
    const w = series.windowIndex[i];
    if (w >= 0) {
      if (detected) {
        tp++;
        const weight = rowWeight(series, i, profile);
        if (weight > best[w]) best[w] = weight;
      } else {
        fn++;
      }
    } else if (detected) {
      fp++;
      fpScore += rowWeight(series, i, profile);
    } else {
      tn++;
    }
  }
  let windowScore = 0;
  let windowsDetected = 0;
  for (let w = 0; w < series.windows.length; w++) {
    if (series.windows[w].end < series.probation) continue;
    if (best[w] === Number.NEGATIVE_INFINITY) {
      windowScore -= profile.fn;
    } else {
      windowScore += best[w];
      windowsDetected++;
    }
  }
  return {
    fileId: series.fileId,
    threshold,
    score: fpScore + windowScore,
    tp,
    tn,
    fp,
    fn,
    totalCount: series.length,
    windowsDetected,
    windowCount: series.scoredWindowCount,
  };
}

/**
 * Scorable rows of a whole corpus sorted by descending anomaly score, built once and swept once per
 * profile by {@link optimizeThreshold}. Structure-of-arrays so the sweep is a linear scan.
 */
export interface CorpusSweep {
  /** Anomaly scores of every scorable row, descending. */
  readonly scores: Float64Array;
  /** Sigmoid value of the same rows (see {@link PreparedSeries.sigmoid}). */
  readonly sigmoid: Float64Array;
  /** Corpus-wide window id of the same rows, -1 outside windows. */
  readonly window: Int32Array;
  /** Number of scored windows in the corpus. */
  readonly windowCount: number;
}

/**
 * Gathers the scorable rows of every series and sorts them by score, descending (O(n log n), once).
 *
 * @throws NabDataError when a score is not a finite number; RangeError on a length mismatch.
 */
export function createCorpusSweep(inputs: readonly ScoredSeries[]): CorpusSweep {
  let total = 0;
  for (const { series, scores } of inputs) {
    if (scores.length !== series.length) {
      throw new RangeError(`${series.fileId}: ${scores.length} scores for ${series.length} rows`);
    }
    total += series.length - firstScoredRow(series);
  }
  const rawScores = new Float64Array(total);
  const rawSigmoid = new Float64Array(total);
  const rawWindow = new Int32Array(total);
  let at = 0;
  let windowOffset = 0;
  for (const { series, scores } of inputs) {
    // Corpus-wide window ids; a window entirely inside probation gets an id but no rows, and is not counted.
    const remap = new Int32Array(series.windows.length).fill(-1);
    let scored = 0;
    for (let w = 0; w < series.windows.length; w++) {
      if (series.windows[w].end >= series.probation) remap[w] = windowOffset + scored++;
    }
    windowOffset += scored;
    for (let i = firstScoredRow(series); i < series.length; i++, at++) {
      const s = scores[i];
      if (!Number.isFinite(s)) throw new NabDataError(series.fileId, `row ${i}: anomaly score ${s} is not finite`);
      rawScores[at] = s;
      rawSigmoid[at] = series.sigmoid[i];
      const w = series.windowIndex[i];
      rawWindow[at] = w >= 0 ? remap[w] : -1;
    }
  }
  const order = new Uint32Array(total);
  for (let i = 0; i < total; i++) order[i] = i;
  order.sort((a, b) => rawScores[b] - rawScores[a]);
  const sorted: CorpusSweep = {
    scores: new Float64Array(total),
    sigmoid: new Float64Array(total),
    window: new Int32Array(total),
    windowCount: windowOffset,
  };
  for (let i = 0; i < total; i++) {
    const j = order[i];
    sorted.scores[i] = rawScores[j];
    sorted.sigmoid[i] = rawSigmoid[j];
    sorted.window[i] = rawWindow[j];
  }
  return sorted;
}

/**
 * A threshold above every score, so that nothing is detected: NAB's 1.1 for scores in [0, 1], something
 * larger for detectors whose scores go beyond it.
 */
export function noDetectionThreshold(maxScore: number): number {
  return maxScore < NAB_START_THRESHOLD ? NAB_START_THRESHOLD : maxScore + Math.max(1, Math.abs(maxScore));
}

/**
 * Chooses the corpus-wide threshold with the highest total score, the NAB way: every distinct score
 * value is a candidate (detections are rows with score >= it), plus "detect nothing" (1.1 for [0, 1]
 * scores). One linear pass over the presorted rows, updating the running total as the threshold drops.
 * Ties go to the higher threshold, as in NAB (a stable sort of thresholds in descending order).
 */
export function optimizeThreshold(sweep: CorpusSweep, profile: CostProfile): ThresholdChoice {
  const { scores, sigmoid, window, windowCount } = sweep;
  const best = new Float64Array(windowCount).fill(-profile.fn);
  let windowSum = 0 - profile.fn * windowCount; // 0 - x, not -x: no -0 score for an empty corpus
  let fpSum = 0;
  let choice: ThresholdChoice = {
    threshold: noDetectionThreshold(scores.length > 0 ? scores[0] : 0),
    score: windowSum,
  };
  const tpScale = profile.tp / SIGMOID_AT_WINDOW_START;
  let i = 0;
  while (i < scores.length) {
    const value = scores[i];
    for (; i < scores.length && scores[i] === value; i++) {
      const w = window[i];
      if (w >= 0) {
        const weight = sigmoid[i] * tpScale;
        if (weight > best[w]) {
          windowSum += weight - best[w];
          best[w] = weight;
        }
      } else {
        fpSum += sigmoid[i] * profile.fp;
      }
    }
    const total = fpSum + windowSum;
    if (total > choice.score) choice = { threshold: value, score: total };
  }
  return choice;
}

/**
 * NAB normalisation: `100 * (S - S_null) / (S_perfect - S_null)` with `S_perfect = windows * tp` and
 * `S_null = -windows * fn` (the null detector misses every window and raises nothing).
 */
export function normalizeScore(rawScore: number, profile: CostProfile, windowCount: number): number {
  const perfect = windowCount * profile.tp;
  const nullScore = -windowCount * profile.fn;
  return (100 * (rawScore - nullScore)) / (perfect - nullScore);
}

/** Options of {@link scoreCorpus}. */
export interface ScoreCorpusOptions {
  /** Fixed thresholds per profile (e.g. published ones); profiles left out are optimised. */
  readonly thresholds?: Partial<Record<ProfileName, number>>;
  /** A sweep already built from the same inputs, to avoid sorting again. */
  readonly sweep?: CorpusSweep;
}

/**
 * Scores a corpus under every profile: the threshold is optimised over the whole corpus (or taken from
 * `options.thresholds`), then each series is scored at it and the scores are summed and normalised.
 */
export function scoreCorpus(
  inputs: readonly ScoredSeries[],
  profiles: CostProfiles,
  options: ScoreCorpusOptions = {},
): CorpusScore {
  let sweep = options.sweep;
  const windowCount = inputs.reduce((sum, { series }) => sum + series.scoredWindowCount, 0);
  const result = {} as Record<ProfileName, ProfileScore>;
  for (const name of PROFILE_NAMES) {
    const profile = profiles[name];
    const fixed = options.thresholds?.[name];
    let threshold: number;
    if (fixed === undefined) {
      sweep ??= createCorpusSweep(inputs);
      threshold = optimizeThreshold(sweep, profile).threshold;
    } else {
      threshold = fixed;
    }
    const files = inputs.map(({ series, scores }) => scoreFile(series, scores, threshold, profile));
    const rawScore = files.reduce((sum, f) => sum + f.score, 0);
    result[name] = {
      profile: name,
      threshold,
      optimized: fixed === undefined,
      rawScore,
      normalizedScore: normalizeScore(rawScore, profile, windowCount),
      windowCount,
      files,
    };
  }
  return result;
}
