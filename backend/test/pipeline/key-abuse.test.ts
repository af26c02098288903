import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../../src/demo/traffic';
import type { LlmEvent } from '../../src/domain/types';
import type { Detection } from '../../src/pipeline/scorer';
import { replayMinutes } from '../helpers';
import { MINUTE, traceTraffic } from '../trace-traffic';

/**
 * One ordinary API key (key-3, ~2 % of the requests) of the real conv trace at full rate spending 5x its
 * usual tokens for 10 minutes (each of its requests sent 5 times). The heaviest key usually holds 12-20 % of
 * a window's tokens and key-3 then ~10 %: the top-key rule never saw it. Judged against its own usual share
 * it is found, named, and the same replay without the abuse pages no key (docs/DETECTION.md, "Token abuse
 * by a key against its own usual").
 */
const T0 = Date.UTC(2026, 2, 2, 6);
const MINUTES = 100;
const FROM = 90;
const KEY = 'key-3';

function abused(events: LlmEvent[], times: number): LlmEvent[] {
  const r = rng(7);
  const out = events.slice();
  for (const e of events) {
    if (e.apiKeyId !== KEY || e.timestamp < T0 + FROM * MINUTE || e.timestamp >= T0 + (FROM + 10) * MINUTE) continue;
    const minute = T0 + Math.floor((e.timestamp - T0) / MINUTE) * MINUTE;
    for (let c = 1; c < times; c++) out.push({ ...e, timestamp: minute + Math.floor(r() * MINUTE) });
  }
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

/** Anomalous windows naming a key (minute, type, culprit). */
async function keyAlerts(events: LlmEvent[]): Promise<{ minute: number; type: string; key: string }[]> {
  const byMinute = new Map<number, LlmEvent[]>();
  for (const e of events) {
    const m = Math.floor((e.timestamp - T0) / MINUTE);
    byMinute.set(m, [...(byMinute.get(m) ?? []), e]);
  }
  const out: { minute: number; type: string; key: string }[] = [];
  await replayMinutes(T0, MINUTES, (m) => byMinute.get(m) ?? [], (_event, _record, d: Detection | null) => {
    const key = d?.culprit?.apiKeyId;
    if (d?.anomalous && key) out.push({ minute: Math.round((d.observation.start - T0) / MINUTE), type: d.type, key });
  });
  return out;
}

test('one key spending 5x its own usual tokens is found as token_abuse naming it; the clean replay names no key', async () => {
  const clean = traceTraffic({ file: 'conv.csv', start: T0, minutes: MINUTES, seed: 3 });
  assert.deepEqual(await keyAlerts(clean), [], 'no key paged on clean traffic');
  const all = await keyAlerts(abused(clean, 5));
  const found = all.filter((a) => a.key === KEY && a.minute >= FROM && a.minute < FROM + 10);
  assert.ok(found.length > 0, 'the abusing key is named in the abuse');
  assert.equal(found[0].type, 'token_abuse');
});
