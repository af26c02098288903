import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { demoTraffic } from '../../src/demo/traffic';
import { createLogger } from '../../src/logger';
import { replay } from '../../src/replay';

/**
 * Every request costing 5x (a price change, traffic routed to a dearer model) with the same tokens: the cost of
 * a bursty series follows its traffic, and its band (code-copilot: 0-0.9 USD a window around a median of
 * 0.045) held the 5x windows, so nothing was reported (QA). Per 1,000 tokens the cost is as steady as the
 * price, and the llm_rules cost-per-token rule reports it.
 */
const start = Date.UTC(2026, 10, 22, 9, 0);
const at = (m: number) => start + m * 60_000;

test('every request of the bursty code-copilot costing 5x for 10 minutes is a cost_spike within 2 windows; the clean hour has none', async () => {
  const config = loadConfig({});
  const log = createLogger('silent');
  const clean = demoTraffic(start, []);
  const pricier = clean.map((e) => (e.service === 'code-copilot' && e.timestamp >= at(40) && e.timestamp < at(50) ? { ...e, costUsd: e.costUsd * 5 } : e));
  const found = (await replay(pricier, config, log)).anomalies.filter((a) => a.type === 'cost_spike' && a.labels.service === 'code-copilot');
  assert.ok(
    found.some((a) => Date.parse(a.start) >= at(40) && Date.parse(a.start) <= at(41)),
    `cost_spike records: ${found.map((a) => `${a.start} ${a.explanation.summary}`).join(' | ') || 'none'}`,
  );
  assert.match(found[0].explanation.summary, /per 1,000 tokens, usually ~\$0\.000\d+ \(\d(\.\d+)?x\)/);
  const costs = (await replay(clean, config, log)).anomalies.filter((a) => a.type === 'cost_spike');
  assert.deepEqual(costs.map((a) => a.explanation.summary), []);
});
