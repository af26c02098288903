/**
 * NAB scorer tests: the scoring rules on hand-made series, the threshold sweep against brute force
 * (property-based, seeded), and the reproduction of NAB's published numenta results (per-file scores to
 * 1e-6, row counts exactly, normalised 70.10 / 63.12 / 74.32).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import {
  NAB_DIR_ENV,
  loadPublishedFinalResults,
  loadPublishedScores,
  parseNabTimestamp,
  readPublishedRows,
  readSeries,
  resolveNabDir,
  loadProfiles,
  loadWindows,
} from '../../bench/nab/nab-data';
import {
  PROFILE_NAMES,
  createCorpusSweep,
  noDetectionThreshold,
  normalizeScore,
  optimizeThreshold,
  prepareSeries,
  probationLength,
  scaledSigmoid,
  scoreCorpus,
  scoreFile,
  type CorpusScore,
  type CostProfile,
  type NabWindow,
  type ProfileName,
  type ScoredSeries,
} from '../../bench/nab/scorer';
import { runSelfCheck } from '../../bench/nab/self-check';

const STANDARD: CostProfile = { tp: 1, fp: 0.11, fn: 1 };
const MINUTE = 60_000;

/** A window over rows [start, end] of a series whose row i is at i minutes. */
function windowAt(start: number, end: number): NabWindow {
  return { start: `row ${start}`, end: `row ${end}`, startMs: start * MINUTE, endMs: end * MINUTE };
}

function minutes(n: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => i * MINUTE);
}

/** Scores that detect exactly the given rows at threshold 0.5. */
function detectAt(n: number, rows: readonly number[]): Float64Array {
  const scores = new Float64Array(n);
  for (const r of rows) scores[r] = 1;
  return scores;
}

describe('NAB scoring rules', () => {
  it('probation is 15 % of the rows, capped at 750', () => {
    assert.equal(probationLength(4032), 604);
    assert.equal(probationLength(1127), 169);
    assert.equal(probationLength(22695), 750);
  });

  it('scaled sigmoid: 0 at a window end, -1 far after it', () => {
    assert.equal(scaledSigmoid(0), 0);
    assert.ok(Math.abs(scaledSigmoid(-1) - 0.9866142981514305) < 1e-15);
    assert.equal(scaledSigmoid(3.0001), -1);
    assert.ok(scaledSigmoid(0.5) < 0 && scaledSigmoid(0.5) > -1);
  });

  it('parses NAB timestamps as UTC, with or without a fraction', () => {
    assert.equal(parseNabTimestamp('2014-04-10 07:15:00'), Date.UTC(2014, 3, 10, 7, 15, 0));
    assert.equal(parseNabTimestamp('2014-04-10 07:15:00.000000'), Date.UTC(2014, 3, 10, 7, 15, 0));
    assert.throws(() => parseNabTimestamp('10/04/2014 07:15'));
  });

  // Series of 100 rows, probation 0 so every row is scored, one window over rows 40..49 (width 10).
  const series = prepareSeries('test/a.csv', minutes(100), [windowAt(40, 49)], 0);

  it('detecting the first row of a window earns exactly tp', () => {
    const r = scoreFile(series, detectAt(100, [40]), 0.5, STANDARD);
    assert.ok(Math.abs(r.score - 1) < 1e-12);
    assert.deepEqual([r.tp, r.tn, r.fp, r.fn, r.windowsDetected], [1, 90, 0, 9, 1]);
  });

  it('a window counts once, at its earliest detection; later rows weigh less', () => {
    const early = scoreFile(series, detectAt(100, [42, 45, 49]), 0.5, STANDARD).score;
    assert.ok(Math.abs(early - scaledSigmoid(-(49 - 42 + 1) / 10) / scaledSigmoid(-1)) < 1e-12);
    const late = scoreFile(series, detectAt(100, [49]), 0.5, STANDARD).score;
    assert.ok(late > 0 && late < early);
  });

  it('a missed window costs fn; detections before the first window cost fp each', () => {
    assert.equal(scoreFile(series, detectAt(100, []), 0.5, STANDARD).score, -1);
    const r = scoreFile(series, detectAt(100, [3, 20]), 0.5, { tp: 1, fp: 0.22, fn: 2 });
    assert.ok(Math.abs(r.score - (-2 - 0.22 - 0.22)) < 1e-12);
    assert.deepEqual([r.fp, r.tn], [2, 88]);
  });

  it('a detection after a window costs fp scaled by its distance from the window', () => {
    const near = scoreFile(series, detectAt(100, [40, 50]), 0.5, STANDARD).score;
    assert.ok(Math.abs(near - (1 + 0.11 * scaledSigmoid(1 / 9))) < 1e-12);
    const far = scoreFile(series, detectAt(100, [40, 99]), 0.5, STANDARD).score;
    assert.ok(Math.abs(far - (1 - 0.11)) < 1e-12);
  });

  it('probation rows are neither rewarded nor penalised', () => {
    const withProbation = prepareSeries('test/b.csv', minutes(100), [windowAt(40, 49)]);
    assert.equal(withProbation.probation, 15);
    const r = scoreFile(withProbation, detectAt(100, [0, 14]), 0.5, STANDARD);
    assert.equal(r.score, -1);
    assert.equal(r.tp + r.tn + r.fp + r.fn, 85);
  });

  it('rejects windows that do not match a row timestamp', () => {
    assert.throws(() => prepareSeries('test/c.csv', minutes(10), [{ ...windowAt(2, 3), endMs: 3.5 * MINUTE }]));
  });

  it('resolves the data directory from the repository, or from the environment', () => {
    assert.equal(resolveNabDir({}), path.resolve(import.meta.dirname, '../../../../shared/data/nab'));
    assert.equal(resolveNabDir({ [NAB_DIR_ENV]: '/tmp/nab' }), '/tmp/nab');
  });
});

describe('corpus threshold sweep', () => {
  /** Brute force: score every candidate threshold with scoreFile and keep the first maximum. */
  function bruteForce(inputs: readonly ScoredSeries[], profile: CostProfile): { threshold: number; score: number } {
    const values = inputs.flatMap(({ scores }) => Array.from(scores));
    const candidates = [noDetectionThreshold(Math.max(...values)), ...new Set(values)].sort((a, b) => b - a);
    let best = { threshold: Number.NaN, score: Number.NEGATIVE_INFINITY };
    for (const t of candidates) {
      const score = inputs.reduce((sum, { series, scores }) => sum + scoreFile(series, scores, t, profile).score, 0);
      if (score > best.score + 1e-9) best = { threshold: t, score };
    }
    return best;
  }

  const corpusArb = fc.array(
    fc.record({
      n: fc.integer({ min: 20, max: 80 }),
      windows: fc.array(fc.integer({ min: 2, max: 8 }), { maxLength: 3 }),
      // Few distinct values so ties and equal thresholds are common; some above 1.1.
      scores: fc.array(fc.integer({ min: 0, max: 12 }).map((v) => v / 8), { minLength: 80, maxLength: 80 }),
    }),
    { minLength: 1, maxLength: 4 },
  );

  it('finds the same best score as a brute-force sweep (property, seeded)', () => {
    fc.assert(
      fc.property(corpusArb, fc.constantFrom(...PROFILE_NAMES), (corpus, profileName) => {
        const profile = { standard: STANDARD, reward_low_FP_rate: { tp: 1, fp: 0.22, fn: 1 }, reward_low_FN_rate: { tp: 1, fp: 0.11, fn: 2 } }[profileName];
        const inputs = corpus.map(({ n, windows, scores }, f) => {
          // Lay the windows out one after another with gaps, inside the series.
          const spans: NabWindow[] = [];
          let at = Math.floor(n * 0.2);
          for (const width of windows) {
            if (at + width + 1 >= n) break;
            spans.push(windowAt(at, at + width - 1));
            at += width + 5;
          }
          return { series: prepareSeries(`f/${f}.csv`, minutes(n), spans), scores: scores.slice(0, n) };
        });
        const fast = optimizeThreshold(createCorpusSweep(inputs), profile);
        const slow = bruteForce(inputs, profile);
        assert.ok(Math.abs(fast.score - slow.score) < 1e-9, `sweep ${fast.score} vs brute force ${slow.score}`);
        const rescored = inputs.reduce((s, { series, scores }) => s + scoreFile(series, scores, fast.threshold, profile).score, 0);
        assert.ok(Math.abs(rescored - fast.score) < 1e-9);
        assert.equal(fast.threshold, slow.threshold);
      }),
      { seed: 20240601, numRuns: 300 },
    );
  });

  it('uses 1.1 as "detect nothing" for [0, 1] scores and goes above larger scores', () => {
    assert.equal(noDetectionThreshold(0.99), 1.1);
    assert.ok(noDetectionThreshold(40) > 40);
    const series = prepareSeries('t/x.csv', minutes(50), [], 0);
    const choice = optimizeThreshold(createCorpusSweep([{ series, scores: new Float64Array(50).fill(0.3) }]), STANDARD);
    assert.deepEqual(choice, { threshold: 1.1, score: 0 });
  });
});

describe('reproduces the published numenta results', () => {
  const nabDir = resolveNabDir();
  let reproduced: CorpusScore;
  let inputs: ScoredSeries[];
  const published = Object.fromEntries(PROFILE_NAMES.map((p) => [p, loadPublishedScores(nabDir, 'numenta', p)])) as Record<
    ProfileName,
    ReturnType<typeof loadPublishedScores>
  >;

  before(() => {
    inputs = [...loadWindows(nabDir)].map(([fileId, windows]) => ({
      series: prepareSeries(fileId, readSeries(nabDir, fileId).timestampsMs, windows),
      scores: readPublishedRows(nabDir, 'numenta', fileId).anomalyScores,
    }));
    const thresholds = Object.fromEntries(PROFILE_NAMES.map((p) => [p, published[p].threshold]));
    reproduced = scoreCorpus(inputs, loadProfiles(nabDir), { thresholds });
  });

  it('covers the 58 files and 116 windows', () => {
    assert.equal(inputs.length, 58);
    assert.equal(reproduced.standard.windowCount, 116);
  });

  for (const profile of PROFILE_NAMES) {
    it(`per-file scores and counts, ${profile}`, () => {
      const ours = new Map(reproduced[profile].files.map((f) => [f.fileId, f]));
      assert.equal(published[profile].files.length, 58);
      for (const pub of published[profile].files) {
        const mine = ours.get(pub.fileId);
        assert.ok(mine, `${pub.fileId} missing`);
        assert.ok(Math.abs(mine.score - pub.score) <= 1e-6, `${pub.fileId}: ${mine.score} vs published ${pub.score}`);
        assert.deepEqual(
          [mine.tp, mine.tn, mine.fp, mine.fn, mine.totalCount],
          [pub.tp, pub.tn, pub.fp, pub.fn, pub.totalCount],
          pub.fileId,
        );
      }
    });
  }

  it('normalised 70.10 / 63.12 / 74.32, matching final_results.json to 1e-6', () => {
    const finals = loadPublishedFinalResults(nabDir).numenta;
    const rounded = PROFILE_NAMES.map((p) => reproduced[p].normalizedScore.toFixed(2));
    assert.deepEqual(rounded, ['70.10', '63.12', '74.32']);
    for (const p of PROFILE_NAMES) {
      assert.ok(Math.abs(reproduced[p].normalizedScore - finals[p]) <= 1e-6, `${p}: ${reproduced[p].normalizedScore} vs ${finals[p]}`);
      assert.ok(Math.abs(reproduced[p].rawScore - published[p].totalScore) <= 1e-6);
    }
    // The normalisation constants the data README states: S_perfect = 116 tp, S_null = -116 fn.
    assert.equal(normalizeScore(116, STANDARD, 116), 100);
    assert.equal(normalizeScore(-116, STANDARD, 116), 0);
  });

  it('the optimiser finds a threshold at least as good as the published one', () => {
    const profiles = loadProfiles(nabDir);
    const sweep = createCorpusSweep(inputs);
    for (const p of PROFILE_NAMES) {
      const best = optimizeThreshold(sweep, profiles[p]);
      assert.ok(best.score >= published[p].totalScore - 1e-9, `${p}: ${best.score} < ${published[p].totalScore}`);
      const check = scoreCorpus(inputs, profiles, { thresholds: { [p]: best.threshold } })[p].rawScore;
      assert.ok(Math.abs(check - best.score) < 1e-9);
    }
  });

  it('runSelfCheck (what the harness runs first) passes', () => {
    const result = runSelfCheck({ nabDir });
    assert.deepEqual(result.failures, []);
    assert.equal(result.ok, true);
  });
});
