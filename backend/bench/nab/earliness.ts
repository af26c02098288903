/**
 * Where a dump's standard score goes (docs/BENCHMARKS.md, step 28): for every labelled window, the first
 * detection's position in the window and the voice that made it (a rule, the point score, the sustained
 * score), and the raw score lost to lateness, to missed windows and to false-positive rows. Not part of the
 * benchmark's result.
 *
 *   npx tsx backend/bench/nab/earliness.ts <dumpDir> [column] [--rows]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadProfiles, loadWindows, readSeries, resolveNabDir } from './nab-data';
import { prepareSeries, rowWeight, scoreCorpus } from './scorer';

interface DumpFile {
  cols: string[];
  data: number[][];
  rules: string[];
  findings: (string | null)[];
}

const [dir, columnArg] = process.argv.slice(2);
const column = columnArg && !columnArg.startsWith('--') ? columnArg : 'alert';
const listRows = process.argv.includes('--rows');
const nabDir = resolveNabDir();
const windows = loadWindows(nabDir);
const profiles = loadProfiles(nabDir);
const files = [...windows.keys()].map((fileId) => {
  const j = JSON.parse(readFileSync(path.join(dir, `${fileId.replace('/', '__')}.json`), 'utf8')) as DumpFile;
  const series = prepareSeries(fileId, readSeries(nabDir, fileId).timestampsMs, windows.get(fileId) ?? []);
  return { fileId, j, series, scores: Float64Array.from(j.data[j.cols.indexOf(column)]) };
});
const corpus = scoreCorpus(files, profiles);
const thr = corpus.standard.threshold;
const std = profiles.standard;
const col = (j: DumpFile, name: string) => j.data[j.cols.indexOf(name)];

/** Which voice made row i's alert score: a rule (its finding), the point's own score, or the sustained score. */
function voice(j: DumpFile, i: number): string {
  const alert = col(j, column)[i];
  for (const r of j.rules) if (col(j, r)[i] > 1 && Math.abs(col(j, r)[i] - alert) < 1e-9) return `rule:${j.findings[i] ?? r}`;
  if (col(j, 'combined')[i] >= alert - 1e-9) return 'point';
  return 'sustained';
}
const ruleName = (v: string) => (v.startsWith('rule:') ? `rule:${v.slice(5).split(':')[0]}` : v);

let lateness = 0;
let missed = 0;
let fpCost = 0;
let fpRows = 0;
let found = 0;
const byVoice = new Map<string, { n: number; late: number; rel: number[] }>();
const fpByVoice = new Map<string, { n: number; cost: number }>();
const rels: number[] = [];
const heldDelay: string[] = [];
const missedList: string[] = [];
const rowLines: string[] = [];
for (const { fileId, j, series, scores } of files) {
  const unheld = col(j, 'score');
  const start = Math.ceil(series.probation);
  series.windows.forEach((w, k) => {
    if (w.end < start) return;
    const width = w.end - w.start + 1;
    let first = -1;
    let firstRaw = -1;
    let best = -Infinity;
    let bestRaw = -Infinity;
    for (let i = Math.max(w.start, start); i <= w.end; i++) {
      if (first < 0 && scores[i] >= thr) first = i;
      if (firstRaw < 0 && unheld[i] >= thr) firstRaw = i;
      best = Math.max(best, scores[i]);
      bestRaw = Math.max(bestRaw, unheld[i]);
    }
    if (first < 0) {
      missed++;
      missedList.push(`${fileId}#${k} best alert ${best.toFixed(3)} best unheld ${bestRaw.toFixed(3)}`);
      return;
    }
    found++;
    const weight = rowWeight(series, first, std);
    const rel = (first - w.start) / width;
    const v = voice(j, first);
    const key = ruleName(v);
    const e = byVoice.get(key) ?? { n: 0, late: 0, rel: [] };
    e.n++;
    e.late += std.tp - weight;
    e.rel.push(rel);
    byVoice.set(key, e);
    rels.push(rel);
    lateness += std.tp - weight;
    if (firstRaw >= 0 && firstRaw < first) heldDelay.push(`${fileId}#${k} unheld at ${((firstRaw - w.start) / width).toFixed(2)}, alert at ${rel.toFixed(2)} (-${(rowWeight(series, firstRaw, std) - weight).toFixed(2)})`);
    rowLines.push(`${fileId}#${k}\twidth ${width}\trel ${rel.toFixed(3)}\tweight ${weight.toFixed(3)}\t${v}\talert ${scores[first].toFixed(3)}`);
  });
  for (let i = start; i < scores.length; i++) {
    if (series.windowIndex[i] >= 0 || scores[i] < thr) continue;
    const wgt = rowWeight(series, i, std);
    fpRows++;
    fpCost -= wgt;
    const key = ruleName(voice(j, i));
    const e = fpByVoice.get(key) ?? { n: 0, cost: 0 };
    e.n++;
    e.cost -= wgt;
    fpByVoice.set(key, e);
  }
}
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : NaN;
};
const perRaw = 100 / (2 * corpus.standard.windowCount);
const out = {
  threshold: thr,
  standard: corpus.standard.normalizedScore,
  raw: corpus.standard.rawScore,
  check: found * std.tp - lateness - missed * std.fn - fpCost,
  windows: { found, missed },
  lostRaw: { lateness, missed: missed * (std.fn + std.tp), fp: fpCost },
  lostNormalised: { lateness: lateness * perRaw, missed: missed * (std.fn + std.tp) * perRaw, fp: fpCost * perRaw },
  firstDetectionRelPosition: { q10: q(rels, 0.1), q25: q(rels, 0.25), median: q(rels, 0.5), q75: q(rels, 0.75), q90: q(rels, 0.9), mean: rels.reduce((a, b) => a + b, 0) / rels.length },
  byVoice: Object.fromEntries([...byVoice].map(([k, e]) => [k, { windows: e.n, latenessRaw: +e.late.toFixed(3), medianRel: q(e.rel, 0.5) }])),
  fpByVoice: Object.fromEntries([...fpByVoice].map(([k, e]) => [k, { rows: e.n, costRaw: +e.cost.toFixed(3) }])),
  fpRows,
  heldDelay,
  missedList,
};
process.stdout.write(`${JSON.stringify(out, null, 1)}\n`);
if (listRows) process.stdout.write(`${rowLines.join('\n')}\n`);
