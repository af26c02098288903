import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeadLetterStore, deadLetterId, type DeadLetter } from '../../src/alerts/dead-letter';
import { buildAlertPayload } from '../../src/alerts/payload';
import { anomaly } from '../store/contract';

const T0 = Date.UTC(2026, 10, 22, 10);

/** A dead letter of alert `alertId` on `sink`, given up on `n` ms after T0. */
function letter(alertId: string, sink = 'webhook hooks.example:443', n = 0): DeadLetter {
  return {
    at: new Date(T0 + n).toISOString(),
    sink,
    alertId,
    event: 'opened',
    attempts: 3,
    error: 'webhook hooks.example:443 answered 503',
    payload: buildAlertPayload(anomaly(alertId, T0), 'opened', T0 + n),
  };
}

describe('dead-letter store', () => {
  let dir: string;
  let store: DeadLetterStore;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sentinel-dl-'));
    store = new DeadLetterStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('ids come from the line: the same across reads and removals of others; identical lines get distinct ids', async () => {
    await store.append(letter('an_a', undefined, 1));
    await store.append(letter('an_b', undefined, 2));
    await store.append(letter('an_b', undefined, 2)); // byte-identical to the one before
    const first = (await store.read()).entries;
    assert.equal(first.length, 3);
    assert.match(first[0].id, /^dl_[0-9a-f]{16}$/);
    assert.equal(first[2].id, `${first[1].id}-2`);
    assert.equal(new Set(first.map((e) => e.id)).size, 3);
    const line0 = readFileSync(store.path, 'utf8').split('\n')[0];
    assert.equal(first[0].id, deadLetterId(line0));

    const { result } = await store.remove(() => ({ drop: [first[0].id], result: 'ok' }));
    assert.equal(result, 'ok');
    const after = (await store.read()).entries;
    assert.deepEqual(after.map((e) => e.id), [first[1].id, first[2].id], 'the others keep their ids');
    assert.deepEqual(await store.readAll(), [letter('an_b', undefined, 2), letter('an_b', undefined, 2)]);
  });

  test('lines that are not dead letters are counted, never listed, and kept by a rewrite', async () => {
    await store.append(letter('an_a'));
    appendFileSync(store.path, '{"torn": tr\n{"sink":"webhook x","alertId":"an_q"}\n');
    await store.append(letter('an_b', undefined, 5));
    const { entries, unreadable } = await store.read();
    assert.deepEqual(entries.map((e) => e.alertId), ['an_a', 'an_b']);
    assert.equal(unreadable, 2);
    await store.remove(({ entries: es }) => ({ drop: [es[0].id], result: null }));
    const lines = readFileSync(store.path, 'utf8').split('\n').filter(Boolean);
    assert.deepEqual(lines.slice(0, 2), ['{"torn": tr', '{"sink":"webhook x","alertId":"an_q"}']);
    assert.equal(JSON.parse(lines[2]).alertId, 'an_b');
    assert.deepEqual(readdirSync(dir), ['alerts-dead-letter.jsonl'], 'no temp file left behind');
  });

  test('appends issued while a removal runs land after its rewrite: none is lost', async () => {
    await store.append(letter('an_a'));
    await store.append(letter('an_b', undefined, 1));
    const later: Promise<void>[] = [];
    const removal = store.remove(({ entries }) => {
      // The dispatcher dead-letters again while a resend holds the file: now, and while the new file is written.
      later.push(store.append(letter('an_inside', undefined, 7)));
      setImmediate(() => later.push(store.append(letter('an_during_write', undefined, 9))));
      return { drop: entries.map((e) => e.id), result: entries.length };
    });
    // Issued after the removal was asked for, before it ran.
    later.push(store.append(letter('an_beside', undefined, 8)));
    const { result } = await removal;
    await new Promise((r) => setImmediate(r));
    await Promise.all(later);
    assert.equal(result, 2);
    assert.deepEqual((await store.readAll()).map((d) => d.alertId).sort(), ['an_beside', 'an_during_write', 'an_inside']);
  });

  test('many appends and removals interleaved: every appended line is either removed on purpose or still there', async () => {
    const ops: Promise<unknown>[] = [];
    const removed: string[] = [];
    for (let i = 0; i < 60; i++) {
      ops.push(store.append(letter(`an_${i}`, undefined, i)));
      if (i % 10 === 9) {
        ops.push(
          store.remove(({ entries }) => {
            const odd = entries.filter((e) => Number(e.alertId.slice(3)) % 2 === 1);
            removed.push(...odd.map((e) => e.alertId));
            return { drop: odd.map((e) => e.id), result: null };
          }),
        );
      }
    }
    await Promise.all(ops);
    const left = (await store.readAll()).map((d) => d.alertId);
    assert.equal(left.length + removed.length, 60);
    assert.deepEqual(left, Array.from({ length: 30 }, (_, k) => `an_${2 * k}`));
  });

  test('a failed rewrite leaves the file as it was and says why, after pick has run', async () => {
    await store.append(letter('an_a'));
    // A directory where the temp file should go makes open() fail.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(`${store.path}.${process.pid}.tmp`);
    const before = readFileSync(store.path, 'utf8');
    const { result, writeError } = await store.remove(({ entries }) => ({ drop: [entries[0].id], result: 'picked' }));
    assert.equal(result, 'picked');
    assert.ok(writeError instanceof Error);
    assert.equal(readFileSync(store.path, 'utf8'), before);
    // The store still works afterwards.
    await store.append(letter('an_b', undefined, 1));
    assert.equal((await store.readAll()).length, 2);
  });

  test('the store keeps the newest maxEntries: past a tenth over, the oldest go, unreadable lines first', async () => {
    const trims: number[] = [];
    const small = new DeadLetterStore(dir, { maxEntries: 10, onTrim: (n) => trims.push(n) });
    await small.append(letter('an_0'));
    appendFileSync(small.path, 'torn line\n');
    // An instance that has not read the file yet counts what is there before its first append.
    const fresh = new DeadLetterStore(dir, { maxEntries: 10, onTrim: (n) => trims.push(n) });
    for (let i = 1; i <= 9; i++) await fresh.append(letter(`an_${i}`, undefined, i));
    assert.deepEqual(trims, [], '11 lines: within a tenth over the limit');
    await fresh.append(letter('an_10', undefined, 10));
    assert.deepEqual(trims, [2], '12 lines: trimmed to 10');
    const { entries, unreadable } = await fresh.read();
    assert.equal(unreadable, 0, 'the unreadable line went first');
    assert.deepEqual(
      entries.map((e) => e.alertId),
      Array.from({ length: 10 }, (_, i) => `an_${i + 1}`),
    );
    // It keeps counting from the rewrite: every second append past 10 takes it to 12 again.
    for (let i = 11; i <= 20; i++) await fresh.append(letter(`an_${i}`, undefined, i));
    assert.deepEqual(trims, [2, 2, 2, 2, 2, 2]);
    assert.equal((await fresh.read()).entries[0].alertId, 'an_11');
    assert.equal(readFileSync(fresh.path, 'utf8').trim().split('\n').length, 10);
  });

  test('an empty or missing file reads as nothing', async () => {
    assert.deepEqual(await store.read(), { entries: [], unreadable: 0 });
    const { result } = await store.remove(({ entries }) => ({ drop: entries.map((e) => e.id), result: entries.length }));
    assert.equal(result, 0);
  });
});
