/**
 * Exploration tool for NAB work (not part of the benchmark's result): runs the production pipeline on NAB
 * files and dumps, per row, every detector's calibrated score next to the combined score and the alert
 * score NAB reads, so that ensemble, hold-off and calibration ideas can be re-scored offline in seconds
 * instead of a full run each (docs/BENCHMARKS.md marks such results "offline": they do not feed verdicts
 * back into learning, but reproduce the pipeline's own alert score exactly when they apply the same rules).
 *
 *   npx tsx backend/bench/nab/explore.ts dump <dir> [shard] [shards]   (run shards in parallel processes)
 *   npx tsx backend/bench/nab/explore.ts score <dir> [column]          (default column: alert)
 *   npx tsx backend/bench/nab/explore.ts replay <dir>
 *
 * A dump file is `<dir>/<category>__<file>.json`: `{ "cols": [...], "data": [[...per row], ...], "rules":
 * [...], "findings": [...] }`, with -1 where a detector had no opinion; `rules` names the rule detectors
 * (calibrated output), `findings` holds each row's rule finding (null when no rule fired). The pipeline's
 * configuration comes from the SENTINEL_* variables.
 *
 * `replay` rebuilds the alert column from the dumped detector scores alone, with the production ensemble
 * (combine), sustained score and hold-off (inHoldOff), prints how many rows differ from the dumped alert
 * column (0: the replay is exact) and NAB's scores of the replayed column. It is the base to copy when trying a
 * change to what happens after the detectors: the variant then only differs where the change applies (it does
 * not feed changed verdicts back into learning, which a real run does).
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { feedTime, nabPipeline } from '../../src/bench/nab-bench';
import { loadConfig } from '../../src/config';
import type { DetectorScore } from '../../src/detectors/runner';
import { BELOW_BOUNDARY, combine } from '../../src/pipeline/ensemble';
import { inHoldOff, ruleFinding } from '../../src/pipeline/incidents';
import { SustainedScore } from '../../src/pipeline/sustained';
import { DailyEnvelope, routineSustained } from '../../src/pipeline/envelope';
import { loadProfiles, loadWindows, readSeries, resolveNabDir } from './nab-data';
import { prepareSeries, scoreCorpus } from './scorer';

const dumpName = (fileId: string) => `${fileId.replace('/', '__')}.json`;

/** Runs the pipeline on every `shards`-th corpus file from `shard` and writes one dump per file. */
export async function dump(outDir: string, shard = 0, shards = 1): Promise<void> {
  const nabDir = resolveNabDir();
  const ids = [...loadWindows(nabDir).keys()].filter((_, i) => i % shards === shard);
  mkdirSync(outDir, { recursive: true });
  for (const fileId of ids) {
    const started = performance.now();
    const data = readSeries(nabDir, fileId);
    writeFileSync(path.join(outDir, dumpName(fileId)), JSON.stringify(await dumpSeries(fileId, data.timestampsMs, data.values)));
    process.stderr.write(`${fileId}: ${Math.round(performance.now() - started)} ms\n`);
  }
}

/** Runs the pipeline on one series (fed as the benchmark feeds it) and records every row's scores. */
export async function dumpSeries(fileId: string, timestampsMs: ArrayLike<number>, values: ArrayLike<number>): Promise<Dump> {
  const run = nabPipeline(fileId);
  const names = new Set<string>();
  const rules = new Set<string>();
  const findings: (string | null)[] = [];
  let row: Record<string, number> = {};
  const scorer = run.pipeline.scorer;
  const evaluate = scorer.evaluate.bind(scorer);
  scorer.evaluate = async (obs, state) => {
    const d = await evaluate(obs, state);
    row = { score: d.score, combined: d.combinedScore };
    for (const s of d.scores) {
      row[s.name] = Number.isNaN(s.threshold) ? -1 : s.score;
      names.add(s.name);
      if (s.output.calibrated) rules.add(s.name);
    }
    findings.push(ruleFinding(d.scores));
    return d;
  };
  const rows: Record<string, number>[] = [];
  for (let i = 0; i < timestampsMs.length; i++) {
    row = {};
    // The same feed as the benchmark (a repeated timestamp goes 1 ms after its predecessor).
    const { alertScore } = await run.feed(timestampsMs[i], values[i]);
    row.alert = alertScore;
    rows.push(row);
  }
  await run.close();
  const cols = ['score', 'combined', 'alert', ...names];
  return { cols, data: cols.map((c) => rows.map((r) => r[c] ?? -1)), rules: [...rules], findings };
}

/** One dump file. */
export interface Dump {
  cols: string[];
  data: number[][];
  rules: string[];
  findings: (string | null)[];
}

/**
 * The alert score of every row of one dump, rebuilt from its detector columns and the series' own points the
 * way Pipeline and IncidentTracker compute it for a plain series (ensemble, sustained score and its daily
 * envelope, warm-up, re-alert hold-off).
 */
export function replayAlerts(j: Dump, warmupWindows: number, realertPoints: number, series: { timestampsMs: ArrayLike<number>; values: ArrayLike<number> }): Float64Array {
  const fixed = new Set(['score', 'combined', 'alert']);
  const detectors = j.cols.map((name, k) => ({ name, k, calibrated: j.rules.includes(name) })).filter((c) => !fixed.has(c.name));
  const rows = j.data[0].length;
  const alert = new Float64Array(rows);
  const sustained = new SustainedScore();
  const envelope = new DailyEnvelope();
  let last: { seq: number; finding: string | null } | null = null;
  let t = -Infinity;
  for (let i = 0; i < rows; i++) {
    t = feedTime(series.timestampsMs[i], t);
    const value = series.values[i];
    const scores: DetectorScore[] = detectors.map((c) => {
      const score = j.data[c.k][i];
      return { name: c.name, score, threshold: score < 0 ? NaN : 1, output: { raw: score, calibrated: c.calibrated } };
    });
    const combined = combine(scores, 'points');
    let sus = sustained.evaluate(combined.level);
    if (routineSustained(sus, combined.score, sustained.window, envelope, t, value)) sus = BELOW_BOUNDARY;
    const score = Math.max(combined.score, sus);
    const anomalous = i >= warmupWindows && score > 1;
    const finding = anomalous ? j.findings[i] : null;
    // IncidentTracker sees the point after the scorer counted it: windowsSeen = i + 1.
    const held = inHoldOff(last, i + 1, realertPoints, finding, anomalous && !(sus > combined.score));
    alert[i] = held ? 0 : score;
    if (anomalous && !held) last = { seq: i + 1, finding };
    sustained.push(combined.level);
    envelope.push(t, value);
  }
  return alert;
}

/** `replay`: rows where the replayed alert score differs from the dumped one, and NAB's scores of the replay. */
export function replay(dir: string): { mismatches: number; scores: Record<string, number> } {
  const config = loadConfig(process.env, () => {});
  let mismatches = 0;
  const files = [...loadWindows(resolveNabDir()).keys()].map((fileId) => {
    const j = readDumpFile(dir, fileId);
    const dumped = j.data[j.cols.indexOf('alert')];
    const scores = replayAlerts(j, config.warmupWindows, config.realertPoints, readSeries(resolveNabDir(), fileId));
    for (let i = 0; i < scores.length; i++) if (Math.abs(scores[i] - dumped[i]) > 1e-9) mismatches++;
    return { fileId, scores };
  });
  return { mismatches, scores: scoreFiles(files) };
}

const readDumpFile = (dir: string, fileId: string) => JSON.parse(readFileSync(path.join(dir, dumpName(fileId)), 'utf8')) as Dump;

/** Per-file score columns of a dump, in corpus order. */
export function readDump(dir: string, column: string): { fileId: string; scores: Float64Array }[] {
  return [...loadWindows(resolveNabDir()).keys()].map((fileId) => {
    const j = readDumpFile(dir, fileId);
    const at = j.cols.indexOf(column);
    if (at < 0) throw new RangeError(`${fileId}: no column ${column} (have ${j.cols.join(', ')})`);
    return { fileId, scores: Float64Array.from(j.data[at]) };
  });
}

/** NAB's three normalised scores of per-file score arrays (threshold optimised per profile), and the standard threshold. */
function scoreFiles(files: readonly { fileId: string; scores: ArrayLike<number> }[]): Record<string, number> {
  const nabDir = resolveNabDir();
  const windows = loadWindows(nabDir);
  const inputs = files.map((f) => ({ series: prepareSeries(f.fileId, readSeries(nabDir, f.fileId).timestampsMs, windows.get(f.fileId) ?? []), scores: f.scores }));
  const r = scoreCorpus(inputs, loadProfiles(nabDir));
  return { standard: r.standard.normalizedScore, reward_low_FP_rate: r.reward_low_FP_rate.normalizedScore, reward_low_FN_rate: r.reward_low_FN_rate.normalizedScore, threshold: r.standard.threshold };
}

/** NAB's three normalised scores of one dump column (threshold optimised per profile). */
export function scoreDump(dir: string, column = 'alert'): Record<string, number> {
  return scoreFiles(readDump(dir, column));
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')) {
  const [command, dir, a, b] = process.argv.slice(2);
  if (command === 'dump' && dir) await dump(dir, Number(a ?? 0), Number(b ?? 1));
  else if (command === 'score' && dir) process.stdout.write(`${JSON.stringify(scoreDump(dir, a ?? 'alert'))}\n`);
  else if (command === 'replay' && dir) process.stdout.write(`${JSON.stringify(replay(dir))}\n`);
  else {
    process.stderr.write('usage: explore.ts dump <dir> [shard] [shards] | score <dir> [column] | replay <dir>\n');
    process.exitCode = 2;
  }
}
