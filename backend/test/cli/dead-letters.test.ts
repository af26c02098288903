import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { buildAlertPayload } from '../../src/alerts/payload';
import { deadLettersCommand } from '../../src/dead-letters-cli';
import { Receiver } from '../alerts/receiver';
import { anomaly } from '../store/contract';
import { startServer, type TestServer } from '../helpers';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../../..');
const WRITER = 'cli-writer-key-01';
const READER = 'cli-reader-key-02';
const T0 = Date.UTC(2026, 10, 22, 10);

/** Runs the command in-process; returns exit code and output. */
async function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await deadLettersCommand(args, { env, out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) } });
  return { code, out, err };
}

describe('sentinel alerts dead-letters against a running service', () => {
  const rx = new Receiver();
  let srv: TestServer;
  let sink: string;
  const env = () => ({ SENTINEL_KEY_RW: WRITER, SENTINEL_API_KEY: READER });

  before(async () => {
    await rx.start();
    srv = await startServer({ SENTINEL_API_KEYS: `${WRITER},${READER}:ro`, SENTINEL_WEBHOOK_URLS: rx.url('/hooks/T0KENPATH'), SENTINEL_WEBHOOK_ALLOWLIST: '127.0.0.1' });
    sink = srv.app.alerting.dispatcher!.sinkNames[0];
    // What an earlier outage of the receiver left: two alerts on the configured sink, one on a removed one.
    for (const [id, s, n] of [['an_c1', sink, 1], ['an_c2', sink, 2], ['an_c3', 'pagerduty events.pagerduty.com', 3]] as const) {
      await srv.app.alerting.deadLetters.append({ at: new Date(T0 + n).toISOString(), sink: s, alertId: id, event: 'opened', attempts: 10, error: 'answered 503', payload: buildAlertPayload(anomaly(id, T0), 'opened', T0 + n) });
    }
  });
  after(async () => {
    await srv?.close();
    await rx.stop();
  });

  test('lists with the key from SENTINEL_API_KEY; filters by sink kind; refuses without a key', async () => {
    const r = await cli(['--url', srv.url], env());
    assert.equal(r.code, 0, r.err);
    const rows = r.out.trim().split('\n');
    assert.match(rows[0], /^3 dead letters, newest first:/);
    assert.equal(rows[1], 'ID\tAT\tSINK\tALERT\tEVENT\tATTEMPTS\tERROR');
    assert.match(rows[2], /^dl_[0-9a-f]{16}\t\S+\tpagerduty events\.pagerduty\.com \(not configured\)\tan_c3\topened\t10\tanswered 503$/);
    const webhooks = await cli(['--url', srv.url, '--sink', 'webhook', '--limit', '1'], env());
    assert.match(webhooks.out, /^2 dead letters, newest 1 shown/);
    assert.match(webhooks.out, /\tan_c2\t/);
    const json = await cli(['--url', srv.url, '--alert-id', 'an_c1', '--json'], env());
    assert.equal(JSON.parse(json.out).items[0].alertId, 'an_c1');

    const none = await cli(['--url', srv.url], {});
    assert.equal(none.code, 1);
    assert.match(none.err, /answered 401 unauthorized: .*SENTINEL_API_KEY/);
  });

  test('--resend with a read-only key is refused (403), with the write key it resends and reports what it kept', async () => {
    const ro = await cli(['--url', srv.url, '--resend'], env());
    assert.equal(ro.code, 1);
    assert.match(ro.err, /answered 403 forbidden/);

    const r = await cli(['--url', srv.url, '--resend', '--api-key-env', 'SENTINEL_KEY_RW'], env());
    assert.equal(r.code, 1, 'an entry was kept');
    assert.match(r.out, /\tresent\t.*\tan_c1\topened\n.*\tresent\t.*\tan_c2\topened\n.*\tsink_not_configured\tpagerduty events\.pagerduty\.com\tan_c3/);
    assert.match(r.out, /resent 2 .*kept 1/);
    await srv.app.alerting.dispatcher!.idle();
    assert.deepEqual(rx.delivered<{ alert_id: string }>().map((p) => p.alert_id), ['an_c1', 'an_c2']);
    const left = await cli(['--url', srv.url], env());
    assert.match(left.out, /^1 dead letter, newest first:/);

    const byId = left.out.split('\n')[2].split('\t')[0];
    const again = await cli(['--url', srv.url, '--resend', '--id', byId, '--id', 'dl_0000000000000000', '--api-key-env', 'SENTINEL_KEY_RW'], env());
    assert.equal(again.code, 1);
    assert.match(again.out, /sink_not_configured/);
    assert.match(again.out, /dl_0000000000000000\tnot_found/);
  });

  test('usage errors exit 2 and name the problem; an unreachable service exits 1', async () => {
    for (const [args, msg] of [
      [['--id', 'dl_x'], /add --resend/],
      [['--resend', '--id', 'dl_x', '--sink', 'webhook'], /cannot be combined/],
      [['--url', 'not a url'], /--url must be a URL/],
      [['--api-key-env', 'NO_SUCH_VAR'], /NO_SUCH_VAR: that variable is not set/],
      [['--frobnicate'], /Unknown option '--frobnicate'/],
      [['extra'], /unexpected argument "extra"/],
    ] as const) {
      const r = await cli([...args], {});
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, msg);
    }
    const down = await cli(['--url', 'http://127.0.0.1:9'], {});
    assert.equal(down.code, 1);
    assert.match(down.err, /cannot reach the service at http:\/\/127\.0\.0\.1:9/);
  });

  test('the `sentinel` command runs it (SENTINEL_PORT picks the service when --url is not given)', async () => {
    const bin = resolve(root, 'backend/bin/sentinel.js');
    const port = new URL(srv.url).port;
    const r = await run(process.execPath, [bin, 'alerts', 'dead-letters', '--json'], { cwd: root, env: { ...process.env, SENTINEL_PORT: port, SENTINEL_API_KEY: READER } });
    const body = JSON.parse(r.stdout) as { total: number };
    assert.equal(body.total, 1);
    const help = await run(process.execPath, [bin, '--help'], { cwd: root });
    assert.match(help.stdout, /alerts dead-letters \[--resend\]/);
  });
});

describe('sentinel alerts dead-letters: local checks (QA)', () => {
  /** Runs the command against a fetch that answers `status` with `body`; counts the requests. */
  async function against(args: string[], status: number, body: string): Promise<{ code: number; out: string; err: string; requests: number }> {
    let out = '';
    let err = '';
    let requests = 0;
    const fetchStub = (async () => {
      requests++;
      return new Response(body, { status, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const code = await deadLettersCommand(args, { env: {}, out: { write: (s: string) => (out += s) }, err: { write: (s: string) => (err += s) }, fetch: fetchStub });
    return { code, out, err, requests };
  }

  test('an answer without the listing / resend shape says so and exits 1 (no TypeError)', async () => {
    for (const [args, body] of [
      [[], '{}'],
      [[], '{"items": {}, "total": 1}'],
      [[], '{"items": [1], "total": 1, "unreadable": 0}'],
      [[], 'null'],
      [['--json'], '{}'],
      [['--resend'], '{}'],
      [['--resend'], '{"items": [], "resent": 0}'],
      [['--resend'], '[]'],
    ] as const) {
      const r = await against([...args], 200, body);
      assert.equal(r.code, 1, `${args.join(' ')} ${body}`);
      assert.match(r.err, /^sentinel: http:\/\/127\.0\.0\.1:8080 answered 200 with JSON that is not a dead-letter (listing|resend report) \(is --url the service\?\)\n$/);
      assert.equal(r.out, '');
    }
    // An error status whose body is JSON but not an object (null) is reported, not a TypeError either.
    const refused = await against([], 500, 'null');
    assert.equal(refused.code, 1);
    assert.match(refused.err, /answered 500 : null/);
    // An entry without an error text still lists.
    const listed = await against([], 200, '{"items": [{"id": "dl_1", "sink": "webhook x", "sinkConfigured": true}], "total": 1, "unreadable": 0}');
    assert.equal(listed.code, 0, listed.err);
    assert.match(listed.out, /^dl_1\t/m);
  });

  test('--limit and --event are checked before asking the service: usage error, exit 2', async () => {
    for (const [args, message] of [
      [['--limit', '0'], /--limit must be an integer from 1 to 1000, not "0"/],
      [['--limit', 'abc'], /--limit must be an integer from 1 to 1000, not "abc"/],
      [['--limit', '1001'], /not "1001"/],
      [['--limit', '2.5'], /not "2.5"/],
      [['--limit=-3'], /not "-3"/],
      [['--event', 'bogus'], /--event must be opened, escalated or resolved, not "bogus"/],
      [['--resend', '--event', 'open'], /--event must be/],
    ] as const) {
      const r = await against([...args], 200, '{"items": [], "total": 0, "unreadable": 0}');
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message);
      assert.equal(r.requests, 0, 'the service is not asked');
    }
    for (const args of [['--limit', '1'], ['--limit', '1000'], ['--event', 'resolved']]) {
      assert.equal((await against(args, 200, '{"items": [], "total": 0, "unreadable": 0}')).code, 0, args.join(' '));
    }
  });

  test('a stdout closed by its reader (| head -3) ends the command quietly, exit 0', async () => {
    const { createServer } = await import('node:http');
    const { spawn } = await import('node:child_process');
    const items = Array.from({ length: 5000 }, (_, i) => ({ id: `dl_${i}`, at: '2026-11-22T10:00:00.000Z', sink: 'webhook x', sinkConfigured: true, alertId: `an_${i}`, event: 'opened', attempts: 10, error: 'answered 503' }));
    const body = JSON.stringify({ items, total: items.length, unreadable: 0 });
    const server = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(body));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
      const child = spawn(process.execPath, [resolve(root, 'backend/bin/sentinel.js'), 'alerts', 'dead-letters', '--url', url], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr.on('data', (d) => (err += d));
      // Like head: read the first chunk, then close the pipe while ~400 kB are still to be written.
      child.stdout.once('data', () => child.stdout.destroy());
      const [code, signal] = (await new Promise((r) => child.once('close', (...a) => r(a)))) as [number | null, string | null];
      assert.equal(err, '');
      assert.deepEqual([code, signal], [0, null]);
    } finally {
      server.close();
    }
  });
});
