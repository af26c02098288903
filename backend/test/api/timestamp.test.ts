import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimestamp } from '../../src/ingest/schema';

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
