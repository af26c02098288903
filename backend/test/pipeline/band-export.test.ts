import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BandExport } from '../../src/pipeline/band-export';

type Labels = { service: string; model: string; feature: string };
const features = ['request_count', 'latency_p95_ms'];
const fillWith = (v: number) => (values: Float64Array) => values.fill(v);

test('band export: a dropped service/model is removed at the next scrape, once per label set however often it slept', async () => {
  const bands = new BandExport();
  // Without a scrape in between, a series that sleeps and wakes 1,000 times leaves one pending removal per
  // label set, not 1,000 (a service nobody scrapes must not grow with every dormancy).
  for (let i = 0; i < 1000; i++) {
    bands.record('chat', 'gpt-4o', features, fillWith(i));
    bands.drop('chat', 'gpt-4o');
  }
  const removed: Labels[] = [];
  const set: Labels[] = [];
  await bands.fill(1, (l) => set.push(l), (l) => removed.push(l));
  assert.deepEqual(removed.map((l) => l.feature).sort(), [...features].sort());
  assert.equal(set.length, 0, 'nothing left to set: the series is dormant');
  // It comes back: removed nothing more, set again.
  bands.record('chat', 'gpt-4o', features, fillWith(7));
  removed.length = 0;
  await bands.fill(1, (l) => set.push(l), (l) => removed.push(l));
  assert.equal(removed.length, 0);
  assert.deepEqual(set.map((l) => l.feature).sort(), [...features].sort());
});
