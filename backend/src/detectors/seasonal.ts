import { mstlForecast, type SeasonalForecast } from './augurs';
import type { Detector, DetectionInput, DetectorOutput } from './types';

/** Seasons looked for, in ms: hourly and daily cycles are what LLM traffic and most metrics show. */
const SEASONS_MS = [3_600_000, 86_400_000];
/** Whole periods of history needed before a season is modelled. */
const MIN_PERIODS = 2;
/** History used for a fit, in periods of the longest season (bounds the cost of a fit). */
const FIT_PERIODS = 4;
/** Most history rows a fit reads. */
const MAX_FIT = 2048;
/** Features modelled: volume-like ones that carry seasonality (all of them for plain series). */
const EVENT_FEATURES = [0, 1, 2];

interface SeasonalState {
  /** Spacing of observations in ms (window length, or median point spacing). */
  stepMs: number;
  periods: number[];
  /** Forecast for the next `horizon` observations, per modelled feature. */
  forecast: { point: Float64Array; lower: Float64Array; upper: Float64Array }[] | null;
  /** Index into the forecast of the current observation. */
  cursor: number;
  failures: number;
  times: number[];
}

/** Refits on the worker that a series' next detect waits for (kept out of the state, which is saved as data). */
const fitting = new WeakMap<SeasonalState, Promise<void>>();

/**
 * Seasonal baseline: MSTL (augurs) fitted on the series history with hourly/daily periods where the history
 * covers at least two of them, refitted every quarter of the longest period, forecasting until the next
 * refit with a 95% interval. With DetectionInput.fits the fit runs on a worker and the series' next
 * window waits for it, so scores are the same as on one thread. Raw score: the largest |x - forecast| in
 * units of the interval's implied standard deviation.
 */
export const seasonalDetector: Detector = {
  name: 'seasonal',
  floor: 4,
  appliesTo: () => true,
  detect(input: DetectionInput): DetectorOutput | null | Promise<DetectorOutput | null> {
    const s = input.state.state<SeasonalState | null>('seasonal', () => null);
    // A refit still running on the worker: this window is scored with its result, as on one thread.
    const fit = s && fitting.get(s);
    return fit ? fit.then(() => score(input, s)) : score(input, s);
  },
  update({ state, start, end, fits }: DetectionInput): void {
    let s = state.state<SeasonalState | null>('seasonal', () => null);
    if (!s) {
      s = { stepMs: end > start ? end - start : 0, periods: [], forecast: null, cursor: 0, failures: 0, times: [] };
      state.detectorState.set('seasonal', s);
    }
    s.cursor++;
    if (s.stepMs === 0) s.stepMs = pointSpacing(s.times, start);
    if (s.stepMs <= 0 || s.failures > 3) return;
    const h = state.history;
    const periods = SEASONS_MS.map((ms) => Math.round(ms / s!.stepMs)).filter((p) => p >= 4 && p * MIN_PERIODS <= h.size);
    if (periods.length === 0) return;
    // Refit every quarter of the longest season: seasonal shapes drift slowly, and a fit costs ~40 ms.
    const refitEvery = Math.max(8, Math.floor(periods[periods.length - 1] / 4));
    if (s.forecast && s.cursor < refitEvery && periods.length === s.periods.length) return;
    if (fitting.has(s)) return;
    const n = Math.min(h.size, MAX_FIT, FIT_PERIODS * periods[periods.length - 1]);
    const cols = state.kind === 'events' ? EVENT_FEATURES : [0];
    const ys = cols.map((j) => {
      const y = new Float64Array(n);
      h.column(j, y, n);
      return fillUnobserved(y);
    });
    const done = (forecast: SeasonalForecast[]) => {
      s!.forecast = forecast;
      s!.periods = periods;
      s!.cursor = 0;
    };
    // A series augurs cannot model (e.g. constant) just has no seasonal opinion; stop retrying soon.
    const failed = () => {
      s!.failures++;
      s!.forecast = null;
    };
    if (!fits) {
      try {
        done(ys.map((y) => mstlForecast(y, periods, refitEvery)));
      } catch {
        failed();
      }
      return;
    }
    const series = s;
    fitting.set(
      series,
      fits.forecast(ys, periods, refitEvery).then(done, failed).finally(() => fitting.delete(series)),
    );
  },
};

/** Raw score of the current observation against the series' forecast (null without one). */
function score({ state, features }: DetectionInput, s: SeasonalState | null): DetectorOutput | null {
  if (!s || !s.forecast || s.cursor >= s.forecast[0].point.length) return null;
  const cols = state.kind === 'events' ? EVENT_FEATURES : [0];
  const z = new Float64Array(features.length);
  let max = 0;
  cols.forEach((j, c) => {
    const f = s.forecast![c];
    const sd = Math.max((f.upper[s.cursor] - f.lower[s.cursor]) / (2 * 1.96), state.minScale[j]);
    z[j] = (features[j] - f.point[s.cursor]) / sd;
    if (Math.abs(z[j]) > max) max = Math.abs(z[j]);
  });
  return { raw: max, featureZ: z };
}

/**
 * A history column with each unobserved value (NaN: an event window without requests has no latency) read
 * as the last observed one before it (the first observed one before any): the fit needs every step.
 */
function fillUnobserved(y: Float64Array): Float64Array {
  let last = NaN;
  for (let i = 0; i < y.length; i++) {
    if (Number.isNaN(y[i])) y[i] = last;
    else if (Number.isNaN(last)) {
      y.fill(y[i], 0, i);
      last = y[i];
    } else last = y[i];
  }
  return Number.isNaN(last) ? y.fill(0) : y;
}

/** Spacing of a plain series: the median of its first 16 gaps (0 until known). */
function pointSpacing(times: number[], t: number): number {
  times.push(t);
  if (times.length < 17) return 0;
  const d = times.slice(1).map((x, i) => x - times[i]).sort((a, b) => a - b);
  times.length = 0;
  return Math.max(0, d[d.length >> 1]);
}
