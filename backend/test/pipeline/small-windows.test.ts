import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../../src/demo/traffic';
import type { AnomalyRecord, LlmEvent } from '../../src/domain/types';
import { replayMinutes } from '../helpers';
import { MINUTE, inMinutes, traceTraffic } from '../trace-traffic';

/**
 * A quiet series: the real code trace thinned to ~3 requests a minute (2-5 in most windows), two hours, with
 * something done to minutes 90-99. One slow request is not a latency incident; a sustained shift or many
 * slow requests is (docs/DETECTION.md, "Latency of small windows").
 */
const T0 = Date.UTC(2026, 2, 2, 6);
const SEEDS = [1, 2, 3];

async function replay(events: LlmEvent[]): Promise<AnomalyRecord[]> {
  const byMinute = new Map<number, LlmEvent[]>();
  for (const e of events) {
    const m = Math.floor((e.timestamp - T0) / MINUTE);
    byMinute.set(m, [...(byMinute.get(m) ?? []), e]);
  }
  return replayMinutes(T0, 110, (m) => byMinute.get(m) ?? []);
}

const quiet = (seed: number) => traceTraffic({ file: 'code.csv', start: T0, minutes: 110, perMinute: 3, seed });
const at = (m: number) => T0 + m * MINUTE;
/** Latency records that cover some of minutes [from, to). */
const latencyDuring = (records: AnomalyRecord[], from: number, to: number) =>
  records.filter((r) => r.type === 'latency_spike' && Date.parse(r.start) < at(to) && Date.parse(r.end) > at(from));

test('one 60 s request in a window of a quiet series does not open a latency incident (it did on every seed)', async () => {
  for (const seed of SEEDS) {
    const events = quiet(seed);
    const k = events.findIndex((e) => e.timestamp >= at(90) + 20_000);
    events[k] = { ...events[k], latencyMs: 60_000 };
    const records = await replay(events);
    const opened = records.filter((r) => r.type === 'latency_spike' && Date.parse(r.start) >= at(90) && Date.parse(r.start) < at(93));
    assert.deepEqual(
      opened.map((r) => r.explanation.summary),
      [],
      `seed ${seed}: the window holds ${events.filter((e) => inMinutes(e, T0, 90, 91)).length} requests, one of them 60 s`,
    );
  }
});

test('a quiet series still alerts a sustained latency shift: every request 3x slower, or 20 % timing out, for 10 minutes', async () => {
  for (const seed of SEEDS) {
    const slower = quiet(seed).map((e) => (inMinutes(e, T0, 90, 100) ? { ...e, latencyMs: e.latencyMs! * 3, ttftMs: e.ttftMs! * 3 } : e));
    assert.ok(latencyDuring(await replay(slower), 90, 100).length > 0, `seed ${seed}: 3x slower`);
    const r = rng(seed + 7);
    const timeouts = quiet(seed).map((e) => (inMinutes(e, T0, 90, 100) && r() < 0.2 ? { ...e, latencyMs: 60_000 } : e));
    assert.ok(latencyDuring(await replay(timeouts), 90, 100).length > 0, `seed ${seed}: 20 % timeouts`);
  }
});
