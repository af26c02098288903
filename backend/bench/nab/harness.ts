/**
 * NAB benchmark harness: runs a streaming detector over the NAB corpus under the benchmark's rules (a
 * fresh detector per file, rows one at a time in file order, no look-ahead, one configuration for all
 * files), writes NAB-format result files, chooses the corpus threshold per profile the NAB way and
 * reports normalised scores. The scorer self-check runs first: a failing scorer makes every number
 * meaningless, so the run stops there.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { NabDetectorError, NabSelfCheckError } from './errors';
import {
  loadProfiles,
  loadPublishedFinalResults,
  loadWindows,
  readSeries,
  resolveNabDir,
  type NabSeries,
  type PublishedFinalResults,
} from './nab-data';
import { PROFILE_NAMES, prepareSeries, scoreCorpus, type CorpusScore, type ProfileName, type ScoredSeries } from './scorer';
import { runSelfCheck, type SelfCheckResult } from './self-check';

/** A detector instance for one series. */
export interface StreamingDetector {
  /**
   * Scores the next row. Called once per row, in file order, never before the previous call settled.
   * Returns any finite real number; higher means more anomalous.
   */
  score(timestampMs: number, value: number): number | Promise<number>;
  /** Releases resources once the series is done (also called after a failure). */
  close?(): void | Promise<void>;
}

/** Creates a fresh detector for one series; `fileId` is the corpus id, e.g. `realTraffic/speed_7578.csv`. */
export type StreamingDetectorFactory = (fileId: string) => StreamingDetector;

/** Default output directory, relative to the working directory. */
export const DEFAULT_NAB_OUT_DIR = 'bench-results/nab';

/** Options of {@link runNab}. */
export interface RunNabOptions {
  /** Creates one detector per series. */
  readonly factory: StreamingDetectorFactory;
  /** Where result CSVs and summaries go, resolved against the working directory. @default 'bench-results/nab' */
  readonly outDir?: string;
  /** NAB data directory. @default resolveNabDir() ($SENTINEL_NAB_DIR or ../shared/data/nab) */
  readonly nabDir?: string;
  /** Series processed at the same time (each series stays strictly sequential). @default 1 */
  readonly concurrency?: number;
  /**
   * Corpus ids to run (e.g. for quick tests). @default every file in combined_windows.json. Scores over a
   * subset are normalised over that subset's windows and are not comparable with the scoreboard.
   */
  readonly files?: readonly string[];
  /** Name shown for our detector in the scoreboard. @default 'LLM-Sentinel' */
  readonly detectorName?: string;
  /** Progress lines (one per finished file). @default no output */
  readonly log?: (line: string) => void;
}

/** Timing and size of one series' run. */
export interface FileRun {
  /** Corpus id. */
  readonly fileId: string;
  /** Rows fed to the detector. */
  readonly rows: number;
  /** Wall time from the factory call to `close()` returning. */
  readonly elapsedMs: number;
}

/** Summary written to `summary.json`: the three normalised scores. */
export type NabSummary = Readonly<Record<ProfileName, number>>;

/** What {@link runNab} returns. */
export interface NabRunResult {
  /** Name of the detector under test. */
  readonly detectorName: string;
  /** Absolute output directory. */
  readonly outDir: string;
  /** Absolute NAB data directory used. */
  readonly nabDir: string;
  /** True when only some corpus files were run. */
  readonly partial: boolean;
  /** Series run. */
  readonly fileCount: number;
  /** Rows fed to detectors over all series. */
  readonly rowCount: number;
  /** Normalised score per profile (the content of `summary.json`). */
  readonly summary: NabSummary;
  /** Thresholds, raw and normalised scores and per-file results per profile. */
  readonly scores: CorpusScore;
  /** The scorer self-check that preceded the run (always `ok` in a returned result). */
  readonly selfCheck: SelfCheckResult;
  /** Per-series timing, in corpus order. */
  readonly files: readonly FileRun[];
  /** Wall time of the whole run, self-check included. */
  readonly elapsedMs: number;
  /** Wall time spent running detectors (all series, with concurrency overlapping them). */
  readonly detectorElapsedMs: number;
  /** Wall time of threshold optimisation and scoring. */
  readonly scoringElapsedMs: number;
}

function isPromiseLike(v: unknown): v is PromiseLike<number> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

/** Feeds one series to a fresh detector, strictly one row after another. */
async function runSeries(series: NabSeries, factory: StreamingDetectorFactory): Promise<Float64Array> {
  const { fileId, timestampsMs, values } = series;
  let detector: StreamingDetector;
  try {
    detector = factory(fileId);
  } catch (cause) {
    throw new NabDetectorError(fileId, -1, 'detector factory failed', { cause });
  }
  const scores = new Float64Array(timestampsMs.length);
  let failure: unknown;
  try {
    for (let i = 0; i < timestampsMs.length; i++) {
      let score: number;
      try {
        const out = detector.score(timestampsMs[i], values[i]);
        // Awaiting only real promises keeps synchronous detectors off the microtask queue (~370k rows).
        score = isPromiseLike(out) ? await out : out;
      } catch (cause) {
        throw new NabDetectorError(fileId, i, 'detector threw', { cause });
      }
      if (typeof score !== 'number' || !Number.isFinite(score)) {
        throw new NabDetectorError(fileId, i, `detector returned ${String(score)}, expected a finite number`);
      }
      scores[i] = score;
    }
  } catch (error) {
    failure = error;
  }
  try {
    await detector.close?.();
  } catch (cause) {
    // A failure while scoring is the more useful error; report close() only when it is the only one.
    failure ??= new NabDetectorError(fileId, -1, 'detector close() failed', { cause });
  }
  if (failure !== undefined) throw failure;
  return scores;
}

/** NAB's results layout, one file per series: `timestamp,value,anomaly_score,label`. */
function resultCsv(series: NabSeries, scores: Float64Array, windowIndex: Int32Array): string {
  const lines = ['timestamp,value,anomaly_score,label'];
  for (let i = 0; i < scores.length; i++) {
    lines.push(`${series.timestamps[i]},${series.valueText[i]},${scores[i]},${windowIndex[i] >= 0 ? 1 : 0}`);
  }
  return `${lines.join('\n')}\n`;
}

/** JSON has no Infinity; a "detect nothing" threshold above huge scores could be one. */
function jsonNumber(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

/**
 * Runs the NAB benchmark for one detector.
 *
 * Writes `<outDir>/<category>/<file>.csv` per series, `<outDir>/summary.json`
 * (`{"standard", "reward_low_FP_rate", "reward_low_FN_rate"}`, normalised) and
 * `<outDir>/summary-details.json` (thresholds, raw scores, per-file scores and counts, timings).
 *
 * @throws NabSelfCheckError when the scorer does not reproduce NAB's published numenta results.
 * @throws NabDetectorError when a detector throws or returns a non-finite score (the run stops).
 * @throws NabDataError when the NAB data cannot be read.
 */
export async function runNab(options: RunNabOptions): Promise<NabRunResult> {
  const started = performance.now();
  const nabDir = path.resolve(options.nabDir ?? resolveNabDir());
  const outDir = path.resolve(options.outDir ?? DEFAULT_NAB_OUT_DIR);
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  }
  const log = options.log ?? (() => {});
  const detectorName = options.detectorName ?? 'LLM-Sentinel';

  const selfCheck = runSelfCheck({ nabDir });
  if (!selfCheck.ok) throw new NabSelfCheckError(selfCheck.failures);
  log(
    `scorer self-check ok in ${(selfCheck.elapsedMs / 1000).toFixed(1)} s: numenta ` +
      PROFILE_NAMES.map((p) => selfCheck.profiles[p].normalized.toFixed(2)).join(' / '),
  );

  const profiles = loadProfiles(nabDir);
  const windows = loadWindows(nabDir);
  const fileIds = options.files ?? [...windows.keys()];
  for (const id of fileIds) {
    if (!windows.has(id)) throw new RangeError(`${id} is not a NAB corpus file`);
  }

  const detectorStarted = performance.now();
  const inputs: ScoredSeries[] = new Array(fileIds.length);
  const runs: FileRun[] = new Array(fileIds.length);
  let next = 0;
  let done = 0;
  let firstError: unknown;
  const worker = async (): Promise<void> => {
    // Stop taking new series once one failed; series already running finish (their detectors get closed).
    while (firstError === undefined && next < fileIds.length) {
      const at = next++;
      const fileId = fileIds[at];
      try {
        const fileStarted = performance.now();
        const data = readSeries(nabDir, fileId);
        const series = prepareSeries(fileId, data.timestampsMs, windows.get(fileId) ?? []);
        const scores = await runSeries(data, options.factory);
        const elapsedMs = performance.now() - fileStarted;
        const target = path.join(outDir, fileId);
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, resultCsv(data, scores, series.windowIndex));
        inputs[at] = { series, scores };
        runs[at] = { fileId, rows: data.timestampsMs.length, elapsedMs };
        done++;
        log(`[${done}/${fileIds.length}] ${fileId}: ${data.timestampsMs.length} rows in ${elapsedMs.toFixed(0)} ms`);
      } catch (error) {
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, fileIds.length) }, worker));
  if (firstError !== undefined) throw firstError;
  const detectorElapsedMs = performance.now() - detectorStarted;

  const scoringStarted = performance.now();
  const scores = scoreCorpus(inputs, profiles);
  const scoringElapsedMs = performance.now() - scoringStarted;
  const summary = Object.fromEntries(PROFILE_NAMES.map((p) => [p, scores[p].normalizedScore])) as NabSummary;
  const elapsedMs = performance.now() - started;
  const result: NabRunResult = {
    detectorName,
    outDir,
    nabDir,
    partial: fileIds.length !== windows.size,
    fileCount: fileIds.length,
    rowCount: runs.reduce((sum, r) => sum + r.rows, 0),
    summary,
    scores,
    selfCheck,
    files: runs,
    elapsedMs,
    detectorElapsedMs,
    scoringElapsedMs,
  };

  await writeFile(path.join(outDir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  await writeFile(path.join(outDir, 'summary-details.json'), `${JSON.stringify(detailsJson(result), null, 2)}\n`);
  return result;
}

/** The content of `summary-details.json`. */
function detailsJson(result: NabRunResult): unknown {
  return {
    detector: result.detectorName,
    generatedAt: new Date().toISOString(),
    nabDir: result.nabDir,
    partial: result.partial,
    fileCount: result.fileCount,
    rowCount: result.rowCount,
    elapsedMs: result.elapsedMs,
    detectorElapsedMs: result.detectorElapsedMs,
    scoringElapsedMs: result.scoringElapsedMs,
    selfCheck: {
      ok: result.selfCheck.ok,
      elapsedMs: result.selfCheck.elapsedMs,
      numentaNormalized: Object.fromEntries(PROFILE_NAMES.map((p) => [p, result.selfCheck.profiles[p].normalized])),
    },
    profiles: Object.fromEntries(
      PROFILE_NAMES.map((p) => {
        const s = result.scores[p];
        return [
          p,
          {
            threshold: jsonNumber(s.threshold),
            rawScore: s.rawScore,
            normalizedScore: s.normalizedScore,
            windowCount: s.windowCount,
            files: s.files.map((f) => ({ ...f, threshold: jsonNumber(f.threshold) })),
          },
        ];
      }),
    ),
    files: result.files,
  };
}

/** One line of a scoreboard: normalised scores per profile. */
export interface ScoreboardEntry {
  /** Detector name as shown. */
  readonly name: string;
  /** Where the numbers come from. */
  readonly source: string;
  /** Normalised scores. */
  readonly scores: Readonly<Record<ProfileName, number>>;
}

/**
 * The NAB README scoreboard (standard / low FP / low FN), as quoted in `../shared/data/README.md`
 * ("Scoreboard"). It includes detectors (e.g. ARTime's later figures, Numenta HTM 70.5) that differ from
 * or are missing in `published/final_results.json`, so both are shown.
 */
export const NAB_README_SCOREBOARD: readonly ScoreboardEntry[] = (
  [
    ['ARTime', 74.9, 65.1, 80.4],
    ['Numenta HTM', 70.5, 62.6, 75.2],
    ['CAD OSE', 69.9, 67.0, 73.2],
    ['earthgecko Skyline', 58.2, 46.2, 63.9],
    ['KNN CAD', 58.0, 43.4, 64.8],
    ['Relative Entropy', 54.6, 47.6, 58.8],
    ['Random Cut Forest', 51.7, 38.4, 59.7],
    ['Twitter ADVec', 47.1, 33.6, 53.5],
    ['Windowed Gaussian', 39.6, 20.9, 47.4],
    ['Etsy Skyline', 35.7, 27.1, 44.5],
    ['Random', 11.0, 1.2, 19.5],
  ] as const
).map(([name, standard, lowFp, lowFn]) => ({
  name,
  source: 'NAB README',
  scores: { standard, reward_low_FP_rate: lowFp, reward_low_FN_rate: lowFn },
}));

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`;
}

/**
 * Renders our normalised scores ranked among the published scoreboard: every detector of
 * `published/final_results.json` plus {@link NAB_README_SCOREBOARD}, sorted by the standard profile.
 *
 * @param published final results to compare with. @default loadPublishedFinalResults(result.nabDir)
 */
export function formatScoreboard(result: NabRunResult, published?: PublishedFinalResults): string {
  const finals = published ?? loadPublishedFinalResults(result.nabDir);
  const ours: ScoreboardEntry = { name: result.detectorName, source: 'this run', scores: result.summary };
  const entries: ScoreboardEntry[] = [
    ours,
    ...Object.entries(finals).map(([name, scores]) => ({ name, source: 'final_results.json', scores })),
    ...NAB_README_SCOREBOARD,
  ].sort((a, b) => b.scores.standard - a.scores.standard);

  const nameWidth = Math.max(...entries.map((e) => e.name.length), 'detector'.length);
  const sourceWidth = Math.max(...entries.map((e) => e.source.length), 'source'.length);
  const num = (v: number): string => v.toFixed(2).padStart(8);
  const lines = [
    `NAB scoreboard, normalised (null detector = 0, perfect = 100), ranked by standard`,
    `${'  '}${'detector'.padEnd(nameWidth)}  ${'source'.padEnd(sourceWidth)}  standard    low FP    low FN`,
  ];
  for (const e of entries) {
    const mark = e === ours ? '> ' : '  ';
    lines.push(
      `${mark}${e.name.padEnd(nameWidth)}  ${e.source.padEnd(sourceWidth)}  ${num(e.scores.standard)}  ` +
        `${num(e.scores.reward_low_FP_rate)}  ${num(e.scores.reward_low_FN_rate)}`,
    );
  }
  lines.push('');
  lines.push(
    `thresholds: ${PROFILE_NAMES.map((p) => `${p} ${result.scores[p].threshold}`).join(', ')}`,
    `${result.fileCount} files, ${result.rowCount} rows; elapsed ${formatMs(result.elapsedMs)} ` +
      `(detector ${formatMs(result.detectorElapsedMs)}, scoring ${formatMs(result.scoringElapsedMs)}, ` +
      `self-check ${formatMs(result.selfCheck.elapsedMs)})`,
    `scorer self-check: reproduced numenta ${PROFILE_NAMES.map((p) => result.selfCheck.profiles[p].normalized.toFixed(2)).join(' / ')} ` +
      `(published ${PROFILE_NAMES.map((p) => result.selfCheck.profiles[p].publishedNormalized.toFixed(2)).join(' / ')})`,
  );
  if (result.partial) {
    lines.push(`WARNING: partial corpus (${result.fileCount} files); scores are not comparable with the scoreboard`);
  }
  return lines.join('\n');
}
