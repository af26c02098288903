import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnomalyRecord, LlmEvent } from '../../src/domain/types';
import { replayMinutes, steadyTraffic } from '../helpers';

const T0 = Date.UTC(2026, 2, 2, 8);
const MINUTE = 60_000;

/** `minutes` of one series, `perMinute` requests, the i-th request of minute m failing when `fails(m, i)`. */
function replay(perMinute: number, minutes: number, fails: (m: number, i: number) => boolean): Promise<AnomalyRecord[]> {
  return replayMinutes(T0, minutes, (m) =>
    steadyTraffic(T0 + m * MINUTE, 1, perMinute, {}, m + 1).map((e, i): LlmEvent => (fails(m, i) ? { ...e, status: 'error', errorType: 'rate_limit' } : e)),
  );
}

test('5 % of requests failing on a service that fails 0.3 % of the time is an error incident (QA: 0 of 15 before)', async () => {
  // ~260 requests a minute; one failure every ~2 minutes, then minutes 90-99 fail 1 in 20.
  const records = await replay(260, 110, (m, i) => (m >= 90 && m < 100 ? i % 20 === 7 : i === 0 && m % 2 === 0));
  const errors = records.filter((r) => r.type === 'error_rate');
  assert.equal(errors.length, 1, records.map((r) => `${r.start} ${r.type}`).join('\n'));
  assert.equal(errors[0].start, new Date(T0 + 90 * MINUTE).toISOString());
  assert.match(errors[0].explanation.summary, /failed requests of/);
});

test('one failure among 10 requests is not an error surge', async () => {
  const records = await replay(10, 120, (m, i) => i === 3 && m % 7 === 0);
  assert.deepEqual(records.filter((r) => r.type === 'error_rate').map((r) => r.start), []);
});
