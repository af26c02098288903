import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MstlPool, SeasonalModelError, mstlForecast } from '../../src/detectors/augurs';

/** Two days of an hourly series with a daily cycle and a little seeded noise. */
function daily(n = 96): Float64Array {
  let s = 3;
  const r = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  return Float64Array.from({ length: n }, (_, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 24) + 5 * r());
}

test('fits on the worker are bit-identical to fits on the calling thread, in request order', async () => {
  const pool = new MstlPool();
  try {
    const a = daily();
    const b = daily().map((x) => x * 2);
    const expected = [a, b].map((y) => mstlForecast(y, [24], 12));
    // The pool takes ownership of the arrays it is given (they are transferred to the worker).
    const got = await pool.forecast([Float64Array.from(a), Float64Array.from(b)], [24], 12);
    assert.equal(got.length, 2);
    for (let k = 0; k < 2; k++) {
      assert.deepEqual([...got[k].point], [...expected[k].point]);
      assert.deepEqual([...got[k].lower], [...expected[k].lower]);
      assert.deepEqual([...got[k].upper], [...expected[k].upper]);
    }
    // Requests are answered in order, whatever their number.
    const many = await Promise.all([0, 1, 2, 3].map((k) => pool.forecast([daily().map((x) => x + k)], [24], 4)));
    assert.deepEqual(
      many.map((f) => f[0].point[0]),
      [0, 1, 2, 3].map((k) => mstlForecast(daily().map((x) => x + k), [24], 4).point[0]),
    );
  } finally {
    await pool.close();
  }
});

test('a fit augurs refuses rejects with SeasonalModelError; a closed pool rejects what was in flight', async () => {
  const pool = new MstlPool();
  try {
    // Fewer points than two periods: augurs cannot decompose it.
    await assert.rejects(pool.forecast([Float64Array.from([1, 2, 3])], [24], 4), SeasonalModelError);
    assert.throws(() => mstlForecast(Float64Array.from([1, 2, 3]), [24], 4), SeasonalModelError);
    const inFlight = pool.forecast([daily(2000)], [24, 168], 4);
    await pool.close();
    await assert.rejects(inFlight, SeasonalModelError);
  } finally {
    await pool.close();
  }
});
