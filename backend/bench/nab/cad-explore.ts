/**
 * Offline measurement of the contextual anomaly detector (backend/bench/nab/cad.ts) on NAB, from the
 * values alone (docs/BENCHMARKS.md, step 29). Not part of the benchmark's result.
 *
 *   npx tsx backend/bench/nab/cad-explore.ts alone <mode> [rest]     CAD's own score, NAB-scored
 *   npx tsx backend/bench/nab/cad-explore.ts column <dir> <mode> [name] [rest]   adds a CAD column to a dump
 *
 * mode: `file` (each file's min / max given up front: look-ahead, as NAB ran CAD OSE; only to check the
 * implementation), `seen` (min / max of the values so far, the current one included), `first:<n>:<pad>`
 * (min / max of the first n points widened by pad x their span on each side, then fixed; the first n points
 * use the range so far).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CadScorer } from './cad';
import { loadProfiles, loadWindows, readSeries, resolveNabDir } from './nab-data';
import { prepareSeries, probationLength, scoreCorpus } from './scorer';

export function cadSeries(values: ArrayLike<number>, mode: string, rest?: number): Float64Array {
  const n = values.length;
  const cad = new CadScorer({ rest: rest ?? (mode === 'file' ? Math.floor(probationLength(n) / 5) : 150) });
  const out = new Float64Array(n);
  let fmin = Infinity;
  let fmax = -Infinity;
  if (mode === 'file') for (let i = 0; i < n; i++) ((fmin = Math.min(fmin, values[i])), (fmax = Math.max(fmax, values[i])));
  const [, firstN, pad] = mode.split(':').map(Number);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = values[i];
    if (mode === 'file') out[i] = cad.score(v, fmin, fmax);
    else if (mode === 'seen') {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      out[i] = cad.score(v, lo, hi);
    } else if (mode.startsWith('first')) {
      if (i < firstN) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
        if (i === firstN - 1) {
          const span = hi - lo;
          lo -= pad * span;
          hi += pad * span;
        }
      }
      out[i] = cad.score(v, lo, hi);
    } else throw new RangeError(`mode ${mode}`);
  }
  return out;
}

function main() {
  const [cmd, a, b, c, d] = process.argv.slice(2);
  const nabDir = resolveNabDir();
  const windows = loadWindows(nabDir);
  if (cmd === 'alone') {
    const inputs = [...windows.keys()].map((fileId) => {
      const s = readSeries(nabDir, fileId);
      return { series: prepareSeries(fileId, s.timestampsMs, windows.get(fileId) ?? []), scores: cadSeries(s.values, a, b ? Number(b) : undefined) };
    });
    const r = scoreCorpus(inputs, loadProfiles(nabDir));
    process.stdout.write(`${JSON.stringify({ mode: a, standard: r.standard.normalizedScore, lowFP: r.reward_low_FP_rate.normalizedScore, lowFN: r.reward_low_FN_rate.normalizedScore, threshold: r.standard.threshold })}\n`);
  } else if (cmd === 'column') {
    const name = c ?? 'cad';
    for (const fileId of windows.keys()) {
      const file = path.join(a, `${fileId.replace('/', '__')}.json`);
      const j = JSON.parse(readFileSync(file, 'utf8'));
      const scores = Array.from(cadSeries(readSeries(nabDir, fileId).values, b, d ? Number(d) : undefined));
      const at = j.cols.indexOf(name);
      if (at >= 0) j.data[at] = scores;
      else {
        j.cols.push(name);
        j.data.push(scores);
      }
      writeFileSync(file, JSON.stringify(j));
    }
  }
}
if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')) main();
