import { connect } from 'node:net';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { StoreUnavailableError } from '../../src/errors';
import { anomaly } from '../store/contract';
import { event, post, startServer, type TestServer } from '../helpers';

describe('read APIs and the scrape', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  test('anomaly records never carry the stored embedding, in the list as by id', async () => {
    await s.app.pipeline.store.saveAnomaly({ ...anomaly('an_vec1', Date.UTC(2026, 10, 22, 10)), vector: [0.5, 0.25, 0.125] });
    const list = await (await fetch(`${s.url}/api/v1/anomalies`)).json();
    assert.equal(list.items.length, 1);
    assert.equal(list.items[0].id, 'an_vec1');
    assert.equal('vector' in list.items[0], false);
    const one = await (await fetch(`${s.url}/api/v1/anomalies/an_vec1`)).json();
    assert.equal('vector' in one, false);
    // Feedback still finds it in the store: the vector becomes a pattern.
    const fb = await (await post(`${s.url}/api/v1/feedback`, { anomalyId: 'an_vec1', verdict: 'false_positive' })).json();
    assert.equal(fb.patternsAdded, 1);
  });

  test('/metrics answers while the store is down; the false-positive rate keeps its last value', async () => {
    const rate = async (r: Response) => Number((await r.text()).match(/^sentinel_false_positive_rate (\S+)/m)![1]);
    const ok = await fetch(`${s.url}/metrics`);
    assert.equal(ok.status, 200);
    const before = await rate(ok);
    assert.equal(before, 1, 'one false positive of one verdict (previous test)');
    const store = s.app.pipeline.store;
    const real = store.feedbackCounts.bind(store);
    store.feedbackCounts = async () => {
      throw new StoreUnavailableError('store unreachable (test)');
    };
    try {
      for (let i = 0; i < 3; i++) {
        const r = await fetch(`${s.url}/metrics`);
        assert.equal(r.status, 200, 'Prometheus must not see the service as down');
        assert.equal(await rate(r), before);
      }
      assert.equal(s.logs.filter((l) => l.includes('feedback counts unreadable')).length, 1, 'one warning per outage');
    } finally {
      store.feedbackCounts = real;
    }
    assert.equal((await fetch(`${s.url}/metrics`)).status, 200);
  });

  test('POST /detect: a bad body is a 400 naming the field of the form it has (events or one point)', async () => {
    const field = async (body: unknown) => {
      const r = await post(`${s.url}/api/v1/detect`, body);
      assert.equal(r.status, 400, JSON.stringify(body));
      return (await r.json()).error.field as string;
    };
    assert.equal(await field({ events: [{ service: 'a' }] }), 'events.0.timestamp');
    assert.equal(await field({ events: [] }), 'events');
    assert.equal(await field({ events: [event(Date.now())], seriesKey: 'x' }), 'seriesKey');
    assert.equal(await field({ series: 'cpu', timestamp: Date.now() }), 'value');
    assert.equal(await field({ foo: 1 }), 'series');
    const now = Date.now();
    assert.equal(await field({ events: [event(now - 3 * 3_600_000), event(now - 3_600_000), event(now)] }), 'events.1.timestamp', 'more than one window of events');
    const ok = await post(`${s.url}/api/v1/detect`, { series: 'cpu', timestamp: Date.now(), value: 3 });
    assert.equal(ok.status, 200);
  });

  test('a series with the largest label set the API accepts can be read back by its key (QA: 431 before)', async () => {
    // 16 labels, 128-character names, 256-character values with characters the key escapes ('|', '=', '\\')
    // and the URL encodes: an accepted series whose key did not fit Node's 16 KB header limit once URL-encoded.
    const labels = Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`l${String(i).padStart(2, '0')}_`.padEnd(128, 'n'), 'v|=\\é'.repeat(52).slice(0, 256)]));
    const r = await post(`${s.url}/api/v1/series`, { series: 'S'.repeat(200), labels, timestamp: Date.now() - 1000, value: 1 });
    assert.equal(r.status, 202, await r.text());
    let key: string | undefined;
    for (let i = 0; i < 100 && !key; i++) {
      const list = await (await fetch(`${s.url}/api/v1/series`)).json();
      key = list.items.find((x: { labels: Record<string, string> }) => x.labels.series === 'S'.repeat(200))?.seriesKey;
      if (!key) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(key, 'listed once scored');
    for (const path of ['scores', 'anomalies']) {
      const q = await fetch(`${s.url}/api/v1/${path}?series=${encodeURIComponent(key)}`);
      assert.equal(q.status, 200, `${path}: ${(await q.clone().text()).slice(0, 200)}`);
    }
    const scores = await (await fetch(`${s.url}/api/v1/scores?series=${encodeURIComponent(key)}`)).json();
    assert.equal(scores.items[0].seriesKey, key);
  });

  test('headers past the 64 KB limit are a 431 in the API error shape, naming them (QA: Fastify\'s own shape)', async () => {
    const r = await fetch(`${s.url}/api/v1/series?x=${'a'.repeat(70 * 1024)}`);
    assert.equal(r.status, 431);
    assert.deepEqual(await r.json(), { error: { code: 'headers_too_large', message: 'the request line and headers exceed 64 KB', field: '(headers)' } });
    // A request that is not HTTP at all: a 400 in the same shape.
    const raw = await new Promise<string>((resolve, reject) => {
      const u = new URL(s.url);
      const socket = connect(Number(u.port), u.hostname, () => socket.write('NOT HTTP\r\n\r\n'));
      let text = '';
      socket.on('data', (b) => (text += b.toString()));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(raw, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.deepEqual(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)), { error: { code: 'bad_request', message: 'the request is not valid HTTP', field: '(request)' } });
    // The server goes on serving.
    assert.equal((await fetch(`${s.url}/api/v1/health`)).status, 200);
  });
});
