import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_KEYS, MIN_WINDOWS, judgeKey, learnKeys, newKeyUsage, type KeyUsage } from '../../src/detectors/key-usage';
import type { KeyUse } from '../../src/windowing/features';
import { decodeSeriesState, encodeSeriesState } from '../../src/pipeline/state-store';
import { SeriesState } from '../../src/pipeline/series-state';
import { EVENT_FEATURE_MIN_SCALE, EVENT_FEATURE_NAMES } from '../../src/windowing/features';

const MINIMUM = 20_000;
const use = (id: string, tokens: number, requests = Math.max(1, Math.round(tokens / 2000))): KeyUse => ({ id, kind: 'apiKeyId', tokens, requests });

/**
 * A series of `windows` windows: key-a uses ~50,000 tokens (~25 requests) a window (varying 0.5x-1.5x), 20 other
 * keys share ~1,500,000, the whole series' volume swinging 1x-3x from window to window as the trace's does.
 */
function learnt(windows: number): KeyUsage {
  const memory = newKeyUsage();
  for (let w = 0; w < windows; w++) {
    const volume = 1 + 2 * ((w * 7) % 5) / 4;
    const keys = [use('key-a', Math.round(50_000 * volume * (0.5 + ((w * 3) % 4) / 3)))];
    for (let k = 0; k < 20; k++) keys.push(use(`key-${k}`, Math.round(75_000 * volume)));
    learnKeys(memory, keys, keys.reduce((s, u) => s + u.tokens, 0), MINIMUM);
  }
  return memory;
}

/** key-a using `tokens` in a window whose other keys use `others`. */
const judge = (memory: KeyUsage, tokens: number, others = 1_500_000) => judgeKey(memory, use('key-a', tokens), tokens + others);

test('a key spending 5x its own usual is past its bound; its usual bursts are not', () => {
  const memory = learnt(60);
  const v = judge(memory, 250_000);
  assert.ok(v, 'key-a has a history');
  assert.ok(v.expected > 35_000 && v.expected < 65_000, `expected ~50,000 tokens, got ${v.expected}`);
  assert.ok(250_000 > v.bound, `5x (250,000) is past the bound ${v.bound}`);
  assert.ok(100_000 < v.bound, `2x (its ordinary bursts) is within the bound ${v.bound}`);
});

test("a key's usual scales with the series' volume: every key 3x together is nobody's abuse", () => {
  const memory = learnt(60);
  const v = judge(memory, 150_000, 4_500_000)!;
  assert.ok(150_000 < v.bound, `3x with the rest 3x too: expected ${v.expected}, bound ${v.bound}`);
});

test('a key without enough history is not judged: new, or seen in too few windows', () => {
  assert.equal(judge(learnt(MIN_WINDOWS - 2), 500_000), null, 'known for fewer than MIN_WINDOWS windows');
  const memory = learnt(60);
  assert.equal(judgeKey(memory, use('key-new', 500_000), 800_000), null, 'never seen');
  // A key with a request in 5 of 60 windows.
  const sparse = newKeyUsage();
  for (let w = 0; w < 60; w++) learnKeys(sparse, [use('key-b', 300_000), ...(w % 12 === 0 ? [use('key-s', 20_000)] : [])], 300_000 + (w % 12 === 0 ? 20_000 : 0), MINIMUM);
  assert.equal(judgeKey(sparse, use('key-s', 200_000), 500_000), null, 'active in 5 windows only');
});

test('windows without a request of the key count as zero use; a key abusing for a while learns only its bound', () => {
  const memory = learnt(60);
  const before = judge(memory, 300_000)!;
  for (let w = 0; w < 10; w++) learnKeys(memory, [use('key-a', 300_000), ...Array.from({ length: 20 }, (_, k) => use(`key-${k}`, 75_000))], 1_800_000, MINIMUM);
  const during = judge(memory, 300_000)!;
  assert.ok(300_000 > during.bound, `after 10 windows at 6x it is still past its bound (${during.bound}; before ${before.bound})`);
  assert.ok(during.expected < 3 * before.expected, 'the abuse did not teach itself');
  const idle = learnt(60);
  for (let w = 0; w < 30; w++) learnKeys(idle, Array.from({ length: 20 }, (_, k) => use(`key-${k}`, 75_000)), 1_500_000, MINIMUM);
  const after = judge(idle, 250_000)!;
  assert.ok(after.expected < 0.5 * before.expected, `30 windows without key-a: expected ${after.expected}, was ${before.expected}`);
});

test('the memory is bounded: the least used keys go, the established ones stay', () => {
  const memory = learnt(60);
  for (let w = 0; w < 20; w++) {
    const flood = Array.from({ length: 500 }, (_, k) => use(`new-${w}-${k}`, 100));
    learnKeys(memory, [use('key-a', 50_000), ...flood], 100_000, MINIMUM);
    assert.ok(memory.keys.size <= MAX_KEYS, `${memory.keys.size} keys remembered`);
  }
  assert.ok(memory.keys.has('key-a') && memory.keys.has('key-0'), 'established keys survive a flood of new keys with a request each');
});

test('the memory is saved with the series state; a state saved before it existed loads without one', () => {
  const state = new SeriesState('service=s|model=m', { service: 's', model: 'm' }, 'events', EVENT_FEATURE_NAMES, EVENT_FEATURE_MIN_SCALE, 256);
  state.detectorState.set('llm_rules.keys', learnt(60));
  const back = decodeSeriesState(encodeSeriesState(state))!;
  const memory = back.detectorState.get('llm_rules.keys') as KeyUsage;
  assert.deepEqual(judge(memory, 250_000), judge(learnt(60), 250_000));
  const old = new SeriesState('service=s|model=m', { service: 's', model: 'm' }, 'events', EVENT_FEATURE_NAMES, EVENT_FEATURE_MIN_SCALE, 256);
  assert.equal(decodeSeriesState(encodeSeriesState(old))!.detectorState.get('llm_rules.keys'), undefined);
});
