/**
 * Adapter for @bsull/augurs (Rust time-series methods compiled to WASM): the only file that imports it.
 * The WASM modules are instantiated synchronously from the package's own files, once, on first use.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as mstlModule from '@bsull/augurs/mstl';
import { SentinelError } from '../errors';

const require = createRequire(import.meta.url);
let ready = false;

function loadMstl(): typeof mstlModule {
  if (!ready) {
    const entry = require.resolve('@bsull/augurs/mstl');
    mstlModule.initSync({ module: readFileSync(entry.replace(/\.js$/, '_bg.wasm')) });
    ready = true;
  }
  return mstlModule;
}

/** A forecast with a prediction interval. */
export interface SeasonalForecast {
  point: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
}

/** Failure inside augurs (bad input, numerical trouble). */
export class SeasonalModelError extends SentinelError {
  constructor(message: string, cause: unknown) {
    super(message, { code: 'seasonal_model', status: 500, cause });
  }
}

/**
 * Fits MSTL (multiple seasonal-trend decomposition, ETS trend) with the given periods to `y` and forecasts
 * `horizon` steps ahead with a `level` prediction interval.
 */
export function mstlForecast(y: Float64Array, periods: number[], horizon: number, level = 0.95): SeasonalForecast {
  const m = loadMstl();
  const model = m.MSTL.ets(periods);
  try {
    model.fit(y);
    const f = model.predict(horizon, level);
    if (!f.intervals) throw new Error('augurs returned no prediction interval');
    return {
      point: Float64Array.from(f.point),
      lower: Float64Array.from(f.intervals.lower),
      upper: Float64Array.from(f.intervals.upper),
    };
  } catch (err) {
    throw new SeasonalModelError(`MSTL fit/predict failed: ${err instanceof Error ? err.message : String(err)}`, err);
  } finally {
    model.free();
  }
}
