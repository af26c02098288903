import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nabPipeline } from '../../src/bench/nab-bench';

/** Seeded noise (mulberry32), so the series is the same on every run. */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('one glitch does not widen the scale of a plain series for the length of its baseline', async () => {
  const run = nabPipeline('glitch');
  const rnd = noise(7);
  const minute = 60_000;
  let state = await run.feed(0, 100);
  for (let i = 1; i < 700; i++) state = await run.feed(i * minute, 100 + 6 * (rnd() - 0.5));
  const before = run.pipeline.scorer.baseline(state).scale[0];
  state = await run.feed(700 * minute, 10_000);
  for (let i = 701; i < 760; i++) state = await run.feed(i * minute, 100 + 6 * (rnd() - 0.5));
  const after = run.pipeline.scorer.baseline(state).scale[0];
  // Before the trimmed range the floor was 2 % of 100..10,000 (198): bands of about +-1,200 around 100.
  assert.ok(after < 2 * before, `scale ${after} after the glitch, ${before} before`);
  await run.close();
});
