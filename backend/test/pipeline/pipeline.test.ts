import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { replay } from '../../src/replay';
import { event, minutesAgo, post, startServer, steadyTraffic, type TestServer } from '../helpers';

const log = createLogger('silent');

/** Runs `fn` on a service started again on `dataDir` (a restart), then stops it. */
async function restarted(dataDir: string, fn: (s: TestServer) => Promise<void>): Promise<void> {
  const s = await startServer({}, dataDir);
  try {
    await fn(s);
  } finally {
    await s.close();
  }
}

describe('pipeline end to end (replay, event time)', () => {
  const start = Date.UTC(2026, 0, 5, 10, 0);
  const config = loadConfig({});

  test('a latency regression after a normal period becomes one incident with a stable id and evidence', async () => {
    const normal = steadyTraffic(start, 40);
    const incident = steadyTraffic(start + 40 * 60_000, 3, 30, { latencyMs: 6000 }, 7);
    const after = steadyTraffic(start + 43 * 60_000, 8, 30, {}, 9);
    const r1 = await replay([...normal, ...incident, ...after], config, log);
    assert.equal(r1.anomalies.length, 1, JSON.stringify(r1.anomalies.map((a) => [a.start, a.type, a.explanation.summary])));
    const a = r1.anomalies[0];
    assert.equal(a.start, new Date(start + 40 * 60_000).toISOString());
    assert.equal(a.type, 'latency_spike');
    // The three incident windows merge into one incident; the recovery window may join it.
    assert.ok(a.windows >= 3 && a.windows <= 4, `windows ${a.windows}`);
    assert.ok(Date.parse(a.end) <= start + 44 * 60_000);
    assert.equal(a.status, 'resolved');
    assert.ok(a.score > 1);
    assert.ok(a.attributions.some((x) => x.feature.startsWith('latency') && x.actual > x.upper));
    assert.match(a.explanation.summary, /latency/);
    assert.ok(a.explanation.evidence.nearestNormal.length > 0, 'compared with stored normal windows');
    // Same input, same ids and scores: replays are deterministic.
    const r2 = await replay([...normal, ...incident, ...after], config, log);
    assert.deepEqual(
      r2.anomalies.map((x) => [x.id, x.score]),
      r1.anomalies.map((x) => [x.id, x.score]),
    );
  });

  test('an input that ends 15 s into a window does not report that window as a traffic drop', async () => {
    const last = steadyTraffic(start + 40 * 60_000, 1).filter((e) => e.timestamp < start + 40 * 60_000 + 15_000);
    const r = await replay([...steadyTraffic(start, 40), ...last], config, log);
    // Scored like a whole window, a quarter of a minute's traffic was a critical "traffic down" anomaly.
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.windows, 40);
    assert.deepEqual(r.unscored, { windows: 1, events: last.length });
  });

  test('an input that begins 30 s into a window leaves that window out instead of learning it as normal', async () => {
    const traffic = steadyTraffic(start, 30);
    const first = traffic.filter((e) => e.timestamp < start + 60_000 && e.timestamp >= start + 30_000);
    const r = await replay([...first, ...traffic.filter((e) => e.timestamp >= start + 60_000)], config, log);
    assert.equal(r.windows, 29);
    assert.deepEqual(r.unscored, { windows: 1, events: first.length });
  });

  test('nothing alerts during warm-up, and steady traffic stays quiet', async () => {
    const noisyStart = steadyTraffic(start, 10, 30, { latencyMs: 5000 });
    const r = await replay([...noisyStart, ...steadyTraffic(start + 10 * 60_000, 40)], config, log);
    assert.ok(r.anomalies.every((a) => Date.parse(a.start) >= start + config.warmupWindows * 60_000));
    const quiet = await replay(steadyTraffic(start, 60), config, log);
    assert.equal(quiet.anomalies.length, 0);
  });

  test('warm-up counts windows learnt, not reported silence: one request and an hour of quiet is not a warm series (QA)', async () => {
    // One request of `svc`, then 40 minutes in which only another service reports (svc gets empty windows),
    // then a few ordinary requests of svc: a series that has seen one request has no normal to break.
    const lone = (t: number, i: number) => event(t, { service: 'svc', model: 'm', inputTokens: 800 + i, outputTokens: 200, latencyMs: 1200 + 10 * i });
    const events = [lone(start + 5_000, 0), ...steadyTraffic(start, 45, 10, { service: 'other' }), ...[1, 2, 3, 4, 5].map((i) => lone(start + 40 * 60_000 + i * 5_000, i))];
    const r = await replay(events.sort((a, b) => a.timestamp - b.timestamp), config, log);
    assert.deepEqual(r.anomalies.filter((a) => a.labels.service === 'svc').map((a) => [a.type, a.severity, a.score]), []);
  });
});

describe('service state across restarts, feedback and shutdown', () => {
  test('patterns and anomalies survive a restart; a false positive becomes a normal pattern at once', async () => {
    const s1 = await startServer({ SENTINEL_WARMUP_WINDOWS: '15' });
    const start = minutesAgo(40);
    const events = [...steadyTraffic(start, 30), ...steadyTraffic(start + 30 * 60_000, 2, 30, { outputTokens: 4000, latencyMs: 9000 }, 3), ...steadyTraffic(start + 32 * 60_000, 5, 30, {}, 4)];
    for (let i = 0; i < events.length; i += 500) assert.ok((await post(`${s1.url}/api/v1/events`, events.slice(i, i + 500))).ok);
    s1.app.pipeline.endOfInput();
    await s1.app.pipeline.idle();
    const list = await (await fetch(`${s1.url}/api/v1/anomalies`)).json();
    assert.ok(list.items.length >= 1, 'the blow-up was found');
    const id = list.items[list.items.length - 1].id;
    const patterns = await s1.app.store.countPatterns();
    assert.ok(patterns > 20);
    await s1.close({ keepData: true });
    // Closing scored the open windows; the series state saved at shutdown includes them.
    const seen = new Map([...s1.app.pipeline.scorer.states.values()].map((s) => [s.key, s.windowsSeen]));
    assert.ok(seen.size > 0);

    await restarted(s1.dataDir, async (s2) => {
      assert.equal(await s2.app.store.countPatterns(), patterns, 'patterns kept');
      assert.deepEqual(new Map([...s2.app.pipeline.scorer.states.values()].map((s) => [s.key, s.windowsSeen])), seen, 'series state kept');
      const got = await (await fetch(`${s2.url}/api/v1/anomalies/${id}`)).json();
      assert.equal(got.id, id);
      assert.ok(!('vector' in got), 'internal vector not exposed');
      const fb = await post(`${s2.url}/api/v1/feedback`, { anomalyId: id, verdict: 'false_positive', note: 'planned load test' });
      assert.equal(fb.status, 200);
      assert.deepEqual(await fb.json(), { anomalyId: id, verdict: 'false_positive', patternsAdded: 1 });
      assert.equal(await s2.app.store.countPatterns(), patterns + 1);
      const after = await (await fetch(`${s2.url}/api/v1/anomalies/${id}`)).json();
      assert.equal(after.feedback.verdict, 'false_positive');
      const metrics = await (await fetch(`${s2.url}/metrics`)).text();
      assert.match(metrics, /^sentinel_feedback_total\{verdict="false_positive"\} 1$/m);
      assert.match(metrics, /^sentinel_false_positive_rate 1$/m);
      // The same verdict again (a second click) is no news; a changed one is.
      assert.equal((await post(`${s2.url}/api/v1/feedback`, { anomalyId: id, verdict: 'false_positive' })).status, 200);
      assert.equal((await post(`${s2.url}/api/v1/feedback`, { anomalyId: id, verdict: 'true_positive' })).status, 200);
      const again = await (await fetch(`${s2.url}/metrics`)).text();
      assert.match(again, /^sentinel_feedback_total\{verdict="false_positive"\} 1$/m);
      assert.match(again, /^sentinel_feedback_total\{verdict="true_positive"\} 1$/m);
      // The same verdict again without a note keeps the note; a new verdict without one has none.
      await post(`${s2.url}/api/v1/feedback`, { anomalyId: id, verdict: 'false_positive', note: 'planned load test' });
      await post(`${s2.url}/api/v1/feedback`, { anomalyId: id, verdict: 'false_positive' });
      assert.equal((await (await fetch(`${s2.url}/api/v1/anomalies/${id}`)).json()).feedback.note, 'planned load test');
    });
  });

  test('graceful shutdown scores the windows that ended and saves the one it is in the middle of; the next start continues it', async () => {
    const s = await startServer();
    // The current minute's window must still be open when the service starts again (it is restored, not closed).
    const t = minutesAgo(1);
    await post(`${s.url}/api/v1/events`, [event(t), event(t + 1000), event(t + 61_000)]);
    assert.equal(s.app.pipeline.windower.openWindowCount, 2);
    await s.close({ keepData: true });
    assert.equal(s.app.pipeline.windower.openWindowCount, 0);
    // The window [t, t + 60 s) had ended (an event at t + 61 s): scored. The next one had 1 s of 60: saved.
    assert.equal(s.app.pipeline.scorer.states.get('service=chat|model=m1')?.windowsSeen, 1);
    await restarted(s.dataDir, async (s2) => {
      assert.equal(s2.app.pipeline.windower.openWindowCount, 1);
      assert.ok(s2.logs.some((l) => l.includes('windows open at the last shutdown restored')));
      assert.ok((await post(`${s2.url}/api/v1/events`, [event(t + 62_000)])).ok);
      assert.equal(s2.app.pipeline.windower.openWindowCount, 1, 'the event joined the restored window');
      // Ended here at 2 s of 60, the window is not scored; both its events are counted as such.
      assert.deepEqual(s2.app.pipeline.endOfInput(), { windows: 1, events: 2 });
      // An event of the window scored before the restart is late, not a second copy of that window.
      const late = await (await post(`${s2.url}/api/v1/events`, [event(t + 30_000)])).json();
      assert.equal(late.rejected.length, 1, JSON.stringify(late));
    });
  });

  test('the state is saved at every interval and at shutdown, not only the first time', async () => {
    const s = await startServer({ SENTINEL_STATE_SAVE_SECONDS: '1' });
    const t = minutesAgo(10);
    try {
      await post(`${s.url}/api/v1/events`, [event(t), event(t + 61_000), event(t + 121_000)]);
      await s.app.pipeline.idle();
      await new Promise((r) => setTimeout(r, 1300)); // the first interval save: 2 windows
      await post(`${s.url}/api/v1/events`, [event(t + 181_000), event(t + 241_000)]);
      await s.app.pipeline.idle();
      assert.equal(s.app.pipeline.scorer.states.get('service=chat|model=m1')?.windowsSeen, 3);
    } finally {
      // The shutdown scores [t + 3 min, t + 4 min) too (it ended at t + 241 s): 4 windows to save.
      await s.close({ keepData: true });
    }
    await restarted(s.dataDir, async (s2) => {
      // A save with nothing to await used to leave the save promise set for good: this read 1.
      assert.equal(s2.app.pipeline.scorer.states.get('service=chat|model=m1')?.windowsSeen, 4);
    });
  });

  test('a saved window whose time ran out while the service was down is closed at the next start', async () => {
    const s = await startServer();
    const t = minutesAgo(10);
    await post(`${s.url}/api/v1/events`, [event(t), event(t + 30_000), event(t + 55_000)]);
    await s.close({ keepData: true });
    await restarted(s.dataDir, async (s2) => {
      // The last run saw 55 s of its 60: scored at start instead of waiting for events that cannot come.
      await s2.app.pipeline.idle();
      assert.equal(s2.app.pipeline.windower.openWindowCount, 0);
      assert.equal(s2.app.pipeline.scorer.states.get('service=chat|model=m1')?.windowsSeen, 1);
      assert.ok(s2.logs.some((l) => l.includes('"restored":0,"closed":1')), s2.logs.join(''));
    });
  });

  test('without saved state, shutdown scores a last window the input covered 90 % of', async () => {
    const s = await startServer({ SENTINEL_STATE_SAVE_SECONDS: '0' });
    try {
      const t = minutesAgo(3);
      await post(`${s.url}/api/v1/events`, [event(t), event(t + 59_000), event(t + 60_000 + 54_000)]);
      await s.app.pipeline.shutdown();
      // [t, t+60 s) has ended; the input covered 54 s of [t+60 s, t+120 s): scored too.
      assert.equal(s.app.pipeline.scorer.states.get('service=chat|model=m1')?.windowsSeen, 2);
      assert.ok(!s.logs.some((l) => l.includes('the input ended early')));
    } finally {
      await s.close();
    }
  });
});

describe('open incidents across a crash', () => {
  test('an incident open when the state was lost (a crash, no alert sinks) is resolved as state_lost at the next start, not left open forever', async () => {
    const s1 = await startServer({ SENTINEL_WARMUP_WINDOWS: '15' });
    const start = minutesAgo(40);
    const events = [...steadyTraffic(start, 30), ...steadyTraffic(start + 30 * 60_000, 4, 30, { latencyMs: 20_000 }, 3)];
    for (let i = 0; i < events.length; i += 500) assert.ok((await post(`${s1.url}/api/v1/events`, events.slice(i, i + 500))).ok);
    s1.app.pipeline.endOfInput();
    await s1.app.pipeline.idle();
    const open = (await s1.app.store.listAnomalies({ limit: 10 })).items.filter((a) => a.status === 'open');
    assert.equal(open.length, 1, 'the latency incident is going on');
    // The crash: the series state of this run never reached the disk.
    s1.app.pipeline.persistTo(null);
    await s1.close({ keepData: true });
    const db = new Database(join(s1.dataDir, 'series-state.db'));
    db.exec('DELETE FROM series_state');
    db.close();
    await restarted(s1.dataDir, async (s2) => {
      const rec = await s2.app.store.getAnomaly(open[0].id);
      assert.deepEqual([rec?.status, rec?.resolution], ['resolved', 'state_lost']);
    });
  });
});

describe('GET endpoints', () => {
  test('series, scores with expected band, detect and metrics', async () => {
    const s = await startServer({ SENTINEL_WARMUP_WINDOWS: '15' });
    try {
      const start = minutesAgo(30);
      await post(`${s.url}/api/v1/events`, steadyTraffic(start, 25));
      s.app.pipeline.endOfInput();
      await s.app.pipeline.idle();
      const series = await (await fetch(`${s.url}/api/v1/series`)).json();
      assert.equal(series.items.length, 1);
      assert.deepEqual(series.items[0].labels, { service: 'chat', model: 'm1' });
      assert.equal(series.items[0].warm, true);
      // Event series have no re-alert hold-off: alerting sees the score itself.
      assert.equal(series.items[0].alertScore, series.items[0].lastScore);
      const key = encodeURIComponent(series.items[0].seriesKey);
      const scores = await (await fetch(`${s.url}/api/v1/scores?series=${key}&feature=latency_p95_ms`)).json();
      const pts = scores.items[0].points;
      assert.equal(pts.length, 25);
      const last = pts[pts.length - 1];
      assert.ok(last.lower <= last.expected && last.expected <= last.upper);
      assert.equal((await fetch(`${s.url}/api/v1/scores?series=${key}&feature=nope`)).status, 400);
      const normal = await (await post(`${s.url}/api/v1/detect`, { events: steadyTraffic(start + 26 * 60_000, 1) })).json();
      assert.equal(normal.is_anomaly, false);
      assert.match(normal.explanation.summary, /^Within the normal range on /, 'a normal window does not read as a finding');
      const bad = await (await post(`${s.url}/api/v1/detect`, { events: steadyTraffic(start + 26 * 60_000, 1, 30, { latencyMs: 20_000, status: 'error', errorType: 'timeout' }) })).json();
      assert.equal(bad.is_anomaly, true, JSON.stringify(bad));
      assert.ok(bad.explanation.summary.length > 0);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      for (const name of ['sentinel_anomaly_score', 'sentinel_detection_latency_seconds_bucket', 'sentinel_events_ingested_total', 'sentinel_expected_value_lower', 'sentinel_expected_value_upper', 'sentinel_expected_value']) {
        assert.match(metrics, new RegExp(`^${name}[{ ]`, 'm'), name);
      }
      assert.match(metrics, /^sentinel_anomaly_score\{service="chat",model="m1",signal="overall"\} /m);
    } finally {
      await s.close();
    }
  });

  test('with a series key finer than service and model, no band gauges (they would mix the series)', async () => {
    const s = await startServer({ SENTINEL_SERIES_KEY: 'service,model,user' });
    try {
      const start = minutesAgo(30);
      const traffic = [...steadyTraffic(start, 25).map((e) => ({ ...e, user: 'u-1' })), ...steadyTraffic(start, 25, 30, { latencyMs: 5000 }).map((e) => ({ ...e, user: 'u-2' }))];
      await post(`${s.url}/api/v1/events`, traffic.sort((a, b) => a.timestamp - b.timestamp));
      s.app.pipeline.endOfInput();
      await s.app.pipeline.idle();
      assert.equal((await (await fetch(`${s.url}/api/v1/series`)).json()).items.length, 2);
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      assert.doesNotMatch(metrics, /^sentinel_(expected_value|feature_value)\w*\{/m);
      assert.match(metrics, /^sentinel_anomaly_score\{service="chat",model="m1",signal="overall"\} /m);
    } finally {
      await s.close();
    }
  });
});

describe('SENTINEL_MAX_SERIES', () => {
  test('bounds event series and plain series together, and each refusal names its field', async () => {
    const { Pipeline } = await import('../../src/pipeline/pipeline');
    const { SqliteStore } = await import('../../src/store/sqlite-store');
    const store = new SqliteStore(':memory:');
    await store.init();
    const pipeline = new Pipeline({ config: loadConfig({ SENTINEL_MAX_SERIES: '3' }), store, log: createLogger('silent'), maxFutureMs: Infinity });
    const t = Date.UTC(2026, 0, 5);
    assert.equal(pipeline.ingestEvents([event(t, { service: 'a' }), event(t, { service: 'b' })]).accepted, 2);
    const points = pipeline.ingestPoints([
      { series: 'cpu', labels: {}, timestamp: t, value: 1 },
      { series: 'mem', labels: {}, timestamp: t, value: 1 },
    ]);
    assert.equal(points.accepted, 1, 'two event series and one plain series fill a limit of 3');
    assert.deepEqual(points.rejected, [{ index: 1, field: 'series', message: 'too many series (SENTINEL_MAX_SERIES)' }]);
    const events = pipeline.ingestEvents([event(t + 1000, { service: 'a' }), event(t + 1000, { service: 'c' })]);
    assert.equal(events.accepted, 1, 'a known series still reports');
    assert.deepEqual(events.rejected, [{ index: 1, field: 'service', message: 'too many series (SENTINEL_MAX_SERIES)' }]);
    await pipeline.shutdown();
    await store.close();
  });
});
