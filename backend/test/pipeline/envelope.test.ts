import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DailyEnvelope } from '../../src/pipeline/envelope';
import { nabPipeline } from '../../src/bench/nab-bench';
import { readSeries, resolveNabDir } from '../../bench/nab/nab-data';
import type { Detection } from '../../src/pipeline/scorer';

const MIN = 60_000;
const DAY = 1_440 * MIN;
const T0 = Date.UTC(2024, 0, 1);

describe('DailyEnvelope (what a plain series did around this time of day on its last days)', () => {
  test('inside: within the lowest and highest value near this time of day on earlier days; today and other hours say nothing', () => {
    const e = new DailyEnvelope(14, 15, 2);
    // Day 0: 10:00-10:30 values 5..8 at 5-minute steps; 18:00 a value of 100.
    for (let k = 0; k < 7; k++) e.push(T0 + 10 * 60 * MIN + 5 * k * MIN, 5 + (k % 4));
    e.push(T0 + 18 * 60 * MIN, 100);
    const at = (minutes: number) => T0 + DAY + minutes * MIN;
    assert.equal(e.inside(at(10 * 60 + 10), 6), true);
    assert.equal(e.inside(at(10 * 60 + 10), 5), true, 'the lowest value itself');
    assert.equal(e.inside(at(10 * 60 + 10), 8.5), false, 'above the highest');
    assert.equal(e.inside(at(10 * 60 + 10), 4), false, 'below the lowest');
    // Within two 15-minute buckets of 10:00-10:30 (09:30-11:00) counts as the same time of day; 12:00 does not.
    assert.equal(e.inside(at(9 * 60 + 35), 6), true);
    assert.equal(e.inside(at(12 * 60), 6), false);
    // The same day is not evidence for itself.
    assert.equal(e.inside(T0 + 10 * 60 * MIN + 40 * MIN, 6), false);
    // 18:00 has one value only: fewer than three values say nothing.
    assert.equal(e.inside(at(18 * 60), 100), false);
  });

  test('forgets days older than its memory; the run counts inside points in a row', () => {
    const e = new DailyEnvelope(3, 15, 0);
    for (let k = 0; k < 5; k++) e.push(T0 + 5 * k * MIN, 10 + k);
    assert.equal(e.inside(T0 + 3 * DAY + 5 * MIN, 12), true);
    assert.equal(e.inside(T0 + 4 * DAY + 5 * MIN, 12), false, 'four days later, with three days of memory');
    const r = new DailyEnvelope(3, 15, 0);
    for (let k = 0; k < 5; k++) r.push(T0 + 5 * k * MIN, 10 + k);
    assert.equal(r.insideRun, 0);
    for (let k = 0; k < 3; k++) r.push(T0 + DAY + 5 * k * MIN, 12);
    assert.equal(r.insideRun, 3);
    assert.equal(r.runWith(T0 + DAY + 12 * MIN, 12), 4);
    assert.equal(r.runWith(T0 + DAY + 12 * MIN, 99), 0);
    r.push(T0 + DAY + 12 * MIN, 99);
    assert.equal(r.insideRun, 0);
  });

  test('inside equals the brute-force answer over every earlier point', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 1, max: 400 }), fc.integer({ min: -50, max: 50 })), { minLength: 1, maxLength: 300 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 3 }),
        (steps, days, reach) => {
          const bucketMin = 15;
          const e = new DailyEnvelope(days, bucketMin, reach);
          const seen: { b: number; v: number }[] = [];
          let t = T0;
          for (const [gap, v] of steps) {
            t += gap * MIN;
            const b = Math.floor(t / (bucketMin * MIN));
            const near = seen.filter((p) => {
              for (let d = 1; d <= days; d++) if (Math.abs(p.b - (b - d * 96)) <= reach) return true;
              return false;
            });
            const lo = Math.min(...near.map((p) => p.v));
            const hi = Math.max(...near.map((p) => p.v));
            const expected = near.length >= 3 && v >= lo && v <= hi;
            if (e.inside(t, v) !== expected) return false;
            e.push(t, v);
            seen.push({ b, v });
          }
          return true;
        },
      ),
    );
  });
});

test('NAB TravelTime_451: a sustained alert whose values all lie in the daily envelope is usual at this hour, not anomalous', async () => {
  const file = 'realTraffic/TravelTime_451.csv';
  const data = readSeries(resolveNabDir(), file);
  const run = nabPipeline(file);
  const usual: Detection[] = [];
  const paged: Detection[] = [];
  const scorer = run.pipeline.scorer;
  const evaluate = scorer.evaluate.bind(scorer);
  scorer.evaluate = async (obs, state) => {
    const d = await evaluate(obs, state);
    if (d.usualAtThisHour) usual.push(d);
    if (d.anomalous && d.sustained) paged.push(d);
    return d;
  };
  for (let i = 0; i < data.timestampsMs.length; i++) await run.feed(data.timestampsMs[i], data.values[i]);
  await run.close();
  assert.ok(usual.length > 0, 'the envelope capped a sustained alert');
  for (const d of usual) {
    assert.equal(d.anomalous, false);
    assert.ok(d.score < 1 && d.score >= 0.99, String(d.score));
    assert.equal(d.state.envelope!.insideRun >= 19, true);
  }
  // The envelope does not silence the sustained score: a level whose values left the range of the hour still alerts.
  assert.ok(paged.length > 0, 'a sustained alert outside the envelope still pages');
});
