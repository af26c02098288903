import type { z } from 'zod';
import { ValidationError } from '../errors';
import { issuePath, issueText } from '../ingest/parse';

/** Parses `value` with `schema` or throws a ValidationError naming the first bad field. */
export function parseOr400<T>(schema: z.ZodType<T, unknown>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const { field, message } = issueText(r.error.issues[0]);
  throw new ValidationError(`${what}: ${field}: ${message}`, { field, details: r.error.issues.slice(0, 5).map((i) => ({ path: issuePath(i.path), message: i.message })) });
}
