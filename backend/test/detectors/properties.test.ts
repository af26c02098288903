import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ScoreReservoir, calibratedThreshold, spreadFor } from '../../src/detectors/calibration';
import { DetectorRunner } from '../../src/detectors/runner';
import type { Detector } from '../../src/detectors/types';
import { combine } from '../../src/pipeline/ensemble';
import { pipelineNabFactory } from '../../src/bench/nab-bench';
import { createLogger } from '../../src/logger';

const log = createLogger('silent');

test('calibration: a higher sensitivity never raises a threshold (so never removes an anomaly)', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 50, noNaN: true }), { minLength: 8, maxLength: 200 }), fc.double({ min: 0.01, max: 0.98, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), (xs, s1, floor) => {
      const s2 = Math.min(0.99, s1 + 0.01);
      const r = new ScoreReservoir();
      xs.forEach((x) => r.add(x));
      const lo = calibratedThreshold(r, undefined, floor, s1)!;
      const r2 = new ScoreReservoir();
      xs.forEach((x) => r2.add(x));
      const hi = calibratedThreshold(r2, undefined, floor, s2)!;
      assert.ok(hi <= lo + 1e-9, `${hi} > ${lo}`);
      assert.ok(lo >= floor);
      assert.ok(spreadFor(s2) < spreadFor(s1));
    }),
  );
});

test('calibration: without enough samples there is no threshold (the detector abstains)', () => {
  const r = new ScoreReservoir();
  for (let i = 0; i < 7; i++) r.add(i);
  assert.equal(calibratedThreshold(r, undefined, 1, 0.5), undefined);
  r.add(7);
  assert.ok(calibratedThreshold(r, undefined, 1, 0.5)! >= 7);
});

test('calibration: the threshold refreshes on the series clock (reads), not on how many samples were taken', () => {
  // 512 ordinary scores, each read then learnt, as the scorer does for normal points.
  const r = new ScoreReservoir(512);
  for (let i = 0; i < 512; i++) {
    r.threshold(0, 1);
    r.add(1 + (i % 10) / 10);
  }
  const before = r.threshold(0, 1);
  // 20 high scores are learnt, then the series goes on with every point held (read, not learnt): the
  // refresh must not wait for 32 more samples that held points never give.
  for (let i = 0; i < 20; i++) {
    r.threshold(0, 1);
    r.add(50);
  }
  for (let i = 0; i < 32; i++) r.threshold(0, 1);
  assert.ok(r.threshold(0, 1) > before * 2, 'the 20 learnt high scores reach the threshold within 32 reads');
});

test('ensemble: monotone in every detector score, and <= the largest one', () => {
  const mk = (name: string, score: number, calibrated = false) => ({ name, output: { raw: score, ...(calibrated ? { calibrated: true } : {}) }, score, threshold: 1 });
  fc.assert(
    fc.property(fc.array(fc.double({ min: 0, max: 100, noNaN: true }), { minLength: 1, maxLength: 5 }), fc.double({ min: 0, max: 100, noNaN: true }), fc.nat(4), (scores, bump, which) => {
      const list = scores.map((s, i) => mk(`d${i}`, s, i === 0));
      const base = combine(list).score;
      assert.ok(base <= Math.max(...scores) + 1e-12);
      const j = which % list.length;
      const raised = list.map((d, i) => (i === j ? mk(d.name, d.score + bump, i === 0) : d));
      assert.ok(combine(raised).score >= base - 1e-12);
    }),
  );
});

test('ensemble of a plain series: a high value in a familiar shape stays below the boundary; its level does not', () => {
  const mk = (name: string, score: number, calibrated = false) => ({ name, output: { raw: score, ...(calibrated ? { calibrated: true } : {}) }, score, threshold: 1 });
  // robust z says 9, EWMA 3, kNN 0.5: the geometric mean is 2.1, but the shape has been seen before.
  const familiar = combine([mk('robust_z', 9), mk('ewma', 3), mk('knn', 0.5)], 'points');
  assert.ok(familiar.score < 1);
  assert.ok(Math.abs(familiar.level - Math.sqrt(4.5)) < 1e-12);
  // ... unless every value detector is six times past its boundary: news in any shape.
  assert.ok(Math.abs(combine([mk('robust_z', 9), mk('ewma', 6), mk('knn', 0.5)], 'points').score - Math.sqrt(4.5)) < 1e-12);
  assert.ok(combine([mk('robust_z', 9), mk('ewma', 5.9), mk('seasonal', 9), mk('knn', 0.5)], 'points').score < 1);
  const novel = combine([mk('robust_z', 9), mk('knn', 0.9)], 'points');
  assert.ok(Math.abs(novel.score - Math.sqrt(8.1)) < 1e-12);
  // A rule counts on its own whatever the shape.
  assert.equal(combine([mk('robust_z', 9), mk('ewma', 3), mk('knn', 0.5), mk('range', 2, true)], 'points').score, 2);
  // Event windows have no gate.
  assert.ok(combine([mk('robust_z', 9), mk('knn', 0.5), mk('ewma', 3)], 'events').score > 1);
  fc.assert(
    fc.property(fc.double({ min: 0, max: 50, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), fc.double({ min: 0, max: 5, noNaN: true }), (v, k, bump) => {
      const base = combine([mk('robust_z', v), mk('knn', k)], 'points');
      assert.ok(base.score <= base.level + 1e-12);
      // Monotone in the shape score too (the gate only ever lifts the cap).
      assert.ok(combine([mk('robust_z', v), mk('knn', k + bump)], 'points').score >= base.score - 1e-12);
    }),
  );
});

test('runner isolates a failing detector: the others still score', async () => {
  const boom: Detector = { name: 'boom', floor: 1, appliesTo: () => true, detect: () => { throw new Error('bad'); } };
  const ok: Detector = { name: 'ok', floor: 1, appliesTo: () => true, detect: () => ({ raw: 2, calibrated: true }) };
  const errors: string[] = [];
  const runner = new DetectorRunner([boom, ok], log, 0.5, new Map(), (d) => errors.push(d));
  const out = await runner.run({ state: { kind: 'events', calibration: new Map() } } as never);
  assert.deepEqual(out.map((s) => s.name), ['ok']);
  assert.deepEqual(errors, ['boom']);
});

/** Feeds a series to a fresh production NAB detector and returns its scores. */
async function scoresOf(values: number[], t0 = Date.UTC(2026, 0, 1)): Promise<number[]> {
  const d = pipelineNabFactory('prop');
  const out: number[] = [];
  for (let i = 0; i < values.length; i++) out.push(await d.score(t0 + i * 300_000, values[i]));
  await d.close?.();
  return out;
}

test('point scoring: one finite score per input, deterministic, and no look-ahead (prefix property)', async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 5, maxLength: 80 }), fc.nat(), async (values, cut) => {
      const full = await scoresOf(values);
      assert.equal(full.length, values.length);
      assert.ok(full.every((x) => Number.isFinite(x)));
      assert.deepEqual(await scoresOf(values), full, 'deterministic');
      const k = 1 + (cut % values.length);
      assert.deepEqual(await scoresOf(values.slice(0, k)), full.slice(0, k), 'removing later rows changes nothing before them');
    }),
    { numRuns: 15, seed: 42 },
  );
});
