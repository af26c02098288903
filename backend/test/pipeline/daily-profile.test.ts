import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import type { LlmEvent } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SqliteStore } from '../../src/store/sqlite-store';
import { steadyTraffic } from '../helpers';

const T0 = Date.UTC(2026, 0, 5);
const MINUTE = 60_000;
const DAY = 1440;

/** Four days of 5-minute windows: 10 requests a minute, three times that from 09:00 to 10:00 UTC every day. */
function days(n: number, extra: (day: number, minute: number) => Partial<LlmEvent> | null = () => null): LlmEvent[] {
  const out: LlmEvent[] = [];
  for (let m = 0; m < n * DAY; m++) {
    const minuteOfDay = m % DAY;
    const batchJob = minuteOfDay >= 9 * 60 && minuteOfDay < 10 * 60;
    const over = extra(Math.floor(m / DAY), minuteOfDay);
    const perMinute = over?.inputTokens === -1 ? 100 : batchJob ? 30 : 10;
    const events = steadyTraffic(T0 + m * MINUTE, 1, perMinute, { user: `u${m % 5}` }, m);
    out.push(...(over && over.inputTokens !== -1 ? events.map((e, k) => (k % 2 ? e : { ...e, ...over })) : events));
  }
  return out;
}

test('what an event series does at the same hour every day stops paging from the third day; other incidents still page', async () => {
  const store = new SqliteStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({ SENTINEL_WINDOW: '5m' }), store, log: createLogger('silent'), now: () => 0, maxFutureMs: Infinity });
  const marker = { inputTokens: -1 } as Partial<LlmEvent>;
  const events = days(4, (day, minute) => {
    if (day === 3 && minute >= 14 * 60 && minute < 14 * 60 + 5) return marker; // 10x traffic at 14:00 on day 4
    if (day === 3 && minute >= 9 * 60 + 30 && minute < 9 * 60 + 35) return { status: 'error' }; // errors inside the batch hour
    return null;
  });
  for (let i = 0; i < events.length; i += 5000) {
    pipeline.ingestEvents(events.slice(i, i + 5000));
    await pipeline.idle();
  }
  pipeline.endOfInput();
  await pipeline.idle();
  const records = (await store.listAnomalies({ limit: 1000 })).items;
  const at = (day: number, fromMinute: number, toMinute: number) =>
    records.filter((r) => {
      const t = (Date.parse(r.start) - T0) / MINUTE - day * DAY;
      return t >= fromMinute && t < toMinute;
    });
  const batchHourAlerts = [0, 1, 2, 3].map((d) => at(d, 9 * 60, 10 * 60).filter((r) => r.type === 'traffic_spike').length);
  assert.ok(batchHourAlerts[0] > 0, 'the first run of the batch job is an anomaly');
  assert.deepEqual(batchHourAlerts.slice(2), [0, 0], `from the third day it is the routine (${batchHourAlerts})`);
  assert.ok(at(3, 14 * 60, 14 * 60 + 10).some((r) => r.type === 'traffic_spike'), 'a 10x burst at another hour pages');
  assert.ok(at(3, 9 * 60 + 30, 9 * 60 + 40).some((r) => r.type === 'error_rate'), 'errors inside the routine hour page');
  await store.close();
});
