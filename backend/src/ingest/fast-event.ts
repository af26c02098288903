import type { LlmEvent } from '../domain/types';
import { MAX_COST_USD, MAX_DURATION_MS, parseTimestamp } from './schema';

/**
 * Fast path of the event schema (schema.ts) for the common case: a plain JSON object with known fields of
 * the right types and ranges. It accepts a SUBSET of what `eventSchema` accepts and returns exactly what
 * `eventSchema.parse` returns for it (same fields, defaults, key order); for anything else (every error,
 * anything unusual) it returns undefined and the caller runs the schema, which then reports the error.
 * Zod's generic object parsing was about a third of the ingest cost.
 *
 * Keep in step with `eventSchema`: a constraint loosened there only sends more input to the schema (still
 * correct); a constraint TIGHTENED there must be tightened here too. backend/test/perf/fast-event.test.ts
 * compares both on generated input.
 */
export function fastParseEvent(x: unknown): LlmEvent | undefined {
  if (typeof x !== 'object' || x === null || Object.getPrototypeOf(x) !== Object.prototype) return undefined;
  const o = x as Record<string, unknown>;
  for (const k in o) if (!FIELDS.has(k)) return undefined;

  const t = o.timestamp;
  let ms: number;
  if (typeof t === 'number') ms = t;
  else if (typeof t === 'string') ms = parseTimestamp(t);
  else return undefined;
  if (!Number.isFinite(ms) || ms < 1e11 || ms > 1e14) return undefined;
  const { service, model } = o;
  if (!isLabel(service) || !isLabel(model)) return undefined;

  const out = { timestamp: ms, service, model } as LlmEvent;
  for (const k of OPTIONAL_LABELS) {
    if (!(k in o)) continue;
    const v = o[k];
    if (!isLabel(v)) return undefined;
    out[k] = v;
  }
  const inputTokens = count(o, 'inputTokens');
  const outputTokens = count(o, 'outputTokens');
  if (inputTokens < 0 || outputTokens < 0) return undefined;
  out.inputTokens = inputTokens;
  out.outputTokens = outputTokens;
  if ('latencyMs' in o) {
    const latencyMs = nonNegative(o, 'latencyMs');
    if (latencyMs < 0 || latencyMs > MAX_DURATION_MS) return undefined;
    out.latencyMs = latencyMs;
  }
  if ('ttftMs' in o) {
    const ttft = nonNegative(o, 'ttftMs');
    if (ttft < 0 || ttft > MAX_DURATION_MS) return undefined;
    out.ttftMs = ttft;
  }
  if ('status' in o) {
    const s = o.status;
    if (s !== 'ok' && s !== 'error') return undefined;
    out.status = s;
  } else out.status = 'ok';
  if ('errorType' in o) {
    const e = o.errorType;
    if (typeof e !== 'string' || e.length < 1 || e.length > 128) return undefined;
    out.errorType = e;
  }
  const costUsd = nonNegative(o, 'costUsd');
  if (costUsd < 0 || costUsd > MAX_COST_USD) return undefined;
  out.costUsd = costUsd;
  if ('cacheHit' in o) {
    if (typeof o.cacheHit !== 'boolean') return undefined;
    out.cacheHit = o.cacheHit;
  }
  if ('securityEvents' in o) {
    const a = o.securityEvents;
    if (!Array.isArray(a) || a.length > 32) return undefined;
    for (const s of a) if (typeof s !== 'string' || s.length < 1 || s.length > 64) return undefined;
    out.securityEvents = a.slice();
  }
  return out;
}

const FIELDS = new Set([
  'timestamp',
  'service',
  'model',
  'provider',
  'user',
  'apiKeyId',
  'route',
  'inputTokens',
  'outputTokens',
  'latencyMs',
  'ttftMs',
  'status',
  'errorType',
  'costUsd',
  'cacheHit',
  'securityEvents',
]);
const OPTIONAL_LABELS = ['provider', 'user', 'apiKeyId', 'route'] as const;

// A label that starts with white space (or a control character) goes to the schema, which refuses a blank one.
const isLabel = (v: unknown): v is string => typeof v === 'string' && v.length >= 1 && v.length <= 256 && v.charCodeAt(0) > 32;

/** A count field: its value, 0 when absent, -1 when the fast path does not apply. */
function count(o: Record<string, unknown>, k: string): number {
  if (!(k in o)) return 0;
  const v = o[k];
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : -1;
}

/** A non-negative finite number: its value, 0 when absent, -1 when the fast path does not apply. */
function nonNegative(o: Record<string, unknown>, k: string): number {
  if (!(k in o)) return 0;
  const v = o[k];
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : -1;
}
