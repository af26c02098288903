import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dumpSeries, replayAlerts } from '../../bench/nab/explore';
import { readSeries, resolveNabDir } from '../../bench/nab/nab-data';
import { loadConfig } from '../../src/config';

/**
 * explore.ts replay rebuilds a plain series' alert score from the dumped detector scores with the production
 * ensemble, sustained score and hold-off; offline results in docs/BENCHMARKS.md start from it, so it must stay
 * exact. speed_7578 leaves its range above, then below, inside one hold-off (rule findings), its 12-point level
 * below (the level rule), and has held rows.
 */
test('replaying a dump reproduces the pipeline alert score of every row', async () => {
  const file = 'realTraffic/speed_7578.csv';
  const data = readSeries(resolveNabDir(), file);
  const dump = await dumpSeries(file, data.timestampsMs, data.values);
  const config = loadConfig({});
  const replayed = replayAlerts(dump, config.warmupWindows, config.realertPoints, data);
  const col = (name: string) => dump.data[dump.cols.indexOf(name)];
  assert.deepEqual(Array.from(replayed), col('alert'));
  // Not trivially equal: the file alerts, holds points back and has rules with different findings.
  const score = col('score');
  assert.ok(col('alert').some((a) => a > 1));
  assert.ok(score.some((s, i) => s > 1 && col('alert')[i] === 0), 'points held back by the hold-off');
  assert.deepEqual(new Set(dump.findings.filter((f) => f !== null)), new Set(['range:above', 'range:below', 'level:below']));
});
