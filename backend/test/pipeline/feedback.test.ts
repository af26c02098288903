import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config';
import type { LlmEvent } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import { SqliteStore } from '../../src/store/sqlite-store';
import { steadyTraffic } from '../helpers';

const T0 = Date.UTC(2026, 0, 5);
const MINUTE = 60_000;

/** Steady traffic with a burst of 3x the requests (a nightly batch job, say) at each of `bursts` (minutes). */
function traffic(fromMinute: number, minutes: number, bursts: number[], seed: number): LlmEvent[] {
  const out: LlmEvent[] = [];
  for (let m = fromMinute; m < fromMinute + minutes; m++) {
    out.push(...steadyTraffic(T0 + m * MINUTE, 1, bursts.includes(m) ? 90 : 30, { user: `u${m % 7}` }, seed + m));
  }
  return out;
}

async function open(file = ':memory:') {
  const store = new SqliteStore(file);
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({}), store, log: createLogger('silent'), now: () => 0, maxFutureMs: Infinity });
  const feed = async (events: LlmEvent[]) => {
    pipeline.ingestEvents(events);
    await pipeline.idle();
  };
  const anomalyAt = async (minute: number) => (await store.listAnomalies({ limit: 100 })).items.find((a) => a.start === new Date(T0 + minute * MINUTE).toISOString());
  return { store, pipeline, feed, anomalyAt };
}

test('a false-positive verdict dismisses the same situation when it comes back; without it, it alerts again', async () => {
  for (const verdict of [null, 'false_positive'] as const) {
    const s = await open();
    await s.feed(traffic(0, 60, [40], 1));
    const first = await s.anomalyAt(40);
    assert.ok(first, 'the first burst is an anomaly');
    if (verdict) assert.deepEqual((await s.pipeline.feedback(first.id, verdict)).patternsAdded, 1);
    await s.feed(traffic(60, 30, [75], 1_000));
    s.pipeline.endOfInput();
    await s.pipeline.idle();
    const again = await s.anomalyAt(75);
    if (verdict) {
      assert.equal(again, undefined, `dismissed: ${again?.explanation.summary}`);
    } else {
      assert.ok(again, 'without a verdict the burst alerts again');
      assert.equal(again.type, first.type);
    }
    // A far bigger burst of the same kind (it embeds close to the dismissed one) and a different situation
    // on the same series still alert.
    await s.feed([...steadyTraffic(T0 + 90 * MINUTE, 1, 400, { user: 'u1' }, 5), ...traffic(91, 29, [], 4_000)]);
    assert.ok(await s.anomalyAt(90), 'a 13x burst after the verdict on a 3x one');
    // The dismissed burst again, with errors this time (1 request in 7, on a series that never failed: the
    // error-surge rule fires): news, since the dismissed one had no errors.
    await s.feed([...traffic(120, 1, [120], 6_000).map((e, k) => (k % 7 ? e : { ...e, status: 'error' as const })), ...traffic(121, 20, [], 7_000)]);
    const withErrors = await s.anomalyAt(120);
    assert.equal(withErrors?.type, 'error_rate', 'typed by the errors');
    assert.ok(withErrors.attributions.some((a) => a.feature === 'error_rate'), JSON.stringify(withErrors.attributions));
    await s.feed(traffic(141, 5, [], 2_000).map((e) => ({ ...e, latencyMs: 9_000 })));
    s.pipeline.endOfInput();
    await s.pipeline.idle();
    assert.ok(await s.anomalyAt(141), 'a latency incident after the verdict');
    await s.store.close();
  }
});

test('a changed verdict replaces what the earlier one stored; a confirmation survives a restart', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-feedback-'));
  try {
    const a = await open(path.join(dir, 'sentinel.db'));
    await a.feed(traffic(0, 60, [40], 1));
    const first = (await a.anomalyAt(40))!;
    await a.pipeline.feedback(first.id, 'false_positive');
    const normal = await a.store.countPatterns({ kind: 'normal' });
    const incident = await a.store.countPatterns({ kind: 'incident' });
    await a.pipeline.feedback(first.id, 'true_positive', 'nightly batch job');
    assert.equal(await a.store.countPatterns({ kind: 'normal' }), normal - 1, 'the false positive pattern is gone');
    assert.equal(await a.store.countPatterns({ kind: 'incident' }), incident + 1);
    // The burst's window waits in quarantine; the confirmation must keep it there across a restart.
    const states = SeriesStateStore.inDataDir(dir);
    a.pipeline.saveState(states);
    states.close();
    await a.store.close();

    const b = await open(path.join(dir, 'sentinel.db'));
    const restored = SeriesStateStore.inDataDir(dir);
    b.pipeline.restoreState(restored);
    restored.close();
    assert.equal(await b.pipeline.restoreVerdicts(), 1);
    await b.feed(traffic(60, 150, [], 3_000));
    const learnt: string[] = [];
    for await (const batch of b.store.scanPatterns(1000)) for (const p of batch) if (p.kind === 'normal' && p.timestamp === T0 + 40 * MINUTE) learnt.push(p.id);
    assert.deepEqual(learnt, [], 'the confirmed window was not learnt as normal');
    await b.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a shutdown whose time for scoring runs out saves the windows it did not score, and the next start scores them', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'sentinel-backlog-'));
  try {
    const a = await open(path.join(dir, 'sentinel.db'));
    // Forty series' windows closed at once (a backlog), then a stop with no time left to score them.
    const events = Array.from({ length: 40 }, (_, k) => traffic(0, 3, [], k).map((e) => ({ ...e, service: `svc-${k}` }))).flat();
    a.pipeline.ingestEvents(events.sort((x, y) => Number(x.timestamp) - Number(y.timestamp)));
    await a.pipeline.shutdown({ keepUnfinished: true, scoringBudgetMs: 0 });
    const scored = [...a.pipeline.scorer.states.values()].reduce((n, s) => n + s.windowsSeen, 0);
    const saved = a.pipeline.takeUnfinished();
    assert.ok(scored < 80, `${scored} windows scored with no time left`);
    // Each series' first two windows had closed; the third was open at the stop. None is lost.
    assert.equal(scored + saved.windows.length, 120);
    const states = SeriesStateStore.inDataDir(dir);
    a.pipeline.saveState(states);
    states.saveOpenWindows(saved.windows, saved.eventTime);
    states.close();
    await a.store.close();

    const b = await open(path.join(dir, 'sentinel.db'));
    const restored = SeriesStateStore.inDataDir(dir);
    b.pipeline.restoreState(restored);
    const back = restored.takeOpenWindows();
    restored.close();
    b.pipeline.restoreUnfinished(back.windows, back.eventTime);
    await b.pipeline.idle();
    b.pipeline.endOfInput();
    await b.pipeline.idle();
    assert.equal([...b.pipeline.scorer.states.values()].reduce((n, s) => n + s.windowsSeen, 0), 120);
    await b.store.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
