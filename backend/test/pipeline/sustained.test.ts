import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SustainedScore } from '../../src/pipeline/sustained';

describe('SustainedScore (recent average score against its own record)', () => {
  test('no opinion before 200 points; a long mild rise beats the record, a steady series does not', () => {
    const s = new SustainedScore(20, 1000);
    for (let i = 0; i < 199; i++) {
      assert.equal(s.evaluate(0.3), 0);
      s.push(0.3 + 0.1 * Math.sin(i));
    }
    for (let i = 0; i < 400; i++) s.push(0.3 + 0.1 * Math.sin(i));
    // Steady: the recent mean is about the record, never clearly past it.
    assert.ok(s.evaluate(0.3) < 1.05, String(s.evaluate(0.3)));
    // A rise to 0.8 (every point below the alert boundary of 1) for 20 points is far past the record.
    for (let i = 0; i < 19; i++) s.push(0.8);
    assert.ok(s.evaluate(0.8) > 1.5, String(s.evaluate(0.8)));
  });

  test('the mean it reports is the exact mean of the last window of scores, each capped at 1.5', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 50, noNaN: true }), { minLength: 1, maxLength: 120 }), fc.double({ min: 0, max: 50, noNaN: true }), (xs, next) => {
        const s = new SustainedScore(20, 100);
        for (const x of xs) s.push(x);
        const last = [...xs, next].slice(-20).map((x) => Math.min(x, 1.5));
        const exact = last.reduce((a, b) => a + b, 0) / last.length;
        return Math.abs(s.meanWith(next) - exact) <= 1e-9 * Math.max(1, exact);
      }),
    );
  });

  test('one huge spike does not set a record that masks what follows', () => {
    const s = new SustainedScore(20, 1000);
    for (let i = 0; i < 400; i++) s.push(0.3);
    s.push(30); // one point scoring 30
    for (let i = 0; i < 200; i++) s.push(0.3);
    // 20 points at 0.8 afterwards: without the cap the spike's mean (1.8) would still be the record.
    for (let i = 0; i < 19; i++) s.push(0.8);
    assert.ok(s.evaluate(0.8) > 1, String(s.evaluate(0.8)));
  });
});
