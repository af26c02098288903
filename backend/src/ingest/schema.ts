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
    latencyMs: nonNegative.optional(),
    ttftMs: nonNegative.optional(),
    status: z.enum(['ok', 'error']).default('ok'),
    errorType: z.string().min(1).max(128).optional(),
    costUsd: nonNegative.default(0),
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
      .default({}),
    timestamp: timestampSchema,
    value: z.number().finite(),
  })
  .strict() satisfies z.ZodType<SeriesPoint, unknown>;
