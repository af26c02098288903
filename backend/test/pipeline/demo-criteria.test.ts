import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { judge } from '../../src/demo/demo';
import { DEMO_INCIDENTS, demoTraffic } from '../../src/demo/traffic';
import { createLogger } from '../../src/logger';
import { replay } from '../../src/replay';

/**
 * The demo's promise, on the real Azure LLM trace: each of the five injected incidents is reported within
 * two windows of its start, and the clean hour raises at most two anomalies. (npm run demo runs the same
 * through HTTP and prints the table.)
 */
test('demo criteria hold on the real trace (5/5 incidents within 2 windows; <= 2 on the clean hour)', async () => {
  const start = Date.UTC(2026, 10, 22, 9, 0);
  const config = loadConfig({});
  const log = createLogger('silent');
  const withIncidents = await replay(demoTraffic(start, DEMO_INCIDENTS), config, log);
  const clean = await replay(demoTraffic(start, []), config, log);
  const o = judge(withIncidents.anomalies, clean.anomalies, start, config.windowMs);
  for (const r of o.rows) assert.ok(r.found, `missed: ${r.incident.name}`);
  for (const r of o.rows) assert.equal(r.found!.type, r.incident.type, `${r.incident.name} typed ${r.found!.type}`);
  assert.ok(o.cleanAnomalies.length <= 2, `clean hour: ${o.cleanAnomalies.map((a) => a.explanation.summary).join(' | ')}`);
  assert.ok(o.ok);
});
