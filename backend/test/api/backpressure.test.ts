import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createApp } from '../../src/app';
import { loadConfig } from '../../src/config';
import type { Neighbour, PatternKind } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { SqliteStore } from '../../src/store/sqlite-store';
import { event, minutesAgo, post } from '../helpers';

/** The embedded store, with searches held until `release()`: scoring stalls on its first window or point. */
class StalledStore extends SqliteStore {
  private open!: () => void;
  private readonly gate = new Promise<void>((r) => (this.open = r));
  release(): void {
    this.open();
  }
  override async searchPatterns(seriesKey: string, vector: Float32Array, k: number, kind?: PatternKind): Promise<Neighbour[]> {
    await this.gate;
    return super.searchPatterns(seriesKey, vector, k, kind);
  }
}

const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1]);

test('past SENTINEL_MAX_SCORING_QUEUE waiting windows and points, every ingest route answers 503 with Retry-After; nothing accepted is dropped, and ingest resumes once scoring catches up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-backlog-'));
  const store = new StalledStore(':memory:');
  await store.init();
  const app = await createApp(loadConfig({ SENTINEL_DATA_DIR: dir, SENTINEL_MAX_SCORING_QUEUE: '20' }), createLogger('silent'), { store });
  const url = await app.http.listen({ host: '127.0.0.1', port: 0 });
  try {
    const t = minutesAgo(10);
    const points = Array.from({ length: 50 }, (_, i) => ({ series: 'cpu', labels: {}, timestamp: t + i * 1000, value: i % 5 }));
    // Taken whole: the queue was empty when it came (the bound is checked before a request, not within it).
    const first = await post(`${url}/api/v1/series`, points);
    assert.equal(first.status, 202, await first.clone().text());

    const scrape = await (await fetch(`${url}/metrics`)).text();
    assert.equal(metric(scrape, 'sentinel_scoring_queue_depth'), 50);
    assert.ok(metric(scrape, 'sentinel_scoring_queue_oldest_seconds') >= 0);

    for (const [path, body] of [
      ['/api/v1/events', event(t)],
      ['/api/v1/series', { series: 'cpu', labels: {}, timestamp: t + 60_000, value: 1 }],
      // Scored after the queue: it would wait as long as scoring is behind.
      ['/api/v1/detect', { series: 'cpu', labels: {}, timestamp: t + 60_000, value: 1 }],
    ] as const) {
      const r = await post(`${url}${path}`, body);
      assert.equal(r.status, 503, path);
      assert.equal(r.headers.get('retry-after'), '5', path);
      const error = ((await r.json()) as { error: { code: string; message: string } }).error;
      assert.equal(error.code, 'scoring_backlog', path);
      assert.match(error.message, /50 windows and points wait to be scored \(SENTINEL_MAX_SCORING_QUEUE is 20\)/);
    }
    const otlp = await post(`${url}/v1/metrics`, { resourceMetrics: [] });
    assert.equal(otlp.status, 503);
    assert.equal(otlp.headers.get('retry-after'), '5');
    assert.equal(((await otlp.json()) as { code: number }).code, 14, 'google.rpc.Status UNAVAILABLE, as OTLP exporters retry');

    const health = await fetch(`${url}/api/v1/health`);
    assert.equal(health.status, 503);
    const h = (await health.json()) as { status: string; reason: string; scoringQueue: { ok: boolean; queued: number; limit: number } };
    assert.equal(h.status, 'degraded');
    assert.match(h.reason, /scoring is behind: 50 windows and points wait/);
    assert.deepEqual([h.scoringQueue.ok, h.scoringQueue.queued, h.scoringQueue.limit], [false, 50, 20]);

    store.release();
    await app.pipeline.idle();
    const after = await (await fetch(`${url}/metrics`)).text();
    assert.equal(metric(after, 'sentinel_windows_scored_total\\{kind="points"\\}'), 50, 'every point accepted before was scored');
    assert.equal(metric(after, 'sentinel_scoring_queue_depth'), 0);
    assert.equal(metric(after, 'sentinel_scoring_queue_oldest_seconds'), 0);
    assert.equal((await post(`${url}/api/v1/series`, { series: 'cpu', labels: {}, timestamp: t + 60_000, value: 1 })).status, 202);
    assert.equal((await fetch(`${url}/api/v1/health`)).status, 200);
  } finally {
    store.release();
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
