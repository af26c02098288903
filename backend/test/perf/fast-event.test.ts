/**
 * The event fast path (ingest/fast-event.ts) must give exactly the schema's result whenever it answers:
 * compared with eventSchema on generated input (valid and invalid values of every field, missing and
 * unknown keys), and on the real trace's events, which it must all take.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { DEMO_INCIDENTS, demoTraffic } from '../../src/demo/traffic';
import { fastParseEvent } from '../../src/ingest/fast-event';
import { validateBatch } from '../../src/ingest/parse';
import { eventSchema } from '../../src/ingest/schema';

const label = fc.oneof(fc.string({ minLength: 0, maxLength: 300 }), fc.constantFrom('', 'a', 'x'.repeat(256), 'x'.repeat(257)), fc.integer(), fc.constant(null));
const num = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 1_000_000 }),
  fc.constantFrom(0, -0, -1, 0.5, 2 ** 53, 2 ** 53 + 2, Infinity, -Infinity, NaN),
  fc.constant('12'),
  fc.constant(null),
);
const timestamp = fc.oneof(
  fc.integer({ min: 0, max: 2e14 }),
  fc.constantFrom(1e11, 1e11 - 1, 1e14, 1e14 + 1, 1.7e12 + 0.5, NaN, Infinity),
  fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom('1700000000000', '17000000000000000', '2024-01-01', 'not a date', '2024-01-01T00:00:00+02:00', ' 1700000000000', ''),
  fc.boolean(),
);
const event = fc.record(
  {
    timestamp,
    service: label,
    model: label,
    provider: label,
    user: label,
    apiKeyId: label,
    route: label,
    inputTokens: num,
    outputTokens: num,
    latencyMs: num,
    ttftMs: num,
    status: fc.constantFrom('ok', 'error', 'OK', 1),
    errorType: fc.oneof(fc.string({ maxLength: 140 }), fc.constant(5)),
    costUsd: num,
    cacheHit: fc.oneof(fc.boolean(), fc.constant('true')),
    securityEvents: fc.oneof(fc.array(fc.string({ maxLength: 70 }), { maxLength: 34 }), fc.constant('jailbreak'), fc.array(fc.integer(), { maxLength: 2 })),
    typo: fc.constant(1),
    undef: fc.constant(undefined),
  },
  { requiredKeys: [] },
);

/** Mostly well-formed events (so the fast path is exercised), sometimes anything. */
const wellFormed = fc.record(
  {
    timestamp: fc.oneof(fc.integer({ min: 1e11, max: 1e14 }), fc.date({ min: new Date(1e11), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString())),
    service: fc.string({ minLength: 1, maxLength: 20 }),
    model: fc.string({ minLength: 1, maxLength: 20 }),
    user: fc.string({ minLength: 1, maxLength: 20 }),
    inputTokens: fc.nat(),
    outputTokens: fc.nat(),
    latencyMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    ttftMs: fc.double({ min: 0, max: 1e6, noNaN: true }),
    status: fc.constantFrom('ok', 'error'),
    costUsd: fc.double({ min: 0, max: 10, noNaN: true }),
    cacheHit: fc.boolean(),
    securityEvents: fc.array(fc.string({ minLength: 1, maxLength: 64 }), { maxLength: 3 }),
  },
  { requiredKeys: ['timestamp', 'service', 'model'] },
);

function sameAsSchema(input: unknown): boolean {
  const fast = fastParseEvent(input);
  if (fast === undefined) return false;
  const r = eventSchema.safeParse(input);
  assert.ok(r.success, `fast path accepted what the schema rejects: ${JSON.stringify(input)} (${r.success ? '' : r.error.issues[0].message})`);
  assert.deepStrictEqual(fast, r.data);
  assert.deepEqual(Object.keys(fast), Object.keys(r.data), 'same key order');
  return true;
}

describe('event fast path', () => {
  it('gives the schema result whenever it answers (generated input, valid and invalid)', () => {
    let answered = 0;
    fc.assert(
      fc.property(fc.oneof(event, wellFormed, fc.anything()), (x) => {
        if (sameAsSchema(x)) answered++;
      }),
      { numRuns: 20_000, seed: 9 },
    );
    assert.ok(answered > 2000, `the fast path took ${answered} inputs`);
  });

  it('takes every event of the real trace, with the same result as the schema', () => {
    const events = demoTraffic(Date.UTC(2024, 0, 1), DEMO_INCIDENTS, 42).slice(0, 5000);
    for (const e of events) {
      const wire = JSON.parse(JSON.stringify({ ...e, timestamp: new Date(e.timestamp).toISOString() })) as unknown;
      assert.ok(sameAsSchema(wire), `fast path declined ${JSON.stringify(wire)}`);
    }
  });

  it('validateBatch gives the same records and rejections as the schema alone', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(event, wellFormed), { maxLength: 40 }), (items) => {
        const got = validateBatch(eventSchema, items, 1000);
        const records: unknown[] = [];
        const indexes: number[] = [];
        const rejected: { index: number }[] = [];
        items.forEach((x, i) => {
          const r = eventSchema.safeParse(x);
          if (r.success) (records.push(r.data), indexes.push(i));
          else rejected.push({ index: i });
        });
        assert.deepStrictEqual(got.records, records);
        assert.deepEqual(got.indexes, indexes);
        assert.deepEqual(got.rejected.map((r) => r.index), rejected.map((r) => r.index));
      }),
      { numRuns: 500, seed: 3 },
    );
  });
});
