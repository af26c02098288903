import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnomalyRecord, LlmEvent } from '../../src/domain/types';
import { replayMinutes } from '../helpers';
import { MINUTE, traceTraffic } from '../trace-traffic';

/**
 * Slow drift on the real traces (docs/DETECTION.md, "Slow drift"): the service's traffic thinned to ~30
 * requests a minute (to keep the test quick), 1-minute windows, a day and 4 hours as they are (the detector
 * has no opinion before a day of levels), then a level that creeps up.
 */
const T0 = Date.UTC(2026, 2, 2, 4);
const DRIFT = 1440 + 240;

async function replay(events: LlmEvent[], minutes: number): Promise<AnomalyRecord[]> {
  const byMinute: LlmEvent[][] = Array.from({ length: minutes }, () => []);
  for (const e of events) byMinute[Math.floor((e.timestamp - T0) / MINUTE)]?.push(e);
  return replayMinutes(T0, minutes, (m) => byMinute[m]);
}

const minuteOf = (iso: string) => (Date.parse(iso) - T0) / MINUTE;
const drifts = (records: AnomalyRecord[]) => records.filter((r) => r.explanation.summary.includes('drifted up'));

test('a latency that creeps up 2x over 3 hours is found as a latency drift within 2 hours (it was never found)', async () => {
  const minutes = DRIFT + 150;
  const slower = (t: number) => 1 + Math.max(0, (t - T0 - DRIFT * MINUTE) / (180 * MINUTE));
  const events = traceTraffic({ file: 'code.csv', start: T0, minutes, perMinute: 30, seed: 1 }).map((e) => ({ ...e, latencyMs: Math.round(e.latencyMs! * slower(e.timestamp)), ttftMs: Math.round(e.ttftMs! * slower(e.timestamp)) }));
  const records = await replay(events, minutes);
  const found = drifts(records);
  assert.equal(found.length, 1, records.map((r) => `${minuteOf(r.start)} ${r.type}: ${r.explanation.summary}`).join('\n'));
  assert.equal(found[0].type, 'latency_spike');
  assert.ok(minuteOf(found[0].start) >= DRIFT && minuteOf(found[0].start) < DRIFT + 120, `opened ${minuteOf(found[0].start) - DRIFT} minutes into the drift`);
  assert.match(found[0].explanation.summary, /median latency drifted up from \d{3} ms to 1?,?\d{3} ms \(1\.\dx\) over/);
});

test('the trace as it is, whose answers are 3x longer for ~25 minutes every hour, drifts nowhere', async () => {
  // 30 hours: the detector has an opinion from the end of the first day.
  const minutes = 30 * 60;
  const records = await replay(traceTraffic({ file: 'conv.csv', start: T0, minutes, perMinute: 30, seed: 2 }), minutes);
  assert.deepEqual(drifts(records).map((r) => r.explanation.summary), []);
});
