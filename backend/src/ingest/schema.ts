import { z } from 'zod';
import type { LlmEvent, SeriesPoint } from '../domain/types';

/** Accepts ISO 8601 strings and epoch milliseconds; yields epoch ms. */
export const timestampSchema = z.union([z.number(), z.string()], { error: 'required: an ISO 8601 time or epoch milliseconds' }).transform((v, ctx) => {
  const ms = typeof v === 'number' ? v : /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  // Epoch seconds would silently land in 1970: ask for milliseconds instead.
  if (!Number.isFinite(ms) || ms < 1e11 || ms > 1e14) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 time or epoch milliseconds' });
    return z.NEVER;
  }
  return ms;
});

const label = z.string().min(1).max(256);
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

/** A point of a plain metric series. */
export const pointSchema = z
  .object({
    series: z.string().min(1).max(200),
    labels: z
      .record(z.string().regex(labelName, 'label names are [a-zA-Z_][a-zA-Z0-9_]*'), z.string().max(256))
      .refine((l) => Object.keys(l).length <= 16, 'at most 16 labels')
      // The series name is the `series` label of the series' key and records: a label of that name would replace it.
      .refine((l) => !Object.hasOwn(l, 'series'), '"series" is the series name, not a label')
      .default({}),
    timestamp: timestampSchema,
    value: z.number().finite(),
  })
  .strict() satisfies z.ZodType<SeriesPoint, unknown>;
