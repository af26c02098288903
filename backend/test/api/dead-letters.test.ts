import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AlertPayload } from '../../src/alerts/payload';
import type { DeadLetterListItem } from '../../src/alerts/dead-letter-routes';
import { EVENT_ID_HEADER, verifySignature } from '../../src/alerts/webhook-sink';
import { SeriesStateStore } from '../../src/pipeline/state-store';
import type { DispatcherMemory } from '../../src/alerts/dispatcher';
import { anomaly } from '../store/contract';
import { Receiver } from '../alerts/receiver';
import { post, startServer, type TestServer } from '../helpers';

const SECRET = 'whsec-dead-letters-0123456789';
/** A credential a failing receiver echoes back in its answer (which the dead letter quotes). */
const ECHOED = 'Bearer s3cr3t-t0ken-AbCdEf0123456789';
const T0 = Date.UTC(2026, 10, 22, 10);

type Item = DeadLetterListItem;

describe('dead letters over the API: list and resend to the sink they failed on', () => {
  const a = new Receiver();
  const b = new Receiver();
  let srv: TestServer;
  let sinkA: string;
  let sinkB: string;
  const list = async (query = '') => {
    const res = await fetch(`${srv.url}/api/v1/alerts/dead-letters${query}`);
    return { status: res.status, body: (await res.json()) as { items: Item[]; total: number; unreadable: number; error?: { field?: string } } };
  };
  const resend = async (body: unknown) => {
    const res = await post(`${srv.url}/api/v1/alerts/dead-letters/resend`, body);
    return { status: res.status, body: (await res.json()) as { items: { id: string; outcome: string; removed: boolean; sink?: string; alertId?: string }[]; resent: number; kept: number; remaining: number; error?: { field?: string } } };
  };

  before(async () => {
    await a.start();
    await b.start();
    srv = await startServer({
      SENTINEL_WEBHOOK_URLS: `${a.url('/hooks/T0KENPATH')},${b.url('/hooks/OTHERPATH')}`,
      SENTINEL_WEBHOOK_ALLOWLIST: '127.0.0.1',
      SENTINEL_WEBHOOK_SECRET: SECRET,
      SENTINEL_ALERT_MAX_ATTEMPTS: '2',
      SENTINEL_ALERT_RETRY_BASE: '5ms',
    });
    sinkA = `webhook 127.0.0.1:${a.port}`;
    sinkB = `webhook 127.0.0.1:${b.port}`;
    // Receiver A is down (and echoes the credential it was sent); B takes everything.
    a.answer = () => ({ status: 503, body: `upstream refused ${ECHOED}` });
    const d = srv.app.alerting.dispatcher!;
    d.listener('opened', anomaly('an_one', T0, { seriesKey: 'service=one' }), null);
    await d.idle();
    d.listener('opened', anomaly('an_two', T0, { seriesKey: 'service=two' }), null);
    await d.idle();
    // An alert for a sink that is no longer configured (dead-lettered by an earlier run with other settings).
    const [{ id: _id, ...one }] = (await srv.app.alerting.deadLetters.read()).entries;
    await srv.app.alerting.deadLetters.append({ ...one, sink: 'slack hooks.slack.com', at: new Date(Date.now() + 1).toISOString() });
  });
  after(async () => {
    await srv?.close();
    await a.stop();
    await b.stop();
  });

  test('lists newest first with stable ids; filters by sink (name or kind), alert id and event; limit', async () => {
    assert.equal(a.received.length, 4, 'two alerts, two attempts each');
    assert.equal(b.delivered().length, 2);
    const all = await list();
    assert.equal(all.status, 200);
    assert.equal(all.body.total, 3);
    assert.equal(all.body.unreadable, 0);
    assert.deepEqual(all.body.items.map((x) => [x.sink, x.alertId, x.sinkConfigured]), [
      ['slack hooks.slack.com', 'an_one', false],
      [sinkA, 'an_two', true],
      [sinkA, 'an_one', true],
    ]);
    const [, two] = all.body.items;
    assert.match(two.id, /^dl_[0-9a-f]{16}$/);
    assert.equal(two.attempts, 2);
    assert.equal(two.payload.alert_id, 'an_two');
    assert.deepEqual((await list()).body.items.map((x) => x.id), all.body.items.map((x) => x.id), 'ids are stable');

    assert.deepEqual((await list(`?sink=${encodeURIComponent(sinkA)}`)).body.items.map((x) => x.alertId), ['an_two', 'an_one']);
    assert.equal((await list('?sink=webhook')).body.total, 2);
    assert.equal((await list(`?sink=${encodeURIComponent(sinkB)}`)).body.total, 0);
    assert.deepEqual((await list('?alertId=an_one')).body.items.map((x) => x.sink), ['slack hooks.slack.com', sinkA]);
    assert.equal((await list('?event=resolved')).body.total, 0);
    const one = await list('?limit=1');
    assert.equal(one.body.items.length, 1);
    assert.equal(one.body.total, 3);
  });

  test('no secret in the listing, the file, the logs or the metrics', async () => {
    const text = JSON.stringify((await list()).body);
    const file = readFileSync(srv.app.alerting.deadLetters.path, 'utf8');
    const logs = srv.logs.join('');
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /upstream refused Bearer \[/, 'the error is shown, its credential redacted');
    for (const [where, s] of Object.entries({ text, file, logs, metrics })) {
      for (const secret of ['s3cr3t-t0ken', 'T0KENPATH', 'OTHERPATH', SECRET]) assert.ok(!s.includes(secret), `${secret} in the ${where}`);
    }
  });

  test('bad input is a 400 naming the field', async () => {
    const cases: [string, string][] = [
      ['?limit=0', 'limit'],
      ['?limit=abc', 'limit'],
      ['?event=closed', 'event'],
      ['?sink=', 'sink'],
      ['?bogus=1', 'bogus'],
    ];
    for (const [q, field] of cases) {
      const r = await list(q);
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error?.field, field, q);
    }
    const bodies: [unknown, string][] = [
      [{}, 'ids'],
      [{ ids: [] }, 'ids'],
      [{ ids: [7] }, 'ids.0'],
      [{ ids: ['dl_x'], sink: 'webhook' }, 'ids'],
      [{ all: false }, 'all'],
      [{ event: 'closed' }, 'event'],
      [{ sink: 'webhook', dryRun: true }, 'dryRun'],
    ];
    for (const [body, field] of bodies) {
      const r = await resend(body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error?.field, field, JSON.stringify(body));
    }
    const empty = await fetch(`${srv.url}/api/v1/alerts/dead-letters/resend`, { method: 'POST' });
    assert.equal(empty.status, 400);
    assert.equal(((await empty.json()) as { error: { field: string } }).error.field, 'ids');
    assert.equal((await list()).body.total, 3, 'nothing was resent');
  });

  test('resend by id: delivered to the same receiver once it accepts, signed, same event id; the entry is gone', async () => {
    a.answer = () => ({ status: 200 });
    const failedEventId = a.received.find((r) => JSON.parse(r.body).alert_id === 'an_two')!.headers[EVENT_ID_HEADER];
    const two = (await list('?alertId=an_two')).body.items[0];
    const before = a.received.length;
    const r = await resend({ ids: [two.id, 'dl_0000000000000000'] });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items.map((x) => [x.id, x.outcome, x.removed]), [
      [two.id, 'resent', true],
      ['dl_0000000000000000', 'not_found', false],
    ]);
    assert.equal(r.body.resent, 1);
    assert.equal(r.body.kept, 0);
    // Gone from the file as soon as the answer came (handed to the dispatcher), before the delivery ends.
    assert.deepEqual((await list()).body.items.map((x) => x.alertId), ['an_one', 'an_one']);
    await srv.app.alerting.dispatcher!.idle();
    const got = a.received.slice(before);
    assert.equal(got.length, 1);
    assert.equal(got[0].status, 200);
    assert.equal(JSON.parse(got[0].body).alert_id, 'an_two');
    assert.equal(got[0].headers[EVENT_ID_HEADER], failedEventId);
    assert.ok(verifySignature(SECRET, got[0].body, got[0].headers));
    assert.equal(b.delivered().length, 2, 'nothing went to the other sink');
    const metrics = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(metrics, /sentinel_alerts_sent_total\{sink="webhook",outcome="delivered"\} 3/);
    assert.match(metrics, /sentinel_alerts_resent_total\{outcome="resent"\} 1/);
    assert.match(metrics, /sentinel_alerts_resent_total\{outcome="not_found"\} 1/);
  });

  test('resend by filter: an entry whose sink is no longer configured is reported and kept', async () => {
    const before = a.received.length;
    const r = await resend({ alertId: 'an_one' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body.items.map((x) => [x.sink, x.outcome, x.removed]), [
      [sinkA, 'resent', true],
      ['slack hooks.slack.com', 'sink_not_configured', false],
    ]);
    assert.equal(r.body.kept, 1);
    await srv.app.alerting.dispatcher!.idle();
    assert.deepEqual(a.received.slice(before).map((x) => JSON.parse(x.body).alert_id), ['an_one']);
    const left = (await list()).body.items;
    assert.deepEqual(left.map((x) => [x.sink, x.alertId]), [['slack hooks.slack.com', 'an_one']]);
    // all: true takes what is left; the unknown sink still keeps its entry.
    const rest = await resend({ all: true });
    assert.deepEqual(rest.body.items.map((x) => x.outcome), ['sink_not_configured']);
    assert.equal((await list()).body.total, 1);
  });

  test('a resent alert is in the saved outbox (state saving on) while it waits for delivery', async () => {
    a.answer = () => ({ status: 503 });
    const d = srv.app.alerting.dispatcher!;
    d.listener('opened', anomaly('an_three', T0, { seriesKey: 'service=three' }), null);
    await d.idle();
    const entry = (await list('?alertId=an_three')).body.items[0];
    // The receiver stays down (asking for a 1 s pause): the resend waits to retry, and the alert must survive
    // a crash meanwhile.
    a.answer = () => ({ status: 503, headers: { 'retry-after': '1' } });
    const r = await resend({ ids: [entry.id] });
    assert.equal(r.body.items[0].outcome, 'resent');
    const onDisk = SeriesStateStore.inDataDir(srv.dataDir);
    try {
      const saved = onDisk.loadValue('alerting') as DispatcherMemory;
      assert.ok(saved.outbox?.some((o) => o.payload.alert_id === 'an_three' && o.sink === sinkA));
    } finally {
      onDisk.close();
    }
    a.answer = () => ({ status: 200 });
    await d.idle();
    assert.equal(a.delivered<AlertPayload>().at(-1)!.alert_id, 'an_three');
  });

  test('the opening of an incident that has resolved since is superseded (kept) unless its resolution goes with it, or force', async () => {
    a.answer = () => ({ status: 503 });
    const d = srv.app.alerting.dispatcher!;
    const opened = anomaly('an_four', T0, { seriesKey: 'service=four' });
    await srv.app.store.saveAnomaly(opened);
    d.listener('opened', opened, null);
    await d.idle();
    const entry = (await list('?alertId=an_four')).body.items[0];
    // The incident resolves meanwhile (and that alert was delivered, say, after the receiver was back).
    await srv.app.store.saveAnomaly({ ...opened, status: 'resolved', resolution: 'recovered' });
    a.answer = () => ({ status: 200 });
    const before = a.received.length;
    let r = await resend({ ids: [entry.id] });
    assert.deepEqual(r.body.items.map((x) => [x.outcome, x.removed]), [['superseded', false]], 'alone it would open a page nothing resolves');
    assert.equal(r.body.kept, 1);
    assert.equal((await list('?alertId=an_four')).body.total, 1);
    r = await resend({ ids: [entry.id], force: true });
    assert.deepEqual(r.body.items.map((x) => [x.outcome, x.removed]), [['resent', true]]);
    await d.idle();
    assert.deepEqual(a.received.slice(before).map((x) => JSON.parse(x.body).alert_id), ['an_four']);
  });
});

describe('dead letters need an API key when keys are configured', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer({ SENTINEL_API_KEYS: 'writer-key-0001,reader-key-0002:ro' });
  });
  after(() => srv.close());

  test('listing: 401 without a key; any key reads. Resend: 401 without, 403 read-only, 200 with a write key', async () => {
    const url = `${srv.url}/api/v1/alerts/dead-letters`;
    assert.equal((await fetch(url)).status, 401);
    assert.equal((await fetch(url, { headers: { authorization: 'Bearer wrong-key-0000' } })).status, 401);
    const read = await fetch(url, { headers: { 'x-api-key': 'reader-key-0002' } });
    assert.equal(read.status, 200);
    assert.deepEqual(await read.json(), { items: [], total: 0, unreadable: 0 });
    const body = { all: true };
    assert.equal((await post(`${url}/resend`, body)).status, 401);
    const ro = await post(`${url}/resend`, body, { authorization: 'Bearer reader-key-0002' });
    assert.equal(ro.status, 403);
    assert.equal(((await ro.json()) as { error: { code: string } }).error.code, 'forbidden');
    const rw = await post(`${url}/resend`, body, { authorization: 'Bearer writer-key-0001' });
    assert.equal(rw.status, 200);
    assert.deepEqual(await rw.json(), { items: [], resent: 0, kept: 0, remaining: 0 });
  });
});
