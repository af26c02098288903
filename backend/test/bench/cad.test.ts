import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CadScorer } from '../../bench/nab/cad';

/** Scores of a series with the range seen so far (as the offline measurement of docs/BENCHMARKS.md step 29 does). */
function scoreSeen(values: readonly number[], rest = 0): number[] {
  const cad = new CadScorer({ rest });
  let lo = Infinity;
  let hi = -Infinity;
  return values.map((v) => {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
    return cad.score(v, lo, hi);
  });
}

test('cad: a repeating cycle is learnt (scores 0 once predicted), a break of it scores', () => {
  const cycle = [0, 2, 5, 7, 5, 2];
  const values: number[] = [];
  for (let i = 0; i < 300; i++) values.push(cycle[i % cycle.length]);
  const before = scoreSeen(values);
  assert.ok(before.slice(200).every((s) => s === 0), 'a learnt cycle is predicted');
  const broken = [...values, 7, 0, 7, 0];
  const after = scoreSeen(broken);
  assert.ok(Math.max(...after.slice(300)) > 0.3, `a break scores: ${after.slice(300).join(', ')}`);
});

test('cad: facts are the bits of the bin over the given range, clipped outside it', () => {
  const cad = new CadScorer();
  assert.deepEqual(cad.facts(0, 0, 7), [0, 2, 4]);
  assert.deepEqual(cad.facts(7, 0, 7), [1, 3, 5]);
  assert.deepEqual(cad.facts(5, 0, 7), [1, 2, 5]);
  assert.deepEqual(cad.facts(100, 0, 7), [1, 3, 5]);
  assert.deepEqual(cad.facts(-3, 0, 7), [0, 2, 4]);
});

test('cad: causal, a prefix scores the same whatever follows; the rest period silences after an alarm', () => {
  const values = Array.from({ length: 400 }, (_, i) => Math.sin(i / 5) * 10 + (i % 37 === 0 ? 30 : 0));
  const full = scoreSeen(values, 30);
  const prefix = scoreSeen(values.slice(0, 250), 30);
  assert.deepEqual(full.slice(0, 250), prefix);
  assert.ok(full.slice(0, 30).every((s) => s === 0), 'the first rest points are silent');
});
