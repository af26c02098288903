import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterStore } from '../../src/alerts/dead-letter';
import { AlertDispatcher } from '../../src/alerts/dispatcher';
import { PagerDutySink, pagerDutyEvent } from '../../src/alerts/pagerduty-sink';
import { buildAlertPayload } from '../../src/alerts/payload';
import { SlackSink, slackMessage } from '../../src/alerts/slack-sink';
import { UrlGuard } from '../../src/alerts/url-guard';
import { createLogger } from '../../src/logger';
import { anomaly } from '../store/contract';
import { Receiver } from './receiver';

const log = createLogger('silent');
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

describe('Slack and PagerDuty sinks against loopback receivers', () => {
  const slack = new Receiver();
  const pd = new Receiver();
  let dir: string;
  before(async () => {
    await slack.start();
    await pd.start();
    dir = mkdtempSync(join(tmpdir(), 'sentinel-sinks-'));
  });
  after(async () => {
    await slack.stop();
    await pd.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('open, escalate, resolve: Slack messages, and PagerDuty trigger/trigger/resolve with the anomaly id as dedup key', async () => {
    pd.answer = (n) => (n === 0 ? { status: 429, headers: { 'retry-after': '0' } } : { status: 202, body: '{"status":"success"}' });
    const guard = new UrlGuard(['127.0.0.1']);
    const d = new AlertDispatcher({
      sinks: [new SlackSink({ url: slack.url('/services/T000/B000/XXXX'), guard }), new PagerDutySink({ routingKey: 'R0UTINGKEY0123456789', url: pd.url('/v2/enqueue'), guard })],
      deadLetters: new DeadLetterStore(dir),
      log,
      retry: { maxAttempts: 3, baseDelayMs: 5, maxDelayMs: 20 },
    });
    const base = anomaly('an_pd1', Date.UTC(2026, 10, 22, 10), { severity: 'medium', labels: { service: 'chat', model: 'gpt-4o' } });
    d.listener('opened', base, null);
    d.listener('updated', { ...base, windows: 2 }, null);
    d.listener('updated', { ...base, severity: 'critical', windows: 3 }, null);
    d.listener('resolved', { ...base, severity: 'critical', status: 'resolved' }, null);
    await d.idle();

    const msgs = slack.delivered<{ text: string; blocks: { type: string }[] }>();
    assert.equal(msgs.length, 3);
    assert.match(msgs[0].text, /^:large_yellow_circle: medium latency_spike on chat: /);
    assert.match(msgs[1].text, /^:red_circle: Escalated to critical latency_spike on chat/);
    assert.match(msgs[2].text, /^:white_check_mark: Resolved: latency_spike on chat/);
    assert.deepEqual(msgs[0].blocks.map((b) => b.type), ['header', 'section', 'section', 'section', 'context']);

    const events = pd.delivered<{ routing_key: string; event_action: string; dedup_key: string; payload?: { severity: string; source: string; class: string; summary: string } }>();
    assert.equal(pd.received.length, 4, 'the 429 was retried');
    assert.deepEqual(events.map((e) => [e.event_action, e.dedup_key]), [['trigger', 'an_pd1'], ['trigger', 'an_pd1'], ['resolve', 'an_pd1']]);
    assert.ok(events.every((e) => e.routing_key === 'R0UTINGKEY0123456789'));
    assert.deepEqual([events[0].payload!.severity, events[1].payload!.severity], ['warning', 'critical']);
    assert.equal(events[0].payload!.source, 'chat');
    assert.equal(events[0].payload!.class, 'latency_spike');
    assert.equal(events[2].payload, undefined, 'a resolve carries only the dedup key');
    assert.deepEqual(await new DeadLetterStore(dir).readAll(), []);
  });

  test("a receiver that echoes the request does not put the sink's own secrets in the dead letter (QA: the PagerDuty routing key)", async () => {
    const routingKey = 'R0UTINGKEYR0UTINGKEYR0UTINGKEY32';
    const secretDir = mkdtempSync(join(tmpdir(), 'sentinel-sinks-echo-'));
    // What such receivers answer: the request quoted back (the receiver's answer is computed before it records
    // the request, so the quote is written out here).
    pd.answer = () => ({ status: 400, body: `invalid event: {"routing_key":"${routingKey}","event_action":"trigger"}` });
    slack.answer = () => ({ status: 400, body: 'no such hook /services/T0SECRET/B0SECRET/XXXXSECRETTOKEN' });
    const guard = new UrlGuard(['127.0.0.1']);
    const d = new AlertDispatcher({
      sinks: [new SlackSink({ url: slack.url('/services/T0SECRET/B0SECRET/XXXXSECRETTOKEN'), guard }), new PagerDutySink({ routingKey, url: pd.url('/v2/enqueue'), guard })],
      deadLetters: new DeadLetterStore(secretDir),
      log,
      retry: { maxAttempts: 1, baseDelayMs: 5, maxDelayMs: 20 },
    });
    try {
      d.listener('opened', anomaly('an_echo', Date.UTC(2026, 10, 22, 10), { severity: 'high' }), null);
      await d.idle();
      const letters = await new DeadLetterStore(secretDir).readAll();
      assert.equal(letters.length, 2);
      for (const l of letters) {
        assert.match(l.error, /answered 400: .*\[secret\]/, l.error);
        assert.ok(!l.error.includes(routingKey) && !l.error.includes('XXXXSECRETTOKEN'), l.error);
      }
    } finally {
      await d.close();
      pd.answer = () => ({ status: 200 });
      slack.answer = () => ({ status: 200 });
      rmSync(secretDir, { recursive: true, force: true });
    }
  });

  test('a resolve says why: a series that stopped reporting, or an incident a restart lost, is not called recovered', () => {
    const base = anomaly('an_st1', Date.UTC(2026, 10, 22, 10), { labels: { service: 'chat' } });
    const at = Date.UTC(2026, 10, 22, 11);
    const stale = buildAlertPayload({ ...base, status: 'resolved', resolution: 'stale' }, 'resolved', at);
    assert.equal(stale.resolution, 'stale');
    assert.match(slackMessage({ event: 'resolved', payload: stale, record: base }).text, /^:grey_question: Resolved \(stopped reporting\): latency_spike on chat/);
    // A restart without the incident's saved state closed it: not a recovery, the problem may still be going on (QA).
    const lost = buildAlertPayload({ ...base, status: 'resolved', resolution: 'state_lost' }, 'resolved', at);
    const lostMsg = slackMessage({ event: 'resolved', payload: lost, record: base });
    assert.match(lostMsg.text, /^:warning: Closed after a restart \(may still be going on\): latency_spike on chat/);
    assert.doesNotMatch(JSON.stringify(lostMsg), /white_check_mark|Resolved/);
    const blocks = lostMsg.blocks as { type: string; text?: { text: string } }[];
    assert.match(blocks[1].text!.text, /restarted without this incident's saved state.*may still be going on/);
    const recovered = slackMessage({ event: 'resolved', payload: buildAlertPayload({ ...base, status: 'resolved', resolution: 'recovered' }, 'resolved', at), record: base });
    assert.match(recovered.text, /^:white_check_mark: Resolved: latency_spike on chat/);
    assert.doesNotMatch(JSON.stringify(recovered), /restarted/);
    // PagerDuty's resolve has no text to say it in: the same resolve as a recovery.
    assert.deepEqual(pagerDutyEvent('K', { event: 'resolved', payload: lost, record: base }), { routing_key: 'K', event_action: 'resolve', dedup_key: 'an_st1' });
    // A record resolved before resolutions were recorded reads as recovered; an open one has none.
    assert.equal(buildAlertPayload({ ...base, status: 'resolved' }, 'resolved', at).resolution, 'recovered');
    assert.equal(buildAlertPayload(base, 'opened', at).resolution, null);
  });

  test('the notification text is escaped like the blocks: a service name cannot ping a channel (QA)', () => {
    const base = anomaly('an_esc', Date.UTC(2026, 10, 22, 10), { labels: { service: '<!channel> <https://evil.example|click>' } });
    const text = slackMessage({ event: 'opened', payload: buildAlertPayload(base, 'opened', Date.UTC(2026, 10, 22, 10, 1)), record: base }).text;
    assert.ok(!text.includes('<!channel>') && !text.includes('<https://'), text);
    assert.ok(text.includes('&lt;!channel&gt;'), text);
  });

  test('long texts are cut without breaking an entity or a surrogate pair, within Slack and PagerDuty limits (QA)', () => {
    const at = Date.UTC(2026, 10, 22, 10, 1);
    const base = anomaly('an_cut', Date.UTC(2026, 10, 22, 10), { labels: { service: 'chat' } });
    const withSummary = (summary: string, recommendations: string[] = []) => {
      const payload = buildAlertPayload(base, 'opened', at);
      return { ...payload, summary, recommendations };
    };
    /** Every `&` of `text` starts a whole entity; no lone surrogate. */
    const wellFormed = (text: string) => {
      assert.doesNotMatch(text, /&(?!amp;|lt;|gt;)/, `broken entity at the end of ...${text.slice(-12)}`);
      assert.ok(!LONE_SURROGATE.test(text), `lone surrogate at the end of ...${JSON.stringify(text.slice(-4))}`);
    };
    for (const offset of [0, 1, 2, 3, 4]) {
      // Escaped, 5 characters per "&": some cut falls inside "&amp;" for each offset.
      const summary = 'x'.repeat(offset) + '&'.repeat(1000);
      const m = slackMessage({ event: 'opened', payload: withSummary(summary, ['a & b'.repeat(1000)]), record: base });
      const section = (m.blocks[1] as { text: { text: string } }).text.text;
      const recs = (m.blocks[3] as { text: { text: string } }).text.text;
      for (const [text, max] of [[m.text, 3000], [section, 2900], [recs, 2900]] as const) {
        assert.ok(text.length <= max && text.length > max - 5, `${text.length} of ${max}`);
        wellFormed(text);
      }
    }
    for (const offset of [0, 1]) {
      const summary = 'x'.repeat(offset) + '😀'.repeat(2000);
      const m = slackMessage({ event: 'opened', payload: withSummary(summary), record: base });
      wellFormed(m.text);
      wellFormed((m.blocks[1] as { text: { text: string } }).text.text);
      const header = slackMessage({ event: 'opened', payload: { ...withSummary('s'), affected_services: ['x'.repeat(offset) + '😀'.repeat(100)] }, record: base });
      const headText = (header.blocks[0] as { text: { text: string } }).text.text;
      assert.ok(headText.length <= 150 && !LONE_SURROGATE.test(headText), JSON.stringify(headText.slice(-4)));

      const pd = pagerDutyEvent('R0UTINGKEY0123456789', { event: 'opened', payload: withSummary(summary), record: base }) as { payload: { summary: string } };
      assert.ok(pd.payload.summary.length <= 1024 && pd.payload.summary.length >= 1023);
      assert.ok(!LONE_SURROGATE.test(pd.payload.summary), JSON.stringify(pd.payload.summary.slice(-4)));
    }
    // Short texts are unchanged.
    assert.equal(slackMessage({ event: 'opened', payload: withSummary('a < b & c'), record: base }).text.endsWith(': a &lt; b &amp; c'), true);
  });
});
