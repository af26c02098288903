/**
 * Reading the NAB corpus, labels, profiles and published results from `../shared/data/nab` (kept
 * outside the repository, unchanged). Synchronous reads: the whole corpus is ~10 MB and the benchmark
 * is a batch job, so streaming would only add complexity.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NabDataError } from './errors';
import { PROFILE_NAMES, type CostProfiles, type FileScore, type NabWindow, type ProfileName } from './scorer';

/** Environment variable that overrides the NAB data directory (the folder holding `data/`, `labels/`...). */
export const NAB_DIR_ENV = 'SENTINEL_NAB_DIR';

/**
 * The NAB data directory: `$SENTINEL_NAB_DIR` when set, else `../shared/data/nab` relative to the
 * repository root (resolved from this file, so it does not depend on the working directory).
 */
export function resolveNabDir(env: NodeJS.ProcessEnv = process.env): string {
  const override = env[NAB_DIR_ENV];
  if (override !== undefined && override.trim() !== '') return path.resolve(override);
  // This file is <repo>/backend/bench/nab/nab-data.ts; the data sits beside the repository.
  return fileURLToPath(new URL('../../../../shared/data/nab', import.meta.url));
}

const TIMESTAMP_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?$/;

/**
 * Parses a NAB timestamp (`2014-04-10 07:15:00` or with a fraction, `2014-04-10 07:15:00.000000`) as
 * UTC epoch milliseconds. NAB timestamps carry no zone; reading them as UTC keeps the result independent
 * of the machine's TZ. Sub-millisecond digits are dropped (the corpus has none).
 *
 * @throws NabDataError on any other format.
 */
export function parseNabTimestamp(text: string): number {
  const m = TIMESTAMP_RE.exec(text);
  if (m === null) throw new NabDataError(text, 'not a NAB timestamp (YYYY-MM-DD HH:MM:SS[.ffffff])');
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], ms);
}

/** A parsed CSV: header names and one string array per column. */
interface CsvTable {
  readonly header: readonly string[];
  readonly rows: number;
  column(name: string): string[];
}

/** Minimal CSV reader for NAB's files, which never quote or escape. */
function readCsv(file: string): CsvTable {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NabDataError(file, 'cannot read file', { cause });
  }
  const lines = text.split('\n');
  const header = lines[0].replace(/\r$/, '').split(',');
  const body: string[][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, '');
    if (line === '') continue;
    const cells = line.split(',');
    if (cells.length !== header.length) {
      throw new NabDataError(file, `line ${i + 1} has ${cells.length} fields, header has ${header.length}`);
    }
    body.push(cells);
  }
  return {
    header,
    rows: body.length,
    column(name: string): string[] {
      const at = header.indexOf(name);
      if (at < 0) throw new NabDataError(file, `no column "${name}" (columns: ${header.join(', ')})`);
      return body.map((cells) => cells[at]);
    },
  };
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new NabDataError(file, 'cannot read file', { cause });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    throw new NabDataError(file, 'not valid JSON', { cause });
  }
}

function toNumbers(file: string, column: string, cells: readonly string[]): Float64Array {
  const out = new Float64Array(cells.length);
  for (let i = 0; i < cells.length; i++) {
    const v = Number(cells[i]);
    if (cells[i].trim() === '' || Number.isNaN(v)) {
      throw new NabDataError(file, `row ${i}: ${column} "${cells[i]}" is not a number`);
    }
    out[i] = v;
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads the three cost profiles from `config/profiles.json`. */
export function loadProfiles(nabDir: string): CostProfiles {
  const file = path.join(nabDir, 'config', 'profiles.json');
  const json = readJson(file);
  const out = {} as Record<ProfileName, { tp: number; fp: number; fn: number }>;
  for (const name of PROFILE_NAMES) {
    const matrix = isRecord(json) && isRecord(json[name]) ? json[name].CostMatrix : undefined;
    if (!isRecord(matrix)) throw new NabDataError(file, `profile ${name} has no CostMatrix`);
    const weight = (key: string): number => {
      const v = matrix[key];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new NabDataError(file, `${name}.${key} is not a number`);
      return v;
    };
    out[name] = { tp: weight('tpWeight'), fp: weight('fpWeight'), fn: weight('fnWeight') };
  }
  return out;
}

/**
 * Reads `labels/combined_windows.json`: corpus id (`category/file.csv`) to its windows, in the file's
 * order (which is NAB's corpus order).
 */
export function loadWindows(nabDir: string): ReadonlyMap<string, readonly NabWindow[]> {
  const file = path.join(nabDir, 'labels', 'combined_windows.json');
  const json = readJson(file);
  if (!isRecord(json)) throw new NabDataError(file, 'expected an object of file -> windows');
  const out = new Map<string, NabWindow[]>();
  for (const [fileId, list] of Object.entries(json)) {
    if (!Array.isArray(list)) throw new NabDataError(file, `${fileId}: windows are not an array`);
    out.set(
      fileId,
      list.map((pair: unknown) => {
        if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
          throw new NabDataError(file, `${fileId}: window is not a [start, end] pair of strings`);
        }
        return { start: pair[0], end: pair[1], startMs: parseNabTimestamp(pair[0]), endMs: parseNabTimestamp(pair[1]) };
      }),
    );
  }
  return out;
}

/** One corpus series as read from `data/<category>/<file>.csv`. */
export interface NabSeries {
  /** Corpus id, e.g. `realTraffic/speed_7578.csv`. */
  readonly fileId: string;
  /** Timestamps exactly as written in the file. */
  readonly timestamps: readonly string[];
  /** Timestamps in epoch ms (UTC), file order. */
  readonly timestampsMs: Float64Array;
  /** Values exactly as written in the file (written back unchanged in result CSVs). */
  readonly valueText: readonly string[];
  /** Values as numbers. */
  readonly values: Float64Array;
}

/** Path of a corpus file, guarding against ids that would escape the data directory. */
function corpusPath(nabDir: string, fileId: string, ...prefix: string[]): string {
  if (!/^[\w.-]+\/[\w.-]+\.csv$/.test(fileId)) throw new NabDataError(fileId, 'not a corpus id (category/file.csv)');
  return path.join(nabDir, ...prefix, fileId);
}

/** Reads one corpus series. */
export function readSeries(nabDir: string, fileId: string): NabSeries {
  const file = corpusPath(nabDir, fileId, 'data');
  const csv = readCsv(file);
  const timestamps = csv.column('timestamp');
  const valueText = csv.column('value');
  return {
    fileId,
    timestamps,
    timestampsMs: Float64Array.from(timestamps, parseNabTimestamp),
    valueText,
    values: toNumbers(file, 'value', valueText),
  };
}

/** A published detector's per-row output for one series (`published/rows/<detector>/...`). */
export interface PublishedRows {
  /** Row timestamps in epoch ms (UTC). */
  readonly timestampsMs: Float64Array;
  /** The detector's `anomaly_score` column. */
  readonly anomalyScores: Float64Array;
}

/**
 * Reads a published detector's rows for one series, from
 * `published/rows/<detector>/<category>/<detector>_<file>.csv` (NAB's results layout).
 */
export function readPublishedRows(nabDir: string, detector: string, fileId: string): PublishedRows {
  const [category, name] = fileId.split('/');
  const file = corpusPath(nabDir, `${category}/${detector}_${name}`, 'published', 'rows', detector);
  const csv = readCsv(file);
  return {
    timestampsMs: Float64Array.from(csv.column('timestamp'), parseNabTimestamp),
    anomalyScores: toNumbers(file, 'anomaly_score', csv.column('anomaly_score')),
  };
}

/** One row of a published `<detector>_<profile>_scores.csv`: the columns our own FileScore also has. */
export type PublishedFileScore = Pick<FileScore, 'fileId' | 'threshold' | 'score' | 'tp' | 'tn' | 'fp' | 'fn' | 'totalCount'>;

/** A published per-file score table and its `Totals` row. */
export interface PublishedProfileScores {
  /** The corpus threshold NAB chose for this detector and profile. */
  readonly threshold: number;
  /** Per-file rows, in file order. */
  readonly files: readonly PublishedFileScore[];
  /** The `Totals` row's score (raw corpus score). */
  readonly totalScore: number;
}

/** Reads `published/<detector>_<profile>_scores.csv`. */
export function loadPublishedScores(nabDir: string, detector: string, profile: ProfileName): PublishedProfileScores {
  const file = path.join(nabDir, 'published', `${detector}_${profile}_scores.csv`);
  const csv = readCsv(file);
  const names = csv.column('File');
  const detectors = csv.column('Detector');
  const cols = {
    threshold: csv.column('Threshold'),
    score: csv.column('Score'),
    tp: csv.column('TP'),
    tn: csv.column('TN'),
    fp: csv.column('FP'),
    fn: csv.column('FN'),
    total: csv.column('Total_Count'),
  };
  const files: PublishedFileScore[] = [];
  let totalScore = Number.NaN;
  for (let i = 0; i < csv.rows; i++) {
    if (detectors[i] === 'Totals') {
      totalScore = Number(cols.score[i]);
      continue;
    }
    files.push({
      fileId: names[i],
      threshold: Number(cols.threshold[i]),
      score: Number(cols.score[i]),
      tp: Number(cols.tp[i]),
      tn: Number(cols.tn[i]),
      fp: Number(cols.fp[i]),
      fn: Number(cols.fn[i]),
      totalCount: Number(cols.total[i]),
    });
  }
  if (files.length === 0) throw new NabDataError(file, 'no per-file rows');
  const threshold = files[0].threshold;
  if (files.some((f) => f.threshold !== threshold)) throw new NabDataError(file, 'threshold differs between files');
  return { threshold, files, totalScore };
}

/** Normalised scores per detector as published in `final_results.json`. */
export type PublishedFinalResults = Readonly<Record<string, Readonly<Record<ProfileName, number>>>>;

/** Reads `published/final_results.json`. */
export function loadPublishedFinalResults(nabDir: string): PublishedFinalResults {
  const file = path.join(nabDir, 'published', 'final_results.json');
  const json = readJson(file);
  if (!isRecord(json)) throw new NabDataError(file, 'expected an object of detector -> scores');
  const out: Record<string, Record<ProfileName, number>> = {};
  for (const [detector, scores] of Object.entries(json)) {
    if (!isRecord(scores)) throw new NabDataError(file, `${detector}: scores are not an object`);
    const row = {} as Record<ProfileName, number>;
    for (const name of PROFILE_NAMES) {
      const v = scores[name];
      if (typeof v !== 'number') throw new NabDataError(file, `${detector}.${name} is not a number`);
      row[name] = v;
    }
    out[detector] = row;
  }
  return out;
}
