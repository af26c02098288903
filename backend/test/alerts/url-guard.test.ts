import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryError, TargetNotAllowedError } from '../../src/alerts/errors';
import { checkAnswer, postJson } from '../../src/alerts/http-post';
import { UrlGuard, isInternalAddress } from '../../src/alerts/url-guard';
import { Receiver } from './receiver';

describe('isInternalAddress', () => {
  test('private, loopback, link-local, CGNAT, multicast and mapped forms are internal; public ones are not', () => {
    const internal = ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '[::1]', 'not-an-ip'];
    const external = ['93.184.216.34', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8'];
    for (const a of internal) assert.equal(isInternalAddress(a), true, a);
    for (const a of external) assert.equal(isInternalAddress(a), false, a);
  });
});

describe('UrlGuard', () => {
  const rx = new Receiver();
  before(() => rx.start());
  after(() => rx.stop());

  test('refuses internal IP literals and non-http schemes; allow-listed hosts pass', () => {
    const guard = new UrlGuard(['127.0.0.1', '*.internal.example']);
    assert.doesNotThrow(() => guard.assertAllowed(new URL('http://127.0.0.1:9/x')));
    assert.doesNotThrow(() => guard.assertAllowed(new URL('https://hooks.internal.example/x')));
    assert.doesNotThrow(() => guard.assertAllowed(new URL('https://93.184.216.34/x')));
    assert.throws(() => guard.assertAllowed(new URL('http://10.0.0.5/x')), TargetNotAllowedError);
    assert.throws(() => guard.assertAllowed(new URL('http://169.254.169.254/latest/meta-data')), TargetNotAllowedError);
    assert.throws(() => guard.assertAllowed(new URL('http://[::1]:8080/')), TargetNotAllowedError);
    assert.throws(() => guard.assertAllowed(new URL('file:///etc/passwd')), TypeError);
    assert.ok(!guard.allows('internal.example'), 'a wildcard covers subdomains only');
  });

  test('a host name resolving to loopback is refused at connect time unless allow-listed; nothing reaches the receiver', async () => {
    const url = new URL(`http://localhost:${rx.port}/hook`);
    await assert.rejects(postJson(url, '{}', {}, { guard: new UrlGuard() }), (err: unknown) => err instanceof TargetNotAllowedError && !err.retryable);
    assert.equal(rx.received.length, 0);
    const ok = await postJson(url, '{"a":1}', {}, { guard: new UrlGuard(['localhost']) });
    assert.equal(ok.status, 200);
    assert.equal(rx.received.length, 1);
  });

  test('redirects are not followed (a 3xx is a permanent failure)', async () => {
    const other = await new Receiver().start();
    try {
      rx.answer = () => ({ status: 302, headers: { location: other.url('/internal') } });
      const guard = new UrlGuard(['127.0.0.1']);
      const a = await postJson(new URL(rx.url('/hook')), '{}', {}, { guard });
      assert.equal(a.status, 302);
      assert.throws(() => checkAnswer('test', a), (err: unknown) => err instanceof DeliveryError && !err.retryable);
      assert.equal(other.received.length, 0);
    } finally {
      rx.answer = () => ({ status: 200 });
      await other.stop();
    }
  });
});
