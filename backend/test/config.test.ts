import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig, parseDuration } from '../src/config';
import { ConfigError } from '../src/errors';

test('defaults match the contract', () => {
  const c = loadConfig({});
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.port, 8080);
  assert.equal(c.dataDir, './data');
  assert.equal(c.windowMs, 60_000);
  assert.deepEqual(c.seriesKey, ['service', 'model']);
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
});

test('a malformed tuning-only value warns and falls back', () => {
  const warnings: string[] = [];
  const c = loadConfig({ SENTINEL_LOG_LEVEL: 'loud' }, (m) => warnings.push(m));
  assert.equal(c.logLevel, 'info');
  assert.match(warnings[0], /SENTINEL_LOG_LEVEL/);
});

test('durations and read-only keys', () => {
  assert.equal(parseDuration('30s'), 30_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1500'), 1500);
  assert.equal(parseDuration('soon'), undefined);
  const c = loadConfig({ SENTINEL_API_KEYS: 'abcdefgh1,readonly12:ro' });
  assert.deepEqual(c.apiKeys, [{ key: 'abcdefgh1', readOnly: false }, { key: 'readonly12', readOnly: true }]);
});
