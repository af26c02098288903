import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimestamp, timestampSchema } from '../../src/ingest/schema';

test('timestamps: ISO 8601 (UTC without an offset, whatever the server zone) or epoch ms; nothing Date.parse would guess at (QA)', () => {
  const t = Date.UTC(2026, 10, 23, 3, 58, 5);
  assert.equal(parseTimestamp('2026-11-23T03:58:05Z'), t);
  assert.equal(parseTimestamp('2026-11-23T03:58:05'), t, 'no offset: UTC');
  assert.equal(parseTimestamp('2026-11-23 03:58:05'), t);
  assert.equal(parseTimestamp('2026-11-23T03:58:05.250Z'), t + 250);
  assert.equal(parseTimestamp('2026-11-23T03:58:05.123456789Z'), t + 123);
  assert.equal(parseTimestamp('2026-11-23T05:58:05+02:00'), t);
  assert.equal(parseTimestamp('2026-11-22T22:58:05-0500'), t);
  assert.equal(parseTimestamp('2026-11-23T17:58:05+14:00'), t, 'Kiribati');
  assert.equal(parseTimestamp('2026-11-23T03:58Z'), t - 5_000);
  assert.equal(parseTimestamp(String(t)), t);
  assert.equal(parseTimestamp('2026-11-23'), Date.UTC(2026, 10, 23), 'a date: its UTC midnight');
  for (const bad of ['11/23/2026 03:58', 'Mon, 23 Nov 2026 03:58:05 GMT', 'user-42 Nov 23 2026 03:58', '-1', '2026-02-30T00:00:00Z', '2026-11-23T24:00:00Z', '2026-11-23T', 'now', '', '2026-11-23T03:58:05+99:00', '2026-11-23T03:58:05+25:99', '2026-11-23T03:58:05-05:60']) {
    assert.ok(Number.isNaN(parseTimestamp(bad)), bad);
  }
});

test('a time outside the range the API takes says so, not that it is not epoch milliseconds (QA: GET /scores?from=0)', () => {
  const message = (v: unknown) => {
    const r = timestampSchema.safeParse(v);
    assert.ok(!r.success, String(v));
    return r.error.issues[0].message;
  };
  for (const v of [0, '0', 1_700_000_000, '1960-01-01T00:00:00Z', 1e15]) {
    assert.match(message(v), /1973-03-03.*5138/, String(v));
  }
  assert.match(message(1_700_000_000), /epoch seconds/, 'a value in epoch seconds is named as such');
  assert.equal(message('yesterday'), 'must be an ISO 8601 time or epoch milliseconds');
  assert.equal(timestampSchema.parse(1e11), 1e11);
});
