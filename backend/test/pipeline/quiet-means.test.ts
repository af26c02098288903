import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlmEvent } from '../../src/domain/types';
import { replayMinutes } from '../helpers';
import { MINUTE, inMinutes, traceTraffic } from '../trace-traffic';

/**
 * Token means of a quiet series (the code trace thinned to ~3 requests a minute, docs/DETECTION.md "Small
 * windows"): one long answer is not an output blow-up; every answer 3x longer still is.
 */
const T0 = Date.UTC(2026, 2, 2, 6);
const at = (m: number) => T0 + m * MINUTE;

async function outputWindows(events: LlmEvent[]): Promise<number[]> {
  const byMinute = new Map<number, LlmEvent[]>();
  for (const e of events) {
    const m = Math.floor((e.timestamp - T0) / MINUTE);
    byMinute.set(m, [...(byMinute.get(m) ?? []), e]);
  }
  const found: number[] = [];
  await replayMinutes(T0, 110, (m) => byMinute.get(m) ?? [], (_event, _record, d) => {
    if (d?.anomalous && d.type === 'output_blowup') found.push((d.observation.start - T0) / MINUTE);
  });
  return found;
}

const quiet = (seed: number) => traceTraffic({ file: 'code.csv', start: T0, minutes: 110, perMinute: 3, seed });

test('one 4,000-token answer in a window of a quiet series is not an output blow-up (it was on every seed)', async () => {
  for (const seed of [1, 2, 3]) {
    const events = quiet(seed);
    const k = events.findIndex((e) => e.timestamp >= at(90) + 20_000);
    events[k] = { ...events[k], outputTokens: 4000, latencyMs: 4000 * 22 + 300 };
    const found = (await outputWindows(events)).filter((m) => m >= 90 && m < 93);
    assert.deepEqual(found, [], `seed ${seed}: ${events.filter((e) => inMinutes(e, T0, 90, 91)).length} requests in minute 90, one of 4,000 tokens`);
  }
});

test('every answer 3x longer for 10 minutes on a quiet series is still an output blow-up', async () => {
  for (const seed of [6, 7, 8]) {
    const events = quiet(seed).map((e) => (inMinutes(e, T0, 90, 100) ? { ...e, outputTokens: e.outputTokens * 3, latencyMs: e.latencyMs! + 2 * e.outputTokens * 22 } : e));
    const found = (await outputWindows(events)).filter((m) => m >= 90 && m < 100);
    assert.ok(found.length > 0, `seed ${seed}: no output blow-up during the 10 minutes`);
  }
});
