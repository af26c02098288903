/** A forecast with its prediction interval, one value per step ahead. */
export interface Forecast {
  point: Float64Array;
  lower: Float64Array;
  upper: Float64Array;
}

/**
 * Fits MSTL (augurs, seasonal-trend decomposition per period + ETS on the remainder) to `y` and forecasts
 * `horizon` steps with a `level` interval (default 0.95). Throws augurs' error when the series cannot be fitted.
 */
export function fitForecast(y: Float64Array, periods: number[], horizon: number, level?: number): Forecast;
