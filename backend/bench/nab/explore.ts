/**
 * Exploration tool for NAB work (not part of the benchmark's result): runs the production pipeline on NAB
 * files and dumps, per row, every detector's calibrated score next to the combined score and the alert
 * score NAB reads, so that ensemble, hold-off and calibration ideas can be re-scored offline in seconds
 * instead of a full run each (docs/BENCHMARKS.md marks such results "offline": they do not feed verdicts
 * back into learning, but reproduce the pipeline's own alert score exactly when they apply the same rules).
 *
 *   npx tsx backend/bench/nab/explore.ts dump <dir> [shard] [shards]   (run shards in parallel processes)
 *   npx tsx backend/bench/nab/explore.ts score <dir> [column]          (default column: alert)
 *
 * A dump file is `<dir>/<category>__<file>.json`: `{ "cols": [...], "data": [[...per row], ...] }`, with -1
 * where a detector had no opinion. The pipeline's configuration comes from the SENTINEL_* variables.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { nabPipeline } from '../../src/bench/nab-bench';
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
    const run = nabPipeline(fileId);
    const names = new Set<string>();
    let row: Record<string, number> = {};
    const scorer = run.pipeline.scorer;
    const evaluate = scorer.evaluate.bind(scorer);
    scorer.evaluate = async (obs, state) => {
      const d = await evaluate(obs, state);
      row = { score: d.score, combined: d.combinedScore };
      for (const s of d.scores) {
        row[s.name] = Number.isNaN(s.threshold) ? -1 : s.score;
        names.add(s.name);
      }
      return d;
    };
    const rows: Record<string, number>[] = [];
    for (let i = 0; i < data.timestampsMs.length; i++) {
      row = {};
      // The same feed as the benchmark (a repeated timestamp goes 1 ms after its predecessor).
      const { alertScore } = await run.feed(data.timestampsMs[i], data.values[i]);
      row.alert = alertScore;
      rows.push(row);
    }
    await run.close();
    const cols = ['score', 'combined', 'alert', ...names];
    writeFileSync(path.join(outDir, dumpName(fileId)), JSON.stringify({ cols, data: cols.map((c) => rows.map((r) => r[c] ?? -1)) }));
    process.stderr.write(`${fileId}: ${Math.round(performance.now() - started)} ms\n`);
  }
}

/** Per-file score columns of a dump, in corpus order. */
export function readDump(dir: string, column: string): { fileId: string; timestampsMs: ArrayLike<number>; scores: Float64Array }[] {
  const nabDir = resolveNabDir();
  return [...loadWindows(nabDir).keys()].map((fileId) => {
    const j = JSON.parse(readFileSync(path.join(dir, dumpName(fileId)), 'utf8')) as { cols: string[]; data: number[][] };
    const at = j.cols.indexOf(column);
    if (at < 0) throw new RangeError(`${fileId}: no column ${column} (have ${j.cols.join(', ')})`);
    return { fileId, timestampsMs: readSeries(nabDir, fileId).timestampsMs, scores: Float64Array.from(j.data[at]) };
  });
}

/** NAB's three normalised scores of one dump column (threshold optimised per profile). */
export function scoreDump(dir: string, column = 'alert'): Record<string, number> {
  const nabDir = resolveNabDir();
  const windows = loadWindows(nabDir);
  const inputs = readDump(dir, column).map((f) => ({ series: prepareSeries(f.fileId, f.timestampsMs, windows.get(f.fileId) ?? []), scores: f.scores }));
  const r = scoreCorpus(inputs, loadProfiles(nabDir));
  return { standard: r.standard.normalizedScore, reward_low_FP_rate: r.reward_low_FP_rate.normalizedScore, reward_low_FN_rate: r.reward_low_FN_rate.normalizedScore, threshold: r.standard.threshold };
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')) {
  const [command, dir, a, b] = process.argv.slice(2);
  if (command === 'dump' && dir) await dump(dir, Number(a ?? 0), Number(b ?? 1));
  else if (command === 'score' && dir) process.stdout.write(`${JSON.stringify(scoreDump(dir, a ?? 'alert'))}\n`);
  else {
    process.stderr.write('usage: explore.ts dump <dir> [shard] [shards] | score <dir> [column]\n');
    process.exitCode = 2;
  }
}
