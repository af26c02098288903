import type { z } from 'zod';
import { ValidationError } from '../errors';
import { fastParseEvent } from './fast-event';
import { eventSchema } from './schema';

/** Why one record of a batch was not accepted. */
export interface Rejection {
  index: number;
  field: string;
  message: string;
  /** NDJSON bodies: the record's line (1-based; blank lines count, `index` does not count them). */
  line?: number;
}

/** Outcome of validating a batch: the good records are kept even when others are bad. */
export interface BatchResult<T> {
  records: T[];
  /** Position of each record in the submitted batch (for rejections found later, e.g. late events). */
  indexes: number[];
  rejected: Rejection[];
  /** NDJSON bodies: the 1-based line of each record, by index. */
  lines?: number[];
}

/**
 * Splits a request body into records: a JSON object, a JSON array, or NDJSON (one object per line).
 * `body` is what the HTTP layer parsed: already an object/array for JSON, the raw string for NDJSON.
 * A line of NDJSON that is not JSON becomes a rejection of that line, not a failure of the batch.
 */
export function splitBody(body: unknown): { items: unknown[]; rejected: Rejection[]; lines?: number[] } {
  if (Array.isArray(body)) return { items: body, rejected: [] };
  if (typeof body !== 'string') return { items: [body], rejected: [] };
  const items: unknown[] = [];
  const rejected: Rejection[] = [];
  const lines: number[] = [];
  let index = 0;
  let lineNo = 0;
  for (const line of body.split('\n')) {
    lineNo++;
    const text = line.trim();
    if (!text) continue;
    lines[index] = lineNo;
    try {
      items[index] = JSON.parse(text);
    } catch {
      items[index] = undefined;
      rejected.push({ index, field: '(line)', message: 'not valid JSON', line: lineNo });
    }
    index++;
  }
  return { items, rejected, lines };
}

/**
 * JSON.parse's message without the excerpt of the text it quotes (`Unexpected token 's', "sk-proj-ab"... is
 * not valid JSON`: up to 10 characters around the error, the whole text when it is short): a body or a
 * message that is not JSON may hold a credential, and the 400 and the dead-letter log quoted it.
 */
export function jsonSyntaxMessage(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.replace(/, ".*"(\.\.\.)? is not valid JSON$/s, ' (not valid JSON)');
}

/** Dotted path of a zod issue, "(record)" for the record itself. */
export function issuePath(path: ReadonlyArray<PropertyKey>): string {
  return path.length ? path.map(String).join('.') : '(record)';
}

/**
 * The field and message a client is told for a zod issue: unknown fields by name; a bad record key (a label
 * name) with the reason its own check gave, not zod's bare "Invalid key in record".
 */
export function issueText(issue: z.core.$ZodIssue): { field: string; message: string } {
  if (issue.code === 'unrecognized_keys') return { field: (issue.keys ?? []).join(','), message: 'unknown field' };
  const inner = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
  return { field: issuePath(issue.path), message: inner ?? issue.message };
}

/** Validates every item against `schema`; bad ones are reported with index and field. */
export function validateBatch<T>(schema: z.ZodType<T, unknown>, body: unknown, maxRecords: number): BatchResult<T> {
  const { items, rejected, lines } = splitBody(body);
  if (items.length > maxRecords) {
    throw new ValidationError(`a batch holds at most ${maxRecords} records, got ${items.length}`, { field: '(body)' });
  }
  const badLines = new Set(rejected.map((r) => r.index));
  const records: T[] = [];
  const indexes: number[] = [];
  // Events have a fast path that gives the schema's result for well-formed input (fast-event.ts).
  const fast = (schema as unknown) === eventSchema ? (fastParseEvent as (x: unknown) => T | undefined) : undefined;
  for (let i = 0; i < items.length; i++) {
    if (badLines.has(i)) continue;
    const quick = fast?.(items[i]);
    if (quick !== undefined) {
      records.push(quick);
      indexes.push(i);
      continue;
    }
    const r = schema.safeParse(items[i]);
    if (r.success) {
      records.push(r.data);
      indexes.push(i);
      continue;
    }
    rejected.push({ index: i, ...issueText(r.error.issues[0]) });
  }
  rejected.sort((a, b) => a.index - b.index);
  return { records, indexes, rejected, ...(lines ? { lines } : {}) };
}
