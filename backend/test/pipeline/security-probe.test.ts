import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AnomalyRecord, LlmEvent } from '../../src/domain/types';
import { replayMinutes } from '../helpers';
import { MINUTE, traceTraffic } from '../trace-traffic';

/**
 * A slow security probe (docs/DETECTION.md, section 5): one key sending a prompt-injection verdict or two a
 * minute for 10 minutes, on the real chat trace thinned to ~40 requests a minute. The burst rule needs more
 * than 4.5 events in one window and robust z / EWMA 3-4, so it made no record (QA, live).
 */
const T0 = Date.UTC(2026, 2, 2, 6);
const MINUTES = 90;

async function replay(extra: LlmEvent[]): Promise<AnomalyRecord[]> {
  const events = [...traceTraffic({ file: 'conv.csv', start: T0, minutes: MINUTES, perMinute: 40, seed: 4 }), ...extra];
  const byMinute = new Map<number, LlmEvent[]>();
  for (const e of events) {
    const m = Math.floor((e.timestamp - T0) / MINUTE);
    byMinute.set(m, [...(byMinute.get(m) ?? []), e]);
  }
  return replayMinutes(T0, MINUTES, (m) => (byMinute.get(m) ?? []).sort((a, b) => a.timestamp - b.timestamp));
}

const verdict = (minute: number, second: number, apiKeyId: string): LlmEvent => ({
  timestamp: T0 + minute * MINUTE + second * 1000,
  service: 'chat-assistant',
  model: 'gpt-4o',
  apiKeyId,
  user: `user-${apiKeyId}`,
  inputTokens: 900,
  outputTokens: 60,
  latencyMs: 800,
  costUsd: 0.0024,
  status: 'ok',
  securityEvents: ['prompt_injection'],
});
const security = (records: AnomalyRecord[]) => records.filter((r) => r.type === 'security_pattern');

test('one key sending 1-2 injection verdicts a minute for 10 minutes is a security_pattern incident naming the key', async () => {
  const probe: LlmEvent[] = [];
  for (let m = 60; m < 70; m++) {
    probe.push(verdict(m, 10, 'key-probe'));
    if (m % 2) probe.push(verdict(m, 40, 'key-probe'));
  }
  const found = security(await replay(probe));
  assert.equal(found.length, 1, found.map((r) => r.explanation.summary).join('\n'));
  const [r] = found;
  // 6 events are the boundary; the 7th comes in the 5th window (minute 64).
  assert.ok(Date.parse(r.start) <= T0 + 64 * MINUTE, r.start);
  assert.ok(r.severity === 'high' || r.severity === 'critical', r.severity);
  assert.equal(r.labels.apiKeyId, 'key-probe', JSON.stringify(r.labels));
  assert.match(r.explanation.markdown, /apiKeyId key-probe sent \d+ security events in \d+ of the last 10 windows/);
});

test('the same number of verdicts spread over many keys, or one key\'s two verdicts, is no probe', async () => {
  const spread: LlmEvent[] = [];
  for (let m = 60; m < 75; m++) spread.push(verdict(m, 10, `key-${m}`));
  assert.deepEqual(security(await replay(spread)).map((r) => r.explanation.summary), []);
  assert.deepEqual(security(await replay([verdict(60, 10, 'key-a'), verdict(65, 10, 'key-a')])).map((r) => r.explanation.summary), []);
});
