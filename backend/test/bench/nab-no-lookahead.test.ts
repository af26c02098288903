import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipelineNabFactory } from '../../src/bench/nab-bench';
import { resolveNabDir, parseNabTimestamp } from '../../bench/nab/nab-data';

/**
 * Issue 3: the detector's output for a file does not change when later rows are removed. Runs the
 * production NAB detector on a real NAB file in full (14 days, its anomaly at day 10) and truncated after
 * 10.4 days, so that every voice has history to use: the 1,000-point record of the sustained score, the
 * range and level rules (from the 500th point) and the daily envelope of the earlier days.
 */
test('NAB detector has no look-ahead: scores of a prefix equal the full run on that prefix', async () => {
  const file = 'artificialWithAnomaly/art_daily_jumpsup.csv';
  const rows = readFileSync(join(resolveNabDir(), 'data', file), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  const n = rows.length;
  const cut = 3000;
  const run = async (count: number) => {
    const d = pipelineNabFactory(file);
    const out: number[] = [];
    for (const [ts, v] of rows.slice(0, count)) out.push(await d.score(parseNabTimestamp(ts), Number(v)));
    await d.close?.();
    return out;
  };
  const full = await run(n);
  const prefix = await run(cut);
  assert.deepEqual(prefix, full.slice(0, cut));
  assert.ok(full.some((x) => x > 0), 'the detector produced scores');
});
