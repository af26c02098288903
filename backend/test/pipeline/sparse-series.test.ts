import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rng } from '../../src/demo/traffic';
import type { AnomalyRecord, LlmEvent } from '../../src/domain/types';
import { event, replayMinutes } from '../helpers';
import { MINUTE, inMinutes, traceTraffic } from '../trace-traffic';

/**
 * Sparse series: a series per API key (most keys of the real trace send a request every minute or two) and
 * a key whose windows hold one request. Their per-request features are judged against the windows that
 * observed them, a rate needs requests to move, and a sum that is 0 in most windows has a scale
 * (docs/DETECTION.md, section 1).
 */
const T0 = Date.UTC(2026, 2, 2, 6);

function byMinute(events: LlmEvent[]): (m: number) => LlmEvent[] {
  const out = new Map<number, LlmEvent[]>();
  for (const e of events) {
    const m = Math.floor((e.timestamp - T0) / MINUTE);
    out.set(m, [...(out.get(m) ?? []), e]);
  }
  return (m) => out.get(m) ?? [];
}

const perKey = { SENTINEL_SERIES_KEY: 'service,model,apiKeyId' };
const serious = (records: AnomalyRecord[]) => records.filter((r) => r.severity === 'high' || r.severity === 'critical');

test('a series per API key on an hour of the real code trace (200 keys, nothing injected) does not page for ordinary requests', async () => {
  const events = traceTraffic({ file: 'code.csv', start: T0, minutes: 60, seed: 6 });
  const records = await replayMinutes(T0, 60, byMinute(events), undefined, perKey);
  // Before: 418 records, 238 of them high or critical (empty windows were learnt as the expected value, so
  // a sparse key's baselines froze with a MAD of 0 and every request was far out). 54 (13) before the
  // output/input ratio and the token means of small windows rested on 3 requests; now 38 (2).
  assert.ok(records.length < 100, `${records.length} records for 200 keys in an hour`);
  assert.ok(serious(records).length < 30, `${serious(records).length} high or critical`);
});

test('a series per API key still finds one key (2 requests a minute) 4x slower for 10 minutes, as one incident, and its 10x burst', async () => {
  const events = traceTraffic({ file: 'code.csv', start: T0, minutes: 60, seed: 6 });
  const key = 'key-5';
  const during = (e: LlmEvent) => e.apiKeyId === key && inMinutes(e, T0, 40, 50);
  const slower = events.map((e) => (during(e) ? { ...e, latencyMs: e.latencyMs! * 4, ttftMs: e.ttftMs! * 4 } : e));
  const latency = (await replayMinutes(T0, 60, byMinute(slower), undefined, perKey)).filter((r) => r.labels.apiKeyId === key && Date.parse(r.end) > T0 + 40 * MINUTE);
  // Its empty minutes inside the incident (45-47) used to resolve it, and its next slow request opened another.
  assert.deepEqual(
    latency.map((r) => [r.type, (Date.parse(r.start) - T0) / MINUTE <= 44]),
    [['latency_spike', true]],
    latency.map((r) => `${r.type} ${r.start}..${r.end}`).join(' | '),
  );
  const burst = events.concat(events.filter(during).flatMap((e) => Array.from({ length: 9 }, (_, i) => ({ ...e, timestamp: e.timestamp + 100 * (i + 1) }))));
  const found = (await replayMinutes(T0, 60, byMinute(burst), undefined, perKey)).filter((r) => r.labels.apiKeyId === key && Date.parse(r.start) >= T0 + 40 * MINUTE);
  assert.ok(found.some((r) => Date.parse(r.start) <= T0 + 43 * MINUTE && (r.type === 'traffic_spike' || r.type === 'token_abuse')), found.map((r) => `${r.type} ${r.start}`).join(' | '));
});

test('a key that hits the cache 9 times in 10 with one request a minute: a miss is no cache incident; a busy key whose cache stops hitting is one', async () => {
  const r = rng(11);
  const quiet: LlmEvent[] = [];
  for (let m = 0; m < 90; m++) quiet.push(event(T0 + m * MINUTE + 20_000, { apiKeyId: 'k1', cacheHit: r() < 0.9, latencyMs: 800 + Math.floor(r() * 200) }));
  const records = await replayMinutes(T0, 90, byMinute(quiet), undefined, perKey);
  const cache = records.filter((x) => x.attributions[0]?.feature === 'cache_hit_rate');
  // Before: every miss after the warm-up scored cache_hit_rate z -20 (median 1, MAD 0).
  assert.deepEqual(cache.map((x) => x.explanation.summary), []);

  const busy: LlmEvent[] = [];
  for (let m = 0; m < 90; m++) {
    for (let i = 0; i < 30; i++) busy.push(event(T0 + m * MINUTE + i * 1900, { apiKeyId: 'k1', cacheHit: m >= 70 && m < 80 ? false : r() < 0.9, latencyMs: 800 + Math.floor(r() * 200) }));
  }
  const found = (await replayMinutes(T0, 90, byMinute(busy), undefined, perKey)).filter((x) => x.attributions.some((a) => a.feature === 'cache_hit_rate' && a.z < 0));
  assert.ok(found.some((x) => Date.parse(x.start) >= T0 + 70 * MINUTE && Date.parse(x.start) < T0 + 73 * MINUTE), 'the cache outage of minutes 70-80 is reported');
});

test('one long prompt on a quiet series (10 requests a minute over 20 keys) is no token abuse by its key; a key sending many is', async () => {
  const r = rng(5);
  const traffic = (abuse: (m: number) => LlmEvent[]) => {
    const events: LlmEvent[] = [];
    for (let m = 0; m < 70; m++) {
      for (let i = 0; i < 10; i++) events.push(event(T0 + m * MINUTE + i * 5_900, { apiKeyId: `key-${Math.floor(r() * 20)}`, inputTokens: 400 + Math.floor(r() * 400), latencyMs: 800 + Math.floor(r() * 200) }));
      events.push(...abuse(m));
    }
    return events;
  };
  const longPrompt = traffic((m) => (m === 50 ? [event(T0 + m * MINUTE + 30_000, { apiKeyId: 'key-3', inputTokens: 30_000, latencyMs: 2_000 })] : []));
  const abuse = (await replayMinutes(T0, 70, byMinute(longPrompt))).filter((x) => x.type === 'token_abuse');
  // Before: the key held 80 % of the window's tokens with one request, and the series paged token abuse.
  assert.deepEqual(abuse.map((x) => x.explanation.summary), []);
  const many = traffic((m) => (m >= 50 && m < 55 ? Array.from({ length: 6 }, (_, i) => event(T0 + m * MINUTE + 1_000 + i * 9_000, { apiKeyId: 'key-3', inputTokens: 6_000, latencyMs: 1_500 })) : []));
  const found = (await replayMinutes(T0, 70, byMinute(many))).filter((x) => x.type === 'token_abuse' && x.labels.apiKeyId === 'key-3');
  assert.ok(found.some((x) => Date.parse(x.start) <= T0 + 52 * MINUTE), 'six 6,000-token requests a minute from one key are token abuse naming it');
});

test('a short prompt with a long answer on a key (a request every 6 minutes, prompts of ~2,000 tokens) is no anomaly; every answer 10x longer is an output blow-up', async () => {
  const r = rng(17);
  const minutes = 240;
  const traffic = (every: number, answer: (m: number) => Partial<LlmEvent>) => {
    const events: LlmEvent[] = [];
    for (let m = 0; m < minutes; m += every) {
      events.push(event(T0 + m * MINUTE + Math.floor(r() * 50_000), { apiKeyId: 'k1', inputTokens: 1_800 + Math.floor(r() * 400), outputTokens: 15 + Math.floor(r() * 10), latencyMs: 800 + Math.floor(r() * 200), ...answer(m) }));
    }
    return events;
  };
  // Before: 50 tokens in and 100 out, pooled with the key's one request before it, read as a mean prompt of
  // 50 tokens (z -10) and a ratio of 0.4 against a usual 0.01 (the smallest answer over the smallest prompt).
  const short = traffic(6, (m) => (m === 180 ? { inputTokens: 50, outputTokens: 100 } : {}));
  const quiet = await replayMinutes(T0, minutes, byMinute(short), undefined, perKey);
  assert.deepEqual(quiet.map((x) => x.explanation.summary), []);
  // A request every 2 minutes: three long answers within the pool's 10 windows are the key's ratio.
  const longer = traffic(2, (m) => (m >= 180 && m < 210 ? { outputTokens: 200 + Math.floor(r() * 100) } : {}));
  const found = (await replayMinutes(T0, minutes, byMinute(longer), undefined, perKey)).filter((x) => x.type === 'output_blowup');
  assert.ok(found.some((x) => Date.parse(x.start) <= T0 + 190 * MINUTE), found.map((x) => `${x.type} ${x.start}`).join(' | ') || 'no output blow-up');
});
