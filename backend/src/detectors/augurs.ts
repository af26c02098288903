/**
 * Adapter for @bsull/augurs (Rust time-series methods compiled to WASM): the only TypeScript file that
 * uses it. The fit itself is in mstl-fit.mjs (plain JavaScript, shared with the fit worker); the WASM module
 * is instantiated synchronously from the package's own files, once per thread, on first use.
 */
import { Worker } from 'node:worker_threads';
import { SentinelError } from '../errors';
import { fitForecast, type Forecast } from './mstl-fit.mjs';

/** A forecast with a prediction interval. */
export type SeasonalForecast = Forecast;

/** Failure inside augurs (bad input, numerical trouble). */
export class SeasonalModelError extends SentinelError {
  constructor(message: string, cause: unknown) {
    super(message, { code: 'seasonal_model', status: 500, cause });
  }
}

/**
 * Fits MSTL (multiple seasonal-trend decomposition, ETS trend) with the given periods to `y` and forecasts
 * `horizon` steps ahead with a `level` prediction interval, on the calling thread.
 */
export function mstlForecast(y: Float64Array, periods: number[], horizon: number, level = 0.95): SeasonalForecast {
  try {
    return fitForecast(y, periods, horizon, level);
  } catch (err) {
    throw new SeasonalModelError(`MSTL fit/predict failed: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

interface Request {
  resolve(f: SeasonalForecast[]): void;
  reject(err: Error): void;
}

/**
 * MSTL fits on a worker thread, so that they do not hold the event loop: one fit of a 2,048-point series
 * with hourly and daily seasons takes ~200 ms here, a synchronous WASM call that no yield can split, and
 * an event series fits three features at a time. Requests are answered in order by one worker (the other
 * core of a 2-core machine); the worker keeps the process alive only while a fit is in flight. Results are
 * bit-identical to {@link mstlForecast} (same WASM, same inputs). Falls back to the calling thread if the
 * worker cannot start.
 */
export class MstlPool {
  private worker: Worker | null = null;
  private failed = false;
  private nextId = 0;
  private readonly pending = new Map<number, Request>();

  /** Forecasts of each of `series` (same periods and horizon, 95 % interval). */
  forecast(series: Float64Array[], periods: number[], horizon: number): Promise<SeasonalForecast[]> {
    const worker = this.start();
    if (!worker) {
      try {
        return Promise.resolve(series.map((y) => mstlForecast(y, periods, horizon)));
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const id = this.nextId++;
    if (this.pending.size === 0) worker.ref();
    return new Promise<SeasonalForecast[]>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage(
        { id, series, periods, horizon },
        series.map((y) => y.buffer as ArrayBuffer),
      );
    });
  }

  /** Stops the worker; fits in flight are rejected. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
    this.rejectAll(new SeasonalModelError('MSTL worker closed', undefined));
  }

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    try {
      const w = new Worker(new URL('./mstl-worker.mjs', import.meta.url));
      w.unref();
      w.on('message', (msg: { id: number; forecasts?: SeasonalForecast[]; error?: string }) => {
        const req = this.pending.get(msg.id);
        if (!req) return;
        this.pending.delete(msg.id);
        if (this.pending.size === 0) w.unref();
        if (msg.forecasts) req.resolve(msg.forecasts);
        else req.reject(new SeasonalModelError(`MSTL fit/predict failed: ${msg.error}`, undefined));
      });
      const lost = (err: unknown) => {
        // A crashed worker: what was in flight fails (the series has no seasonal opinion for a while), the
        // next fit starts a new worker.
        if (this.worker !== w) return;
        this.worker = null;
        this.rejectAll(new SeasonalModelError('MSTL worker stopped', err));
      };
      w.on('error', lost);
      w.on('exit', (code) => lost(new Error(`exit code ${code}`)));
      this.worker = w;
    } catch {
      this.failed = true;
    }
    return this.worker;
  }

  private rejectAll(err: Error): void {
    for (const req of this.pending.values()) req.reject(err);
    this.pending.clear();
  }
}
