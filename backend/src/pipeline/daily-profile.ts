import type { AnomalyType } from '../domain/types';

/**
 * What an event series did at each hour of the day (UTC) on the last two days it was seen at that hour: the
 * answer to "is this what it does every day at this time?" that a baseline of the last 256 windows cannot
 * give. A service that stops every evening, a batch job that triples traffic at 09:00, paged every day before.
 *
 * Per hour and feature, the lowest and highest value of that hour's windows on each of the last two days it
 * had windows, and today's so far. Today's windows are not evidence for today: an incident that began at
 * 14:00 must not become "usual" by 14:10. About 9 KB per series (Float32), saved with the series state.
 */
export interface DailyProfile {
  /** Per hour and feature: [today, last day, the day before] x [min, max], i.e. 6 values. */
  range: Float32Array;
  /** Per hour: the epoch day of each of the three slots (-1: none yet). */
  day: Int32Array;
}

const HOURS = 24;
const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** Slots per hour and feature: today, the last day before it, the day before that; each [min, max]. */
const SLOTS = 3;
/**
 * Margin around a day's range, as a share of it (plus the feature's floor): a routine's windows vary a
 * little from day to day, a burst twice its size or an outage does not fit.
 */
const MARGIN = 0.1;
/**
 * Types a daily routine can explain: how much traffic, how slow, how costly. An error burst, a security
 * burst, token abuse or an output blow-up is a failure at any hour.
 */
const ROUTINE_TYPES: ReadonlySet<AnomalyType> = new Set(['traffic_spike', 'latency_spike', 'cost_spike', 'other']);

/** A new, empty profile for `features` features. */
export function newDailyProfile(features: number): DailyProfile {
  return { range: new Float32Array(HOURS * features * SLOTS * 2), day: new Int32Array(HOURS * SLOTS).fill(-1) };
}

const hourOf = (t: number) => Math.floor((((t % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS);

/** Learns one window (its start time and features; NaN features are skipped) into today's range of its hour. */
export function learnDaily(p: DailyProfile, start: number, features: Float64Array): void {
  const f = features.length;
  const h = hourOf(start);
  const today = Math.floor(start / DAY_MS);
  const base = h * f * SLOTS * 2;
  const d = h * SLOTS;
  if (p.day[d] !== today) {
    // A new day at this hour: today's range becomes the last day's, the last day's the day before's.
    if (p.day[d] >= 0) {
      p.day[d + 2] = p.day[d + 1];
      p.day[d + 1] = p.day[d];
      for (let j = 0; j < f; j++) {
        const k = base + j * SLOTS * 2;
        p.range[k + 4] = p.range[k + 2];
        p.range[k + 5] = p.range[k + 3];
        p.range[k + 2] = p.range[k];
        p.range[k + 3] = p.range[k + 1];
      }
    }
    p.day[d] = today;
    for (let j = 0; j < f; j++) {
      const k = base + j * SLOTS * 2;
      p.range[k] = Infinity;
      p.range[k + 1] = -Infinity;
    }
  }
  for (let j = 0; j < f; j++) {
    const x = features[j];
    if (!Number.isFinite(x)) continue;
    const k = base + j * SLOTS * 2;
    if (x < p.range[k]) p.range[k] = x;
    if (x > p.range[k + 1]) p.range[k + 1] = x;
  }
}

/**
 * Whether an anomalous window is what its series did at this hour on each of the two earlier days it was
 * seen at this hour: a routine type, and every feature it observed within both days' range of that hour
 * (with a margin). A routine thus alerts on its first two days, and an incident at a routine hour that goes
 * beyond the routine's range (a burst twice its size, an outage in a busy hour) still does.
 */
export function usualAtThisHour(p: DailyProfile, start: number, type: AnomalyType, features: Float64Array, minScale: Float64Array): boolean {
  if (!ROUTINE_TYPES.has(type)) return false;
  const h = hourOf(start);
  const today = Math.floor(start / DAY_MS);
  const d = h * SLOTS;
  // The two completed days: slots 1 and 2 once today has begun at this hour, else slots 0 and 1.
  const first = p.day[d] === today ? 1 : 0;
  if (p.day[d + first] < 0 || p.day[d + first + 1] < 0) return false;
  const f = features.length;
  const base = h * f * SLOTS * 2;
  for (let j = 0; j < f; j++) {
    const x = features[j];
    if (!Number.isFinite(x)) continue;
    for (let s = first; s < first + 2; s++) {
      const lo = p.range[base + j * SLOTS * 2 + s * 2];
      const hi = p.range[base + j * SLOTS * 2 + s * 2 + 1];
      // A feature the day never observed (no finite value at that hour) says nothing either way.
      if (!(hi >= lo)) continue;
      const margin = MARGIN * (hi - lo) + minScale[j];
      if (x < lo - margin || x > hi + margin) return false;
    }
  }
  return true;
}
