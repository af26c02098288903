import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildAlertPayload } from '../../src/alerts/payload';
import { loadConfig } from '../../src/config';
import { DEMO_INCIDENTS, demoTraffic } from '../../src/demo/traffic';
import { fingerprint } from '../../src/explain/redact';
import { createLogger } from '../../src/logger';
import { replay } from '../../src/replay';

test('a key named by a rule is in the record labels and never in clear in the alert payload, even when a statistical detector won', async () => {
  const r = await replay(demoTraffic(Date.UTC(2024, 0, 1), DEMO_INCIDENTS, 42), loadConfig({}), createLogger('silent'));
  const abuse = r.anomalies.find((a) => a.type === 'token_abuse');
  assert.ok(abuse, 'the demo has a token abuse incident');
  // The leaked key is named by the token rule's reason in the summary...
  assert.match(abuse.explanation.summary, /key-leaked-7f3a/);
  // ...while a statistical detector scored higher than the rule (the case that leaked it).
  assert.ok(Math.max(abuse.detectors.robust_z ?? 0, abuse.detectors.ewma ?? 0) > (abuse.detectors.llm_rules ?? 0));
  assert.equal(abuse.labels.apiKeyId, 'key-leaked-7f3a');
  // The jailbreak burst names the key that sent it (key-133), not the heaviest token user.
  const burst = r.anomalies.find((a) => a.type === 'security_pattern');
  assert.equal(burst?.labels.apiKeyId, 'key-133');
  for (const event of ['opened', 'resolved'] as const) {
    const text = JSON.stringify(buildAlertPayload(abuse, event, Date.UTC(2024, 0, 1, 1)));
    assert.doesNotMatch(text, /key-leaked-7f3a/);
    assert.ok(text.includes(fingerprint('key', 'key-leaked-7f3a')));
  }
});
