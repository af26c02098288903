import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { rng } from '../../src/demo/traffic';
import { createLogger } from '../../src/logger';
import { inHoldOff } from '../../src/pipeline/incidents';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SqliteStore } from '../../src/store/sqlite-store';

/**
 * Feeds a noisy plain series (100 +- 5) with spikes (index -> offset); returns alert scores per point and the
 * anomalies. The spikes differ in sign or size: a spike exactly like one the series has already shown is a
 * familiar shape, and points in familiar shapes do not alert on their own (see combine()).
 */
async function run(env: Record<string, string>, spikes: Record<number, number>, n = 700) {
  const store = new SqliteStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig(env), store, log: createLogger('silent'), maxFutureMs: Infinity });
  const events: string[] = [];
  pipeline.onAnomaly((event, record) => void events.push(`${event}:${record.id}`));
  const r = rng(7);
  const alert: number[] = [];
  const t0 = Date.UTC(2026, 0, 5);
  for (let i = 0; i < n; i++) {
    const value = 100 + 10 * (r() - 0.5) + (spikes[i] ?? 0);
    pipeline.ingestPoints([{ series: 'cpu', labels: {}, timestamp: t0 + i * 300_000, value }]);
    await pipeline.idle();
    alert.push(pipeline.scorer.states.values().next().value!.alertScore);
  }
  const anomalies = (await store.listAnomalies({ limit: 100 })).items;
  await store.close();
  return { alert, anomalies, events };
}

const SPIKES = { 300: 400, 330: -90, 500: 800 };

describe('re-alert hold-off of plain series (SENTINEL_REALERT_POINTS)', () => {
  test('an anomaly within the hold-off rejoins the incident that opened it; a later one opens a new incident', async () => {
    const { alert, anomalies, events } = await run({}, SPIKES);
    assert.equal(anomalies.length, 2, JSON.stringify(anomalies.map((a) => [a.start, a.windows])));
    const [first, second] = [...anomalies].sort((a, b) => Date.parse(a.start) - Date.parse(b.start));
    // The spike at 330 (and the points right after a spike, whose recent shape is still new) joined it.
    assert.ok(first.windows >= 2, `windows ${first.windows}`);
    assert.ok(Date.parse(first.end) >= Date.UTC(2026, 0, 5) + 330 * 300_000, first.end);
    assert.equal(second.start, new Date(Date.UTC(2026, 0, 5) + 500 * 300_000).toISOString());
    // Alerting sees the opening spike, nothing inside the hold-off, and the spike after it.
    assert.ok(alert[300] > 1 && alert[500] > 1);
    assert.ok(alert.slice(301, 401).every((s) => s === 0));
    assert.ok(alert[401] > 0, 'the hold-off ends after 100 points');
    assert.equal(events.filter((e) => e.startsWith('opened')).length, 2);
  });

  test('with the hold-off off (0) every separated spike is its own incident', async () => {
    const { alert, anomalies } = await run({ SENTINEL_REALERT_POINTS: '0' }, SPIKES);
    assert.equal(anomalies.length, 3);
    assert.ok(alert[330] > 1);
  });

  test('a rule inside the hold-off alerts again only with a finding the opening alert did not have', async () => {
    // 450-459: a burst of oscillation (a statistical alert; the range rule has no opinion before 500 points);
    // 520: far above everything (the range rule, inside the burst's hold-off: news); 540: further above (the
    // same finding as the alert the hold-off now runs from: held); 560: far below everything (a new finding).
    const spikes: Record<number, number> = { 520: 900, 540: 1400, 560: -700 };
    for (let i = 450; i < 460; i++) spikes[i] = i % 2 ? 60 : -60;
    const { alert, anomalies } = await run({}, spikes);
    assert.ok(alert[450] > 1, `450: ${alert[450]}`);
    assert.ok(alert.slice(451, 520).every((s) => s === 0));
    assert.ok(alert[520] >= 2, `520: ${alert[520]}`);
    assert.equal(alert[540], 0);
    assert.ok(alert[560] >= 2, `560: ${alert[560]}`);
    assert.ok(alert.slice(561, 661).every((s) => s === 0), 'the hold-off runs from the new finding');
    const reasons = anomalies.map((a) => a.explanation.markdown).join('\n');
    assert.match(reasons, /below everything/);
  });

  test('a statistical point alert waits three hold-offs; a sustained alert or a rule with news waits one or none', () => {
    const last = { seq: 100, finding: null };
    assert.equal(inHoldOff(last, 250, 100, null, true), true, 'statistical, 150 points after');
    assert.equal(inHoldOff(last, 400, 100, null, true), true);
    assert.equal(inHoldOff(last, 401, 100, null, true), false);
    assert.equal(inHoldOff(last, 250, 100, null, false), false, 'sustained (or not anomalous), 150 points after');
    assert.equal(inHoldOff(last, 150, 100, 'range:above', true), false, 'a rule is news to a statistical alert');
    assert.equal(inHoldOff(last, 250, 0, null, true), false, 'hold-off off');
  });
});
