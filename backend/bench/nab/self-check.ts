/**
 * Scorer self-check: feeds the scorer the published numenta detector's rows with NAB's published
 * thresholds and compares against NAB's published per-file scores, counts and normalised results. A
 * benchmark number is only worth reporting if this passes, so the harness runs it before every run.
 */
import { performance } from 'node:perf_hooks';
import {
  loadProfiles,
  loadPublishedFinalResults,
  loadPublishedScores,
  loadWindows,
  readPublishedRows,
  readSeries,
  resolveNabDir,
} from './nab-data';
import {
  PROFILE_NAMES,
  createCorpusSweep,
  optimizeThreshold,
  prepareSeries,
  scoreCorpus,
  type ProfileName,
  type ScoredSeries,
} from './scorer';

/** The published detector the self-check reproduces. */
export const SELF_CHECK_DETECTOR = 'numenta';

/**
 * Largest accepted difference between a reproduced and a published score (published values carry 12
 * significant digits).
 * @default 1e-6
 */
export const SELF_CHECK_TOLERANCE = 1e-6;

/** Options of {@link runSelfCheck}. */
export interface SelfCheckOptions {
  /** NAB data directory. @default resolveNabDir() */
  readonly nabDir?: string;
  /** See {@link SELF_CHECK_TOLERANCE}. @default 1e-6 */
  readonly tolerance?: number;
}

/** Published versus reproduced result for one file and profile. */
export interface FileComparison {
  /** Corpus id. */
  readonly fileId: string;
  /** Published `Score`. */
  readonly published: number;
  /** Our score at the published threshold. */
  readonly reproduced: number;
  /** Published TP/TN/FP/FN/Total_Count. */
  readonly publishedCounts: readonly [number, number, number, number, number];
  /** Ours, same order. */
  readonly reproducedCounts: readonly [number, number, number, number, number];
}

/** Self-check outcome for one profile. */
export interface ProfileCheck {
  /** Profile name. */
  readonly profile: ProfileName;
  /** Threshold NAB published for numenta under this profile. */
  readonly publishedThreshold: number;
  /** Normalised score from `final_results.json`. */
  readonly publishedNormalized: number;
  /** Our normalised score at the published threshold. */
  readonly normalized: number;
  /** Raw corpus score of the published `Totals` row. */
  readonly publishedRawScore: number;
  /** Our raw corpus score at the published threshold. */
  readonly rawScore: number;
  /** Largest |reproduced - published| over the files. */
  readonly maxFileError: number;
  /** Threshold our optimiser picks from the numenta rows. */
  readonly optimizedThreshold: number;
  /** Raw corpus score at `optimizedThreshold`; must be >= `publishedRawScore`. */
  readonly optimizedRawScore: number;
  /** Per-file comparisons in the published file order. */
  readonly files: readonly FileComparison[];
}

/** Outcome of {@link runSelfCheck}. */
export interface SelfCheckResult {
  /** True when every comparison is within tolerance. */
  readonly ok: boolean;
  /** Tolerance used. */
  readonly tolerance: number;
  /** One line per mismatch; empty when `ok`. */
  readonly failures: readonly string[];
  /** Details per profile. */
  readonly profiles: Readonly<Record<ProfileName, ProfileCheck>>;
  /** Wall time of the check. */
  readonly elapsedMs: number;
}

/**
 * Reproduces NAB's published numenta results with our scorer. Never throws on a mismatch (it reports
 * them in `failures`); throws `NabDataError` when the data itself cannot be read.
 */
export function runSelfCheck(options: SelfCheckOptions = {}): SelfCheckResult {
  const started = performance.now();
  const nabDir = options.nabDir ?? resolveNabDir();
  const tolerance = options.tolerance ?? SELF_CHECK_TOLERANCE;
  const failures: string[] = [];
  const profiles = loadProfiles(nabDir);
  const windows = loadWindows(nabDir);
  const finals = loadPublishedFinalResults(nabDir)[SELF_CHECK_DETECTOR];
  if (finals === undefined) failures.push(`final_results.json has no "${SELF_CHECK_DETECTOR}" entry`);

  const inputs: ScoredSeries[] = [];
  for (const [fileId, fileWindows] of windows) {
    const data = readSeries(nabDir, fileId);
    const rows = readPublishedRows(nabDir, SELF_CHECK_DETECTOR, fileId);
    // The published rows must line up with the corpus rows, or the comparison below proves nothing.
    if (rows.timestampsMs.length !== data.timestampsMs.length || rows.timestampsMs.some((t, i) => t !== data.timestampsMs[i])) {
      failures.push(`${fileId}: published ${SELF_CHECK_DETECTOR} rows do not match the corpus timestamps`);
      continue;
    }
    inputs.push({ series: prepareSeries(fileId, data.timestampsMs, fileWindows), scores: rows.anomalyScores });
  }

  const published = Object.fromEntries(
    PROFILE_NAMES.map((name) => [name, loadPublishedScores(nabDir, SELF_CHECK_DETECTOR, name)]),
  ) as Record<ProfileName, ReturnType<typeof loadPublishedScores>>;
  const thresholds = Object.fromEntries(PROFILE_NAMES.map((name) => [name, published[name].threshold]));
  const sweep = createCorpusSweep(inputs);
  const corpus = scoreCorpus(inputs, profiles, { thresholds, sweep });

  const checks = {} as Record<ProfileName, ProfileCheck>;
  for (const name of PROFILE_NAMES) {
    const ours = new Map(corpus[name].files.map((f) => [f.fileId, f]));
    const files: FileComparison[] = [];
    let maxFileError = 0;
    for (const pub of published[name].files) {
      const mine = ours.get(pub.fileId);
      if (mine === undefined) {
        failures.push(`${name}: published file ${pub.fileId} is not in the corpus`);
        continue;
      }
      const comparison: FileComparison = {
        fileId: pub.fileId,
        published: pub.score,
        reproduced: mine.score,
        publishedCounts: [pub.tp, pub.tn, pub.fp, pub.fn, pub.totalCount],
        reproducedCounts: [mine.tp, mine.tn, mine.fp, mine.fn, mine.totalCount],
      };
      files.push(comparison);
      const error = Math.abs(mine.score - pub.score);
      maxFileError = Math.max(maxFileError, error);
      if (!(error <= tolerance)) failures.push(`${name} ${pub.fileId}: score ${mine.score}, published ${pub.score}`);
      if (comparison.publishedCounts.some((c, i) => c !== comparison.reproducedCounts[i])) {
        failures.push(
          `${name} ${pub.fileId}: TP/TN/FP/FN/total ${comparison.reproducedCounts.join('/')}, ` +
            `published ${comparison.publishedCounts.join('/')}`,
        );
      }
    }
    if (files.length !== ours.size) failures.push(`${name}: ${ours.size} corpus files, ${files.length} published`);

    const publishedNormalized = finals?.[name] ?? Number.NaN;
    const { normalizedScore, rawScore } = corpus[name];
    if (!(Math.abs(normalizedScore - publishedNormalized) <= tolerance)) {
      failures.push(`${name}: normalised ${normalizedScore}, published ${publishedNormalized}`);
    }
    const optimized = optimizeThreshold(sweep, profiles[name]);
    if (!(optimized.score >= published[name].totalScore - tolerance)) {
      failures.push(
        `${name}: optimiser found ${optimized.score} at ${optimized.threshold}, ` +
          `below published ${published[name].totalScore} at ${published[name].threshold}`,
      );
    }
    checks[name] = {
      profile: name,
      publishedThreshold: published[name].threshold,
      publishedNormalized,
      normalized: normalizedScore,
      publishedRawScore: published[name].totalScore,
      rawScore,
      maxFileError,
      optimizedThreshold: optimized.threshold,
      optimizedRawScore: optimized.score,
      files,
    };
  }
  return { ok: failures.length === 0, tolerance, failures, profiles: checks, elapsedMs: performance.now() - started };
}
