import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../../src/demo/traffic';
import type { AnomalyRecord, LlmEvent } from '../../src/domain/types';
import { replayMinutes } from '../helpers';
import { MINUTE, inMinutes, traceTraffic } from '../trace-traffic';

/**
 * Failed requests on a quiet series: the real code trace thinned to ~3 and ~10 requests a minute, two hours,
 * with the demo's 0.3 % background failures (docs/DETECTION.md, "Small windows"). One or two failed requests
 * are no error incident, however few requests they fail among; a storm is.
 */
const T0 = Date.UTC(2026, 2, 2, 6);
const at = (m: number) => T0 + m * MINUTE;

/** The anomaly records, and the minutes of the anomalous windows typed `error_rate` (an incident already open takes them in). */
async function replay(events: LlmEvent[]): Promise<{ records: AnomalyRecord[]; errorWindows: number[] }> {
  const byMinute = new Map<number, LlmEvent[]>();
  for (const e of events) {
    const m = Math.floor((e.timestamp - T0) / MINUTE);
    byMinute.set(m, [...(byMinute.get(m) ?? []), e]);
  }
  const errorWindows: number[] = [];
  const records = await replayMinutes(T0, 120, (m) => byMinute.get(m) ?? [], (_event, _record, d) => {
    if (d?.anomalous && d.type === 'error_rate') errorWindows.push((d.observation.start - T0) / MINUTE);
  });
  return { records, errorWindows };
}

const quiet = (perMinute: number, seed: number) => traceTraffic({ file: 'code.csv', start: T0, minutes: 120, perMinute, seed });
const errorRecords = (records: AnomalyRecord[]) => records.filter((r) => r.type === 'error_rate').map((r) => `${(Date.parse(r.start) - T0) / MINUTE}: ${r.explanation.summary}`);
const fail = (e: LlmEvent): LlmEvent => ({ ...e, status: 'error', errorType: 'upstream_503', outputTokens: 0, latencyMs: 150 });

test('one failed request in a window of a quiet series, or a background failure, is not an error incident (it paged on every seed)', async () => {
  for (const seed of [1, 2, 3]) {
    const events = quiet(3, seed);
    const k = events.findIndex((e) => e.timestamp >= at(90) + 20_000);
    events[k] = fail(events[k]);
    const { records, errorWindows } = await replay(events);
    assert.deepEqual(errorWindows, [], errorRecords(records).join('\n'));
    assert.deepEqual(
      errorRecords(records),
      [],
      `seed ${seed}: 1 failed of the ${events.filter((e) => inMinutes(e, T0, 90, 91)).length} requests of minute 90, ${events.filter((e) => e.status === 'error').length} failures in 2 h`,
    );
  }
});

test('an error storm on a quiet series is still an error incident: 40 % of requests failing for 10 minutes', async () => {
  for (const [perMinute, seed] of [[3, 1], [3, 2], [10, 1], [10, 2]]) {
    const r = rng(seed + 7);
    const events = quiet(perMinute, seed).map((e) => (inMinutes(e, T0, 90, 100) && r() < 0.4 ? fail(e) : e));
    const { errorWindows } = await replay(events);
    const found = errorWindows.filter((m) => m >= 90 && m < 100);
    assert.ok(found.length > 0, `~${perMinute} requests a minute, seed ${seed}: no error window during the storm`);
    assert.ok(found[0] <= 93, `~${perMinute} requests a minute, seed ${seed}: first error window at minute ${found[0]}`);
  }
});
