// The MSTL fit itself, in plain JavaScript so that the fit worker (mstl-worker.mjs) can load it without a
// TypeScript loader; augurs.ts (the adapter) uses the same code on the main thread. Types: mstl-fit.d.mts.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as mstlModule from '@bsull/augurs/mstl';

const require = createRequire(import.meta.url);
let ready = false;

function loadMstl() {
  if (!ready) {
    const entry = require.resolve('@bsull/augurs/mstl');
    mstlModule.initSync({ module: readFileSync(entry.replace(/\.js$/, '_bg.wasm')) });
    ready = true;
  }
  return mstlModule;
}

export function fitForecast(y, periods, horizon, level = 0.95) {
  const model = loadMstl().MSTL.ets(periods);
  try {
    model.fit(y);
    const f = model.predict(horizon, level);
    if (!f.intervals) throw new Error('augurs returned no prediction interval');
    return { point: Float64Array.from(f.point), lower: Float64Array.from(f.intervals.lower), upper: Float64Array.from(f.intervals.upper) };
  } finally {
    model.free();
  }
}
