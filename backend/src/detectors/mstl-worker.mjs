// Fit worker of MstlPool (augurs.ts): fits off the event loop. A request is
// { id, series: Float64Array[], periods, horizon }; the answer { id, forecasts } or { id, error }.
import { parentPort } from 'node:worker_threads';
import { fitForecast } from './mstl-fit.mjs';

parentPort.on('message', ({ id, series, periods, horizon }) => {
  try {
    const forecasts = series.map((y) => fitForecast(y, periods, horizon));
    const transfer = forecasts.flatMap((f) => [f.point.buffer, f.lower.buffer, f.upper.buffer]);
    parentPort.postMessage({ id, forecasts }, transfer);
  } catch (err) {
    parentPort.postMessage({ id, error: err instanceof Error ? err.message : String(err) });
  }
});
