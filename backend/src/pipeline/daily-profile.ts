import type { AnomalyType } from '../domain/types';

/**
 * What an event series does at each hour of the day (UTC), learnt over days: the answer to "is this what it
 * does every day at this time?" that a baseline of the last 256 windows cannot give. A service that stops
 * every evening, a batch job that triples traffic at 09:00, paged every day before.
 *
 * Per hour and feature, an exponentially weighted mean and mean absolute deviation of every window of that
 * hour (anomalous ones too: a recurring regime is the point), and on how many days the hour was seen. A few
 * typed arrays per series (about 3.4 KB with 16 features), saved with the series state.
 */
export interface DailyProfile {
  mean: Float32Array;
  dev: Float32Array;
  /** Per hour: days on which the hour had a window, and the last such day (epoch days). */
  days: Uint16Array;
  lastDay: Int32Array;
  /** Per hour: windows learnt (to correct the deviation's start from 0, as Adam corrects its moments). */
  n: Uint32Array;
}

const HOURS = 24;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/**
 * Weight of a new window in its hour's averages: about the last 50 windows of that hour count, so with
 * 1-minute windows mostly the same hour of the previous day, with 15-minute ones the last few days.
 */
const ALPHA = 0.02;
/**
 * Earlier days (today not counted) an hour must have been seen on before the profile speaks for it: the
 * first time a routine runs it is an anomaly, the second time it may still be one; from the third day on
 * it is the routine.
 */
const MIN_DAYS = 2;
/** How far from the hour's mean, in its mean absolute deviations (at least the feature's floor), is "as usual". */
const BAND = 4;
/**
 * Types a daily routine can explain: how much traffic, how slow, how costly. An error burst, a security
 * burst, token abuse or an output blow-up is a failure at any hour.
 */
const ROUTINE_TYPES: ReadonlySet<AnomalyType> = new Set(['traffic_spike', 'latency_spike', 'cost_spike', 'other']);

/** A new, empty profile for `features` features. */
export function newDailyProfile(features: number): DailyProfile {
  return {
    mean: new Float32Array(HOURS * features),
    dev: new Float32Array(HOURS * features),
    days: new Uint16Array(HOURS),
    lastDay: new Int32Array(HOURS).fill(-1),
    n: new Uint32Array(HOURS),
  };
}

const hourOf = (t: number) => Math.floor((((t % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);

/** Learns one window (its start time and features; NaN features are skipped). */
export function learnDaily(p: DailyProfile, start: number, features: Float64Array): void {
  const f = features.length;
  const h = hourOf(start);
  const day = Math.floor(start / DAY_MS);
  const first = p.n[h] === 0;
  if (p.n[h] < 0xffffffff) p.n[h]++;
  if (p.lastDay[h] !== day) {
    p.lastDay[h] = day;
    if (p.days[h] < 0xffff) p.days[h]++;
  }
  for (let j = 0; j < f; j++) {
    const x = features[j];
    if (!Number.isFinite(x)) continue;
    const k = h * f + j;
    if (first) {
      p.mean[k] = x;
      continue;
    }
    const d = x - p.mean[k];
    p.mean[k] += ALPHA * d;
    p.dev[k] += ALPHA * (Math.abs(d) - p.dev[k]);
  }
}

/**
 * Whether an anomalous window is what its series does at this hour every day: a routine type, the hour seen
 * on MIN_DAYS earlier days, and every feature it observed within BAND deviations of the hour's mean.
 */
export function usualAtThisHour(p: DailyProfile, start: number, type: AnomalyType, features: Float64Array, minScale: Float64Array): boolean {
  if (!ROUTINE_TYPES.has(type)) return false;
  const h = hourOf(start);
  const earlierDays = p.days[h] - (p.lastDay[h] === Math.floor(start / DAY_MS) ? 1 : 0);
  if (earlierDays < MIN_DAYS) return false;
  const f = features.length;
  // The deviation began at 0: after n windows it holds 1 - (1 - ALPHA)^n of its weight.
  const debias = 1 / (1 - Math.pow(1 - ALPHA, Math.max(1, p.n[h] - 1)));
  for (let j = 0; j < f; j++) {
    const x = features[j];
    if (!Number.isFinite(x)) continue;
    const k = h * f + j;
    if (Math.abs(x - p.mean[k]) > BAND * Math.max(p.dev[k] * debias, minScale[j])) return false;
  }
  return true;
}
