import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SeriesState } from '../../src/pipeline/series-state';

test('score timeline: the last `capacity` entries in order, whatever was pushed, with their bands', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 200 }), (capacity, pushed) => {
      const s = new SeriesState('k', {}, 'points', ['value'], Float64Array.of(1), 8, capacity);
      for (let i = 0; i < pushed; i++) s.pushTimeline({ t: i, score: i / 10, anomalous: i % 3 === 0, bands: Float32Array.of(i, i + 1, i + 2, i + 3) });
      const got = s.timelineBetween(-Infinity, Infinity);
      const first = Math.max(0, pushed - capacity);
      assert.deepEqual(
        got.map((p) => [p.t, p.score, p.anomalous, Array.from(p.bands)]),
        Array.from({ length: pushed - first }, (_, j) => {
          const i = first + j;
          return [i, i / 10, i % 3 === 0, [i, i + 1, i + 2, i + 3]];
        }),
      );
      // A time range selects by t.
      assert.deepEqual(
        s.timelineBetween(first + 1, first + 2).map((p) => p.t),
        [first + 1, first + 2].filter((t) => t < pushed),
      );
    }),
  );
});
