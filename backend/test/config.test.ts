import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseDuration } from '../src/config';
import { ConfigError } from '../src/errors';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-config-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults match the contract', () => {
  const c = loadConfig({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, './data');
  assert.equal(c.windowMs, 60_000);
  assert.deepEqual(c.seriesKey, ['service', 'model']);
  // Five windows of every series: one of each closes at once, so the bound follows SENTINEL_MAX_SERIES.
  assert.equal(c.maxScoringQueue, 50_000);
  assert.equal(loadConfig({ SENTINEL_MAX_SERIES: '100000' }).maxScoringQueue, 500_000);
  assert.equal(loadConfig({ SENTINEL_MAX_SCORING_QUEUE: '1000' }).maxScoringQueue, 1000);
  assert.ok(Object.isFrozen(c));
});

test('a bad value stops the start with the variable named', () => {
  const bad: Record<string, string> = {
    SENTINEL_PORT: '70000',
    SENTINEL_WINDOW: 'a while',
    SENTINEL_SERIES_KEY: 'service,colour',
    SENTINEL_QDRANT_URL: 'not a url',
    SENTINEL_SENSITIVITY: '1.5',
    SENTINEL_API_KEYS: 'short',
    SENTINEL_AMQP_URL: 'http://x',
  };
  for (const [name, value] of Object.entries(bad)) {
    assert.throws(() => loadConfig({ [name]: value }), (e: unknown) => e instanceof ConfigError && e.variable === name, name);
  }
  // Mistakes that used to pass: keys that are no key (auth silently off), a key both read-only and not, a
  // dimension twice.
  const mistakes: [string, string, RegExp][] = [
    ['SENTINEL_API_KEYS', ',', /no key in it/],
    ['SENTINEL_API_KEYS', ' , ', /no key in it/],
    ['SENTINEL_API_KEYS', 'writer-key-01,writer-key-01:ro', /key #1 is listed twice/],
    ['SENTINEL_SERIES_KEY', 'service,service', /listed twice/],
    ['SENTINEL_QDRANT_URL', 'localhost:6333', /http:\/\/ or https:\/\//],
    // An AMQP URL that only began right started, and its sink and consumer retried an unparsable URL
    // forever ('broker: (invalid AMQP URL)'), dead-lettering every alert (QA). Never echoed: it has a password.
    ['SENTINEL_AMQP_URL', 'amqp://guest:writer-key-01@rabbit:5672x', /not a valid URL/],
    ['SENTINEL_AMQP_URL', 'amqp://guest:writer-key-01@rabbit:99999', /not a valid URL/],
    ['SENTINEL_AMQP_URL', 'amqps://guest:writer-key-01@', /not a valid URL/],
  ];
  for (const [name, value, why] of mistakes) {
    assert.throws(
      () => loadConfig({ [name]: value }),
      (e: unknown) => e instanceof ConfigError && e.variable === name && why.test(e.message) && !e.message.includes('writer-key-01'),
      `${name}=${value}`,
    );
  }
  assert.deepEqual(loadConfig({ SENTINEL_API_KEYS: '' }).apiKeys, [], 'empty: no keys, as documented');
  assert.equal(loadConfig({ SENTINEL_AMQP_URL: 'amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=10' }).amqpUrl, 'amqp://guest:guest@127.0.0.1:5672/%2F?heartbeat=10');
});

test('a malformed tuning-only value warns and falls back', () => {
  const warnings: string[] = [];
  const c = loadConfig({ SENTINEL_LOG_LEVEL: 'loud' }, (m) => warnings.push(m));
  assert.equal(c.logLevel, 'info');
  assert.match(warnings[0], /SENTINEL_LOG_LEVEL/);
  assert.equal(loadConfig({ SENTINEL_LOG_LEVEL: 'DEBUG' }).logLevel, 'debug', 'levels in any case');
});

test('a series per user or API key warns what to expect of sparse series (false alerts of ordinary requests)', () => {
  const warnings: string[] = [];
  assert.deepEqual(loadConfig({ SENTINEL_SERIES_KEY: 'service,model,apiKeyId' }, (m) => warnings.push(m)).seriesKey, ['service', 'model', 'apiKeyId']);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /^SENTINEL_SERIES_KEY: a series per apiKeyId is sparse: expect about one false alert per 5 to 11 such series an hour/);
  loadConfig({ SENTINEL_SERIES_KEY: 'service,route' }, (m) => warnings.push(m));
  assert.equal(warnings.length, 1, 'other dimensions: no warning');
});

test('durations and read-only keys', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.equal(parseDuration('soon'), undefined);
  const c = loadConfig({ SENTINEL_API_KEYS: 'abcdefgh1,readonly12:ro' });
  assert.deepEqual(c.apiKeys, [{ key: 'abcdefgh1', readOnly: false }, { key: 'readonly12', readOnly: true }]);
});

test('SENTINEL_CONFIG names a YAML file of settings; the environment overrides it; mistakes stop the start', () => {
  withTempDir((dir) => {
    const file = join(dir, 'sentinel.yaml');
    writeFileSync(
      file,
      ['# both spellings of a name work', 'window: 30s', 'SENTINEL_PORT: 9090', 'series_key: [service, model, route]', 'api_keys:', '  - sk-full-0123456789', '  - sk-read-0123456789:ro', 'sensitivity: 0.5', ''].join('\n'),
    );
    const c = loadConfig({ SENTINEL_CONFIG: file, SENTINEL_SENSITIVITY: '0.4' });
    assert.equal(c.windowMs, 30_000);
    assert.equal(c.port, 9090);
    assert.deepEqual(c.seriesKey, ['service', 'model', 'route']);
    assert.deepEqual(c.apiKeys, [
      { key: 'sk-full-0123456789', readOnly: false },
      { key: 'sk-read-0123456789', readOnly: true },
    ]);
    assert.equal(c.sensitivity, 0.4, 'the environment wins');

    const bad = (text: string, variable: string) => {
      writeFileSync(file, text);
      assert.throws(() => loadConfig({ SENTINEL_CONFIG: file }), (e: unknown) => e instanceof ConfigError && e.variable === variable, text);
    };
    bad('windwo: 30s\n', 'SENTINEL_CONFIG');
    bad('window: a while\n', 'SENTINEL_WINDOW');
    bad('webhook_urls: {a: 1}\n', 'SENTINEL_WEBHOOK_URLS');
    bad('- window\n', 'SENTINEL_CONFIG');
    bad('window: [30s\n', 'SENTINEL_CONFIG');
    assert.throws(() => loadConfig({ SENTINEL_CONFIG: join(dir, 'missing.yaml') }), (e: unknown) => e instanceof ConfigError && /cannot read .*missing\.yaml: no such file$/.test(e.message));
  });
});

test('integers are decimal: blank, hex and exponent forms stop the start by name', () => {
  for (const bad of [' ', '0x4785', '1e3', '80.5']) {
    assert.throws(() => loadConfig({ SENTINEL_PORT: bad }), (e: unknown) => e instanceof ConfigError && e.variable === 'SENTINEL_PORT', `SENTINEL_PORT=${JSON.stringify(bad)}`);
  }
  assert.equal(loadConfig({ SENTINEL_PORT: ' 8081 ' }).port, 8081);
});

test('a YAML syntax error names the file and position, never the line (it may hold a secret)', () => {
  withTempDir((dir) => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'window: 30s\nwebhook_secret: hunter2-is-my: webhook-secret-value\n');
    assert.throws(
      () => loadConfig({ SENTINEL_CONFIG: file }),
      (e: unknown) => e instanceof ConfigError && e.variable === 'SENTINEL_CONFIG' && /line 2/.test(e.message) && !/hunter2|webhook-secret-value/.test(e.message),
    );
  });
});
