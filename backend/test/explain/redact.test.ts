import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fingerprint, redactDeep, redactText } from '../../src/explain/redact';
import { createLogger } from '../../src/logger';

describe('redactText', () => {
  const cases: [string, string, string][] = [
    ['email', 'contact alice.smith+ops@corp.example.co.uk now', 'contact [email] now'],
    ['OpenAI key', 'used key sk-proj-AbCdEf0123456789XyZ_ab in prod', 'used key [secret] in prod'],
    ['live key as key id', 'apiKeyId=sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0', 'apiKeyId=[secret]'],
    ['GitHub token', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789', '[secret]'],
    ['Slack token', 'xoxb-1234567890-abcdefghij', '[secret]'],
    ['AWS key id', 'AKIAIOSFODNN7EXAMPLE', '[secret]'],
    ['JWT', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U', '[secret]'],
    ['bearer', 'Authorization: Bearer abc.def-ghi_jkl123', 'Authorization: Bearer [secret]'],
    ['key=value', 'password=hunter22 token: "t0k3n-value"', 'password=[secret] token: "[secret]"'],
    ['URL credentials', 'amqp://guest:s3cret@rabbit:5672/', 'amqp://[secret]@rabbit:5672/'],
    ['Slack webhook URL', 'post to https://hooks.slack.com/services/T000/B000/XXXXXXXX', 'post to [secret]'],
    ['IPv4', 'from 10.1.2.3 and 192.168.0.10:8080', 'from [ip] and [ip]:8080'],
    ['IPv6', 'from 2001:db8::ff00:42:8329 and fe80::1%eth0 and [::1]:80', 'from [ip] and [ip] and [[ip]]:80'],
    ['IPv4-mapped IPv6', 'peer ::ffff:10.0.0.1 said hi', 'peer [ip] said hi'],
    ['international phone', 'call +1 415-555-0132 or +44 20 7946 0958', 'call [phone] or [phone]'],
    ['grouped phone', 'call (415) 555-0132 today', 'call [phone] today'],
  ];
  for (const [what, input, want] of cases) {
    test(what, () => assert.equal(redactText(input), want));
  }

  test('leaves the evidence alone: timestamps, clock times, ids, numbers, series keys', () => {
    const keep = [
      '2026-11-22T10:01:00.000Z/2026-11-22T10:03:00.000Z',
      'window 10:01:00 to 10:03:00',
      'an_99de50253d3aec12fdf0',
      'service=chat|model=gpt-4o@1763804460000',
      'latency_p50_ms up to 6,256 (expected ~853, normal 773 to 933, z 270)',
      'cost rose +340% in 5m; 1763804460000 ms; score 3.14',
      'model gpt-4o-2024-08-06 version 1.2.3',
      'user#0123456789ab key#abcdef012345',
      'F1 N2 I3',
    ];
    for (const s of keep) assert.equal(redactText(s), s, s);
  });

  test('every generated email is redacted wherever it sits in the text', () => {
    fc.assert(
      // Without "=", "|", "{", "}" in the local part: redact.ts treats them as label separators.
      fc.property(fc.emailAddress().filter((e) => !/[=|{}]/.test(e.split('@')[0])), fc.string({ maxLength: 20 }), fc.string({ maxLength: 20 }), (email, a, b) => {
        const out = redactText(`${a} ${email} ${b}`);
        assert.ok(!out.includes(email), out);
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  test('every generated IPv4 and IPv6 address is redacted', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), (ip) => {
        const out = redactText(`peer ${ip} connected`);
        assert.ok(!out.includes(ip), `${ip} -> ${out}`);
      }),
      { seed: 11, numRuns: 500 },
    );
  });

  test('stays fast on long runs of characters the patterns accept (QA: quadratic, 5-20 s on 32k characters)', () => {
    // A guard against quadratic patterns, not a speed target: ~50 ms here after the fix, 5-20 s before it.
    for (const unit of ['b', 'a-', 'a.', '1.', 'a@']) {
      const text = 'x' + unit.repeat(32_000 / unit.length);
      const t = performance.now();
      redactText(text);
      const ms = performance.now() - t;
      assert.ok(ms < 1_500, `${JSON.stringify(unit)} x ${32_000 / unit.length}: ${ms.toFixed(0)} ms`);
    }
  });
});

describe('redactDeep', () => {
  test('redacts strings and keys at any depth, keeps numbers and structure', () => {
    const input = { a: ['x bob@corp.example', 1.5, null, true], b: { 'alice@example.com': { ip: '10.0.0.1', n: 42 } } };
    assert.deepEqual(redactDeep(input), { a: ['x [email]', 1.5, null, true], b: { '[email]': { ip: '[ip]', n: 42 } } });
    assert.equal(input.a[0], 'x bob@corp.example', 'the input is not modified');
  });
});

describe('fingerprint', () => {
  test('stable per value and salt, different across salts, never contains the value', () => {
    const a = fingerprint('user', 'alice@example.com', 'salt-1');
    assert.equal(a, fingerprint('user', 'alice@example.com', 'salt-1'));
    assert.notEqual(a, fingerprint('user', 'alice@example.com', 'salt-2'));
    assert.match(a, /^user#[0-9a-f]{12}$/);
  });
});

describe('the service logger', () => {
  test('redacts credentials an error quotes, in its own message and in its cause (QA: an LLM 400 quoting the bearer key)', () => {
    const out: string[] = [];
    const log = createLogger('info', { write: (s: string) => void out.push(s) });
    const upstream = new Error('400 Incorrect API key provided: Bearer sk-LEAKME-1234567890abcdef');
    log.warn({ err: new Error('the LLM endpoint refused the request (400)', { cause: upstream }), host: '10.0.0.7' }, 'explanation failed');
    const line = out.join('');
    assert.ok(line.includes('Incorrect API key provided'), 'the cause is still logged');
    assert.ok(!line.includes('sk-LEAKME'), line);
    assert.ok(line.includes('10.0.0.7'), 'addresses are left alone in logs (only credentials go)');
  });
});
