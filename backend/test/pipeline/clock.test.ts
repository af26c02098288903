import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SqliteStore } from '../../src/store/sqlite-store';
import type { LlmEvent } from '../../src/domain/types';
import { event, steadyTraffic } from '../helpers';
import { FEATURE_INDEX } from '../../src/windowing/features';
import { MAX_GAP_WINDOWS } from '../../src/windowing/windower';

const T0 = Date.UTC(2026, 0, 5);

/** Runs `fn` on a pipeline over an in-memory store on the wall clock `now`, then closes the store. */
async function withPipeline(
  now: () => number,
  fn: (pipeline: Pipeline, store: SqliteStore) => Promise<void> | void,
  maxFutureMs?: number,
  env: Record<string, string> = {},
): Promise<void> {
  const store = new SqliteStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig(env), store, log: createLogger('silent'), now, ...(maxFutureMs !== undefined ? { maxFutureMs } : {}) });
  try {
    await fn(pipeline, store);
  } finally {
    await pipeline.idle();
    await store.close();
  }
}

test('an event stamped minutes ahead of the wall clock does not make on-time events late', async () => {
  let clock = T0 + 5_000;
  await withPipeline(() => clock, async (pipeline) => {
    assert.equal(pipeline.ingestEvents([event(T0 + 1000, { service: 'a' })]).accepted, 1);
    // A client whose clock is 2 min ahead: accepted (within the 5 min allowed), in its own future window.
    assert.equal(pipeline.ingestEvents([event(clock + 120_000, { service: 'skewed' })]).accepted, 1);
    // On-time events of every series keep being accepted while the wall clock catches up...
    for (let s = 10; s <= 170; s += 10) {
      clock = T0 + s * 1000;
      const r = pipeline.ingestEvents([event(clock - 500, { service: 'a' }), event(clock - 500, { service: 'new' })]);
      assert.deepEqual(r.rejected, [], `at ${s} s`);
      pipeline.tick();
    }
    await pipeline.idle();
    // ...and windows close by the wall clock (minus the 10 s lateness), not by the skewed event's time.
    const a = pipeline.scorer.states.get('service=a|model=m1');
    assert.equal(a?.windowsSeen, 2, 'a: [T0, T0+1m) and [T0+1m, T0+2m) closed by T0+170 s');
    assert.equal(pipeline.windower.openWindowCount, 3, "a's and new's [T0+2m, T0+3m) and skewed's window are open");
    // Genuinely late events (their window closed by the clock) are still refused.
    assert.equal(pipeline.ingestEvents([event(T0 + 30_000, { service: 'a' })]).rejected.length, 1);
  });
});

test('replay has no wall clock: event time alone closes windows', async () => {
  await withPipeline(() => 0, async (pipeline) => {
    pipeline.ingestEvents([event(T0 + 1000), event(T0 + 61_000), event(T0 + 200_000)]);
    await pipeline.idle();
    // Watermark T0+190 s, with no clock to hold it back: [T0, T0+1m) and [T0+1m, T0+2m) close at once.
    assert.equal(pipeline.scorer.states.get('service=chat|model=m1')?.windowsSeen, 2);
  }, Infinity);
});

test('a point stamped beyond the allowed future is refused, and does not block its series', async () => {
  const clock = T0;
  await withPipeline(() => clock, async (pipeline) => {
    const far = pipeline.ingestPoints([{ series: 'cpu', labels: {}, timestamp: T0 + 365 * 86_400_000, value: 1 }]);
    assert.deepEqual(far.rejected, [{ index: 0, field: 'timestamp', message: 'more than 300 s in the future' }]);
    assert.equal(pipeline.ingestPoints([{ series: 'cpu', labels: {}, timestamp: T0 + 240_000, value: 1 }]).accepted, 1, 'within 5 min: accepted');
    assert.equal(pipeline.ingestPoints([{ series: 'other', labels: {}, timestamp: T0, value: 1 }]).accepted, 1);
  });
});

test('a batch sent newest-first is placed in time order: nothing in it is late because of its own order', async () => {
  const clock = T0 + 180_000;
  await withPipeline(() => clock, async (pipeline) => {
    // 120 events over the last 2 minutes, newest first (a backfill tool's order).
    const batch = Array.from({ length: 120 }, (_, i) => event(clock - 1000 - i * 1000));
    const r = pipeline.ingestEvents(batch);
    assert.deepEqual(r.rejected, []);
    assert.equal(r.accepted, 120);
  });
});

test('a service that goes silent is a drop in traffic, not a latency anomaly, and leaves its latency baseline alone', async () => {
  let clock = T0;
  await withPipeline(() => clock, async (pipeline, store) => {
    const traffic = steadyTraffic(T0, 60, 30, { user: 'u1' });
    const minute = async (m: number, events: typeof traffic) => {
      clock = T0 + (m + 1) * 60_000 + 15_000;
      pipeline.ingestEvents(events.filter((e) => Number(e.timestamp) >= T0 + m * 60_000 && Number(e.timestamp) < T0 + (m + 1) * 60_000));
      pipeline.tick();
      await pipeline.idle();
    };
    for (let m = 0; m < 40; m++) await minute(m, traffic);
    // Ten minutes without a single request, then the same traffic as before.
    for (let m = 40; m < 50; m++) await minute(m, []);
    for (let m = 50; m < 60; m++) await minute(m, traffic);
    const state = pipeline.scorer.states.get('service=chat|model=m1')!;
    assert.equal(state.windowsSeen, 59, 'the last minute is still open (lateness)');
    const latency = pipeline.scorer.baseline(state).center[FEATURE_INDEX.latency_p50_ms];
    assert.ok(latency > 800 && latency < 1000, `latency baseline ${latency} ms after the silence`);
    const records = (await store.listAnomalies({ limit: 10 })).items;
    assert.ok(records.length >= 1, 'the silence is an anomaly');
    for (const r of records) {
      assert.notEqual(r.type, 'latency_spike', JSON.stringify(r.explanation.summary));
      assert.ok(!r.attributions.some((a) => a.feature.startsWith('latency')), JSON.stringify(r.attributions));
    }
    const silent = records.find((r) => r.start === new Date(T0 + 40 * 60_000).toISOString());
    assert.equal(silent?.type, 'traffic_spike');
    assert.match(silent!.explanation.summary, /no requests in this window \(normally at least ~\d+, median [\d.]+\)/);
    // The outage is one critical incident for as long as it lasts, not one that fades after a few windows.
    assert.equal(silent!.severity, 'critical');
    assert.equal(silent!.windows, 10, JSON.stringify({ end: silent!.end, status: silent!.status }));
  });
});

test('a series back after an hour of silence is not a burst; the outage stays open through the silence and recovers when traffic is back', async () => {
  let clock = T0;
  await withPipeline(() => clock, async (pipeline, store) => {
    const traffic = steadyTraffic(T0, 150, 30, { apiKeyId: 'key-a' });
    for (let m = 0; m < 150; m++) {
      clock = T0 + (m + 1) * 60_000 + 15_000;
      // Traffic for 40 minutes, 70 minutes of silence (longer than the 60 empty windows a silence gets), traffic again.
      const on = m < 40 || m >= 110;
      pipeline.ingestEvents(on ? traffic.filter((e) => Number(e.timestamp) >= T0 + m * 60_000 && Number(e.timestamp) < T0 + (m + 1) * 60_000) : []);
      pipeline.tick();
      await pipeline.idle();
    }
    const records = (await store.listAnomalies({ limit: 20 })).items;
    const outage = records.find((r) => r.start === new Date(T0 + 40 * 60_000).toISOString());
    // Before, it resolved as stale after the 60 empty windows the silence is reported for, while traffic was
    // still zero: a page that resolves itself an hour into an outage (QA).
    assert.equal(outage?.status, 'resolved');
    assert.equal(outage?.resolution, 'recovered');
    // At most a low note on the first window back (its embedding holds the silence before it); before, a
    // baseline that had learnt the whole silence made the return a critical token_abuse for 30 windows.
    const afterReturn = records.filter((r) => Date.parse(r.start) >= T0 + 110 * 60_000);
    const said = afterReturn.map((r) => `${r.type} ${r.severity} x${r.windows}: ${r.explanation.summary}`);
    assert.ok(afterReturn.length <= 1 && afterReturn.every((r) => r.severity === 'low' && r.windows === 1), said.join('\n'));
  });
});

test('a batch that brings a series back after hours of silence reports the silence once', async () => {
  await withPipeline(() => 0, async (pipeline, store) => {
    // Replay in batches, with another service moving event time on: the first batch reports the silence
    // (60 empty windows, then idle); the batch that brings the series back holds more of its silence.
    const other = (from: number, to: number) => steadyTraffic(T0 + from * 60_000, to - from, 5, { service: 'other' }, from);
    const byTime = (events: LlmEvent[]) => events.sort((a, b) => Number(a.timestamp) - Number(b.timestamp));
    pipeline.ingestEvents(byTime([...steadyTraffic(T0, 40, 30, { apiKeyId: 'key-a' }), ...other(0, 150)]));
    await pipeline.idle();
    pipeline.ingestEvents(byTime([...other(150, 270), ...steadyTraffic(T0 + 240 * 60_000, 30, 30, { apiKeyId: 'key-a' }, 9)]));
    await pipeline.idle();
    const records = (await store.listAnomalies({ limit: 100 })).items;
    const silences = records.filter((r) => r.seriesKey.startsWith('service=chat') && r.start < new Date(T0 + 240 * 60_000).toISOString());
    assert.deepEqual(silences.map((r) => [r.start, r.windows, r.resolution]), [[new Date(T0 + 40 * 60_000).toISOString(), MAX_GAP_WINDOWS, 'recovered']]);
  }, Infinity);
});

/** An outage of key-a's traffic from minute 40, with another series moving event time on (see the tests below). */
async function keyStops(pipeline: Pipeline, store: SqliteStore, clock: { t: number }) {
  const other = (from: number, to: number) => steadyTraffic(T0 + from * 60_000, to - from, 2, { service: 'other' }, from);
  const byTime = (events: LlmEvent[]) => events.sort((a, b) => Number(a.timestamp) - Number(b.timestamp));
  return {
    /** Another service moves event time on; then the server's tick runs its sweep (5 s of wall clock later). */
    async until(from: number, to: number, first: LlmEvent[] = []) {
      pipeline.ingestEvents(byTime([...first, ...other(from, to)]));
      await pipeline.idle();
      clock.t += 10_000;
      pipeline.tick();
      await pipeline.idle();
    },
    outage: async () => (await store.listAnomalies({ limit: 100 })).items.find((r) => r.start === new Date(T0 + 40 * 60_000).toISOString() && r.seriesKey.includes('chat')),
  };
}

test('with series per API key, a key whose traffic stops is not held open as an outage for a day: it resolves as stale after its reported silence', async () => {
  const clock = { t: 0 };
  await withPipeline(
    () => clock.t,
    async (pipeline, store) => {
      const k = await keyStops(pipeline, store, clock);
      await k.until(0, 300, steadyTraffic(T0, 40, 30, { apiKeyId: 'key-a' }));
      const stopped = await k.outage();
      assert.equal(stopped?.type, 'traffic_spike', 'the stop is still reported');
      assert.equal(stopped?.status, 'resolved', 'a key that stops is usually a client that is done, not an outage to hold for a day');
      assert.equal(stopped?.resolution, 'stale');
    },
    Infinity,
    { SENTINEL_SERIES_KEY: 'service,apiKeyId' },
  );
});

test('an outage that lasts a day resolves as stale (a model or key retired); one that has lasted hours stays open', async () => {
  const clock = { t: 0 };
  await withPipeline(() => clock.t, async (pipeline, store) => {
    const k = await keyStops(pipeline, store, clock);
    await k.until(0, 300, steadyTraffic(T0, 40, 30, { apiKeyId: 'key-a' }));
    assert.equal((await k.outage())?.status, 'open', 'silent for 4 hours: still an outage');
    await k.until(300, 1500);
    const retired = await k.outage();
    assert.equal(retired?.status, 'resolved', 'silent for more than a day');
    assert.equal(retired?.resolution, 'stale');
  }, Infinity);
});

test('a plain series\' point stamped minutes ahead waits for the clock instead of refusing the on-time points after it (QA)', async () => {
  let clock = T0 + 600_000;
  await withPipeline(() => clock, async (pipeline) => {
    const p = (t: number, value = 1) => ({ series: 'cpu', labels: { host: 'a' }, timestamp: t, value });
    assert.equal(pipeline.ingestPoints([p(clock - 60_000)]).accepted, 1);
    assert.equal(pipeline.ingestPoints([p(clock + 240_000, 5)]).accepted, 1, 'within the 5 minutes allowed ahead');
    for (let i = 1; i <= 3; i++) {
      clock += 60_000;
      assert.deepEqual(pipeline.ingestPoints([p(clock - 1_000)]).rejected, [], `on-time point ${i}`);
      pipeline.tick();
      await pipeline.idle();
    }
    assert.equal(pipeline.scorer.states.get('series=cpu|host=a')?.windowsSeen, 4, 'the early point not scored yet');
    clock += 60_000;
    pipeline.tick();
    await pipeline.idle();
    const s = pipeline.scorer.states.get('series=cpu|host=a')!;
    assert.equal(s.windowsSeen, 5, 'scored once its time came, after the points before it');
    assert.equal(s.lastSeen, T0 + 600_000 + 240_000);
  });
});
