/**
 * Offline variants of the plain-series ensemble with a CAD column (docs/BENCHMARKS.md, step 29): replays a
 * dump's detector columns with the production rules (ensemble, sustained score and its daily envelope, hold-off) plus one change that
 * lets the contextual anomaly detector's score speak, and scores each variant with NAB. Not part of the
 * benchmark's result.
 *
 *   npx tsx backend/bench/nab/cad-replay.ts <dir> <cadColumn> <variant>...
 *
 * variant: `none` (the production replay; must equal the dumped alert column), `gate:g` (the shape gate also
 * opens when cad >= g), `max:t` (the point score is at least cad / t), `maxlevel:t` (and so is the level the
 * sustained score averages), `rule:t` (cad >= t scores 2 as a rule, finding `cad`), `vote:v` (a point alert
 * needs cad >= v, else capped at 0.99), `votesus:v` (a sustained alert too), `geo:t` (the level is the
 * geometric mean of value, kNN and cad / t).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { feedTime } from '../../src/bench/nab-bench';
import { loadConfig } from '../../src/config';
import { inHoldOff } from '../../src/pipeline/incidents';
import { SustainedScore } from '../../src/pipeline/sustained';
import { DailyEnvelope, routineSustained } from '../../src/pipeline/envelope';
import type { Dump } from './explore';
import { loadProfiles, loadWindows, readSeries, resolveNabDir } from './nab-data';
import { prepareSeries, scoreCorpus } from './scorer';

const GATE = 0.8;
const CAP = 0.99;

export function replayVariant(j: Dump, cadCol: string, variant: string, warmup: number, realert: number, points: { timestampsMs: ArrayLike<number>; values: ArrayLike<number> }): Float64Array {
  const [kind, p] = variant.split(':');
  const t = Number(p);
  const col = (n: string) => j.data[j.cols.indexOf(n)];
  const rules = j.rules.map(col);
  const knn = col('knn');
  const values = ['robust_z', 'ewma', 'seasonal'].filter((n) => j.cols.includes(n)).map(col);
  const cad = kind === 'none' ? null : col(cadCol);
  const n = knn.length;
  const alert = new Float64Array(n);
  const sustained = new SustainedScore();
  const envelope = new DailyEnvelope();
  let last: { seq: number; finding: string | null } | null = null;
  let time = -Infinity;
  for (let i = 0; i < n; i++) {
    time = feedTime(points.timestampsMs[i], time);
    const c = cad ? Math.max(0, cad[i]) : 0;
    let rule = -1;
    for (const r of rules) if (r[i] >= 0 && r[i] > rule) rule = r[i];
    let finding = j.findings[i];
    if (kind === 'rule' && c >= t && 2 > rule) {
      rule = 2;
      finding = 'cad';
    }
    let value = -1;
    for (const v of values) if (v[i] >= 0 && v[i] > value) value = v[i];
    const shape = knn[i];
    let stat: number;
    let level: number;
    if (value >= 0 && shape >= 0) {
      level = kind === 'geo' ? Math.cbrt(value * shape * (c / t)) : Math.sqrt(value * shape);
      const open = shape >= GATE || (kind === 'gate' && c >= t);
      stat = open ? level : Math.min(level, CAP);
      if (kind === 'vote' || kind === 'votesus') if (c < t) stat = Math.min(stat, CAP);
    } else {
      // Fewer than a value detector and kNN have an opinion: the second highest statistical score.
      const s = [...values.map((v) => v[i]), shape].filter((x) => x >= 0).sort((a, b) => b - a);
      stat = s.length === 0 ? 0 : s.length === 1 ? s[0] : s[1];
      level = stat;
    }
    if (kind === 'max' || kind === 'maxlevel') stat = Math.max(stat, c / t);
    if (kind === 'maxlevel') level = Math.max(level, c / t);
    const ruleScore = Math.max(rule, 0);
    level = Math.max(level, ruleScore);
    const point = Math.max(ruleScore, stat);
    let sus = sustained.evaluate(level);
    if (routineSustained(sus, point, sustained.window, envelope, time, points.values[i])) sus = CAP;
    if (kind === 'votesus' && c < t) sus = Math.min(sus, CAP);
    const score = Math.max(point, sus);
    const anomalous = i >= warmup && score > 1;
    const f = anomalous && ruleScore > 1 ? finding : null;
    const held = inHoldOff(last, i + 1, realert, f, anomalous && !(sus > point));
    alert[i] = held ? 0 : score;
    if (anomalous && !held) last = { seq: i + 1, finding: f };
    sustained.push(level);
    envelope.push(time, points.values[i]);
  }
  return alert;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')) {
  const [dir, cadCol, ...variants] = process.argv.slice(2);
  const config = loadConfig(process.env, () => {});
  const nabDir = resolveNabDir();
  const windows = loadWindows(nabDir);
  const profiles = loadProfiles(nabDir);
  const files = [...windows.keys()].map((fileId) => {
    const points = readSeries(nabDir, fileId);
    return {
      fileId,
      j: JSON.parse(readFileSync(path.join(dir, `${fileId.replace('/', '__')}.json`), 'utf8')) as Dump,
      points,
      series: prepareSeries(fileId, points.timestampsMs, windows.get(fileId) ?? []),
    };
  });
  for (const v of variants) {
    let mismatches = 0;
    const inputs = files.map(({ j, points, series }) => {
      const scores = replayVariant(j, cadCol, v, config.warmupWindows, config.realertPoints, points);
      if (v === 'none') {
        const dumped = j.data[j.cols.indexOf('alert')];
        for (let i = 0; i < scores.length; i++) if (Math.abs(scores[i] - dumped[i]) > 1e-9) mismatches++;
      }
      return { series, scores };
    });
    const r = scoreCorpus(inputs, profiles);
    const out = { variant: v, standard: +r.standard.normalizedScore.toFixed(2), lowFP: +r.reward_low_FP_rate.normalizedScore.toFixed(2), lowFN: +r.reward_low_FN_rate.normalizedScore.toFixed(2), threshold: +r.standard.threshold.toFixed(4), detected: r.standard.files.reduce((a, f) => a + f.windowsDetected, 0), fpRows: r.standard.files.reduce((a, f) => a + f.fp, 0) };
    process.stdout.write(`${JSON.stringify(v === 'none' ? { ...out, mismatches } : out)}\n`);
  }
}
