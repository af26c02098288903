import { z } from 'zod';
import type { LlmEvent, SeriesPoint } from '../domain/types';

/** ISO 8601: a date, optionally `T` or a space and a time to the minute at least, fraction and offset. */
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/**
 * Epoch ms of an ISO 8601 date-time string (or a string of digits: epoch ms), NaN for anything else. Without an
 * offset it is UTC, not the server's time zone (QA: the same body was accepted on a UTC server and refused
 * as 5 hours in the future on one in New York); dates that do not exist (February 30) and the free forms
 * Date.parse guesses at ("user-42 Nov 23 2026" read as 2042) are refused.
 */
export function parseTimestamp(v: string): number {
  if (/^\d+$/.test(v)) return Number(v);
  const m = ISO.exec(v);
  if (!m) return NaN;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', frac = '', zone = 'Z'] = m;
  const ms = Date.UTC(+y, +mo - 1, +d, +h, +mi, +sec, Math.floor(Number(`0.${frac || '0'}`) * 1000));
  const t = new Date(ms);
  if (t.getUTCFullYear() !== +y || t.getUTCMonth() !== +mo - 1 || t.getUTCDate() !== +d || +h > 23 || +mi > 59 || +sec > 59) return NaN;
  if (zone.toUpperCase() === 'Z') return ms;
  const off = zone.replace(':', '');
  // Real offsets run from -12:00 to +14:00; +25:99 is a typo, not a place.
  if (Number(off.slice(1, 3)) > 14 || Number(off.slice(3, 5)) > 59) return NaN;
  const minutes = Number(off.slice(1, 3)) * 60 + Number(off.slice(3, 5));
  return off[0] === '+' ? ms - minutes * 60_000 : ms + minutes * 60_000;
}

/** Earliest time the API takes (1973-03-03): a smaller number is most likely epoch seconds. */
export const MIN_TIME_MS = 1e11;
/** Latest time the API takes (5138-11-16). */
export const MAX_TIME_MS = 1e14;

/** Accepts ISO 8601 strings and epoch milliseconds; yields epoch ms. */
export const timestampSchema = z.union([z.number(), z.string()], { error: 'required: an ISO 8601 time or epoch milliseconds' }).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : parseTimestamp(v);
  if (!Number.isFinite(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 time or epoch milliseconds' });
    return z.NEVER;
  }
  // Epoch seconds would silently land in 1970: ask for milliseconds instead. A time out of the range read as
  // "must be ... epoch milliseconds" for `from=0`, which is epoch milliseconds: say what the range is.
  if (ms < MIN_TIME_MS || ms > MAX_TIME_MS) {
    const numeric = typeof v === 'number' || /^\d+$/.test(v);
    const seconds = numeric && ms >= MIN_TIME_MS / 1000 && ms < MIN_TIME_MS ? '; this looks like epoch seconds' : '';
    ctx.addIssue({ code: 'custom', message: `must be between 1973-03-03 and 5138 (epoch milliseconds ${MIN_TIME_MS} to ${MAX_TIME_MS})${seconds}` });
    return z.NEVER;
  }
  return ms;
});

/**
 * A name that is only white space is a client's bug (an unset variable padded by a template), not a service,
 * model or series: it made a series whose key and records show nothing (QA).
 */
const notBlank = (s: string) => s.trim() !== '';
const BLANK = 'must not be blank (only white space)';
const label = z.string().min(1).max(256).refine(notBlank, BLANK);
const count = z.number().int().nonnegative();
const nonNegative = z.number().nonnegative().finite();
/**
 * Upper bounds of a request's durations and cost: far above any real request, but a value past them is a
 * unit or encoding error, and a few of them used to overflow window sums and the score timeline's float32
 * columns (1e39 ms read back as 0, two costs of 1.7e308 as +Inf on /metrics).
 */
export const MAX_DURATION_MS = 86_400_000;
export const MAX_COST_USD = 1_000_000;
const duration = nonNegative.max(MAX_DURATION_MS, `at most ${MAX_DURATION_MS} ms (one day)`);

/** The event contract of ARCHITECTURE.md. Unknown fields are rejected so typos don't pass silently. */
export const eventSchema = z
  .object({
    timestamp: timestampSchema,
    service: label,
    model: label,
    provider: label.optional(),
    user: label.optional(),
    apiKeyId: label.optional(),
    route: label.optional(),
    inputTokens: count.default(0),
    outputTokens: count.default(0),
    // Optional: a missing latency is unknown, not a 0 ms request (it would drag the quantiles down).
    latencyMs: duration.optional(),
    ttftMs: duration.optional(),
    status: z.enum(['ok', 'error']).default('ok'),
    errorType: z.string().min(1).max(128).optional(),
    costUsd: nonNegative.max(MAX_COST_USD, `at most ${MAX_COST_USD} USD`).default(0),
    cacheHit: z.boolean().optional(),
    securityEvents: z.array(z.string().min(1).max(64)).max(32).optional(),
  })
  .strict() satisfies z.ZodType<LlmEvent, unknown>;

const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * A `__proto__` key (JSON.parse keeps it as an own key) is skipped by zod's record, which builds a plain
 * object: the label vanished from an accepted point, merging the series with every other value of it (QA).
 */
function refuseProtoKey(labels: unknown, ctx: { addIssue(issue: { code: 'custom'; message: string; path: string[]; input: unknown }): void }): unknown {
  if (typeof labels === 'object' && labels !== null && Object.hasOwn(labels, '__proto__')) {
    ctx.addIssue({ code: 'custom', message: '__proto__ is not a label name', path: ['__proto__'], input: labels });
  }
  return labels;
}

/** Labels of a point: at most 16, with bounded names and values. */
const pointLabels = z
  // Names are bounded like values: a 64k-character name was legal, and every alert's payload and
  // explanation carry it (QA: its redaction held the event loop for seconds).
  .record(z.string().max(128, 'label names have at most 128 characters').regex(labelName, 'label names are [a-zA-Z_][a-zA-Z0-9_]*'), z.string().max(256))
  .refine((l) => Object.keys(l).length <= 16, 'at most 16 labels')
  // The series name is the `series` label of the series' key and records: a label of that name would replace it.
  .refine((l) => !Object.hasOwn(l, 'series'), '"series" is the series name, not a label');

/** A point of a plain metric series. */
export const pointSchema = z
  .object({
    series: z.string().min(1).max(200).refine(notBlank, BLANK),
    labels: z.preprocess(refuseProtoKey, pointLabels).default({}),
    timestamp: timestampSchema,
    value: z.number().finite(),
  })
  .strict() satisfies z.ZodType<SeriesPoint, unknown>;
