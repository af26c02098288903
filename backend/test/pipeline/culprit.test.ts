import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlmEvent } from '../../src/domain/types';
import { replayMinutes, steadyTraffic } from '../helpers';

/**
 * The anomaly record names the principal behind a security burst or a token abuse (labels.apiKeyId, which
 * the summary shows and alert payloads fingerprint) also when the statistical detectors found it before the
 * rule's boundary: 3 jailbreak verdicts of one key in a window of a series that never had one score 1.5 on
 * robust z and EWMA (their band is 0 to 2), the security-burst rule 0.67 (it needs more than 4.5); a new key
 * taking half the tokens shows as top_key_token_share. Both were records without a key (QA, live).
 */
const T0 = Date.UTC(2026, 2, 2, 6);
const MINUTE = 60_000;
const keyed = (events: LlmEvent[]) => events.map((e, i) => ({ ...e, apiKeyId: `key-${i % 10}`, user: `user-${i % 10}` }));

test('3 jailbreak verdicts from one key on a series that never had one: a security_pattern record naming the key', async () => {
  const base = keyed(steadyTraffic(T0, 40));
  const probe = [10_000, 25_000, 40_000].map((s) => ({ ...base[0], timestamp: T0 + 30 * MINUTE + s, apiKeyId: 'key-probe', user: 'user-probe', securityEvents: ['jailbreak'] }));
  const events = [...base, ...probe].sort((a, b) => a.timestamp - b.timestamp);
  const records = await replayMinutes(T0, 40, (m) => events.filter((e) => e.timestamp >= T0 + m * MINUTE && e.timestamp < T0 + (m + 1) * MINUTE));
  const security = records.filter((r) => r.type === 'security_pattern');
  assert.equal(security.length, 1, records.map((r) => r.explanation.summary).join('\n'));
  assert.equal(security[0].labels.apiKeyId, 'key-probe', security[0].explanation.summary);
  assert.match(security[0].explanation.summary, /key-probe/);
});

