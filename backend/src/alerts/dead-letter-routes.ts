import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { parseOr400 } from '../api/validate';
import { ValidationError } from '../errors';
import { redactSecrets } from '../explain/redact';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { DeadLetterStore, StoredDeadLetter } from './dead-letter';
import type { AlertDispatcher, ResendOutcome } from './dispatcher';

/** Entries one filter-based resend hands over at most (oldest first); `remaining` says how many more match. */
export const MAX_RESEND = 1000;

const filterShape = {
  /** A sink's name (`webhook hooks.example.com`) or kind (`webhook`, `slack`, `pagerduty`, `amqp`). */
  sink: z.string().min(1).max(300).optional(),
  alertId: z.string().min(1).max(200).optional(),
  event: z.enum(['opened', 'escalated', 'resolved']).optional(),
};

const listQuery = z
  .object({
    ...filterShape,
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

const resendBody = z
  .object({
    ids: z.array(z.string().min(1).max(100)).min(1).max(MAX_RESEND).optional(),
    ...filterShape,
    all: z.literal(true).optional(),
    /** Resend an opening or escalation even though its incident has resolved since (see ResendItem). */
    force: z.boolean().optional(),
  })
  .strict()
  .default({});

/** Which entries a list or resend asks for. */
export interface DeadLetterFilter {
  sink?: string;
  alertId?: string;
  event?: string;
}

/** Whether `e` matches `f`: `sink` by the sink's full name or by its kind (the name's first word). */
export function matches(e: StoredDeadLetter, f: DeadLetterFilter): boolean {
  if (f.sink !== undefined && e.sink !== f.sink && e.sink.split(' ')[0] !== f.sink) return false;
  if (f.alertId !== undefined && e.alertId !== f.alertId) return false;
  return f.event === undefined || e.event === f.event;
}

/** One entry of GET /api/v1/alerts/dead-letters. */
export interface DeadLetterListItem {
  id: string;
  at: string;
  sink: string;
  /** Whether a configured sink has that name (a resend can deliver it). */
  sinkConfigured: boolean;
  alertId: string;
  event: string;
  attempts: number;
  error: string;
  payload: StoredDeadLetter['payload'];
}

/** What a resend did with one entry (`not_found`: an id named no stored entry). */
export interface ResendItem {
  id: string;
  sink?: string;
  alertId?: string;
  event?: string;
  /**
   * `superseded`: an `opened` or `escalated` alert whose incident has resolved since, and whose `resolved`
   * is not resent with it: on its own it would open an incident at the receiver (a PagerDuty page) that
   * nothing will ever resolve. Kept in the file; `force: true` resends it all the same.
   */
  outcome: ResendOutcome | 'not_found' | 'superseded';
  /** Taken out of the dead-letter file (only ever when resent and safely in the dispatcher's outbox). */
  removed: boolean;
}

/** The answer of a resend. */
export interface ResendReport {
  items: ResendItem[];
  resent: number;
  /** Entries named or matched that stay in the file. */
  kept: number;
  /** Entries matching the filter beyond {@link MAX_RESEND}, left for the next call. */
  remaining: number;
}

/**
 * Hands the chosen dead letters (by `ids`, else by `filter`, oldest first) back to the dispatcher, each to
 * the sink it failed on, and removes the ones it took from the file, in one step under the store's write
 * lock: an alert dead-lettered meanwhile is appended after the rewrite, never lost by it. The order is
 * hand-over (and the dispatcher's outbox saved to disk), then the file rewrite: a crash in between sends an
 * alert twice (with the same event id, which receivers dedupe on), never zero times.
 */
export async function resendDeadLetters(
  store: DeadLetterStore,
  dispatcher: AlertDispatcher | null,
  selection: { ids?: string[]; filter?: DeadLetterFilter; force?: boolean },
  deps: { log: Logger; metrics?: SentinelMetrics; incidentStatus?: (alertId: string) => Promise<string | null> },
): Promise<ResendReport> {
  // Where the incidents of the candidates stand now, read before the file is locked (a lookup per alert id).
  const resolvedNow = new Set<string>();
  if (deps.incidentStatus && !selection.force) {
    const ids = new Set((await store.read()).entries.filter((e) => e.event !== 'resolved').map((e) => e.alertId));
    for (const id of ids) if ((await deps.incidentStatus(id).catch(() => null)) === 'resolved') resolvedNow.add(id);
  }
  const { result, writeError } = await store.remove(({ entries }) => {
    let chosen: StoredDeadLetter[];
    let missing: string[] = [];
    let remaining = 0;
    if (selection.ids) {
      const wanted = new Set(selection.ids);
      chosen = entries.filter((e) => wanted.has(e.id));
      const found = new Set(chosen.map((e) => e.id));
      missing = [...wanted].filter((id) => !found.has(id));
    } else {
      const all = entries.filter((e) => matches(e, selection.filter ?? {}));
      chosen = all.slice(0, MAX_RESEND);
      remaining = all.length - chosen.length;
    }
    const resolvesWith = new Set(chosen.filter((e) => e.event === 'resolved').map((e) => `${e.sink}\u0000${e.alertId}`));
    const superseded = (e: StoredDeadLetter) => e.event !== 'resolved' && resolvedNow.has(e.alertId) && !resolvesWith.has(`${e.sink}\u0000${e.alertId}`);
    const sendable = chosen.filter((e) => !superseded(e));
    const handed = dispatcher
      ? dispatcher.resend(sendable.map((e) => ({ sink: e.sink, event: e.event, payload: e.payload })))
      : { outcomes: sendable.map((): ResendOutcome => 'sink_not_configured'), saved: true };
    const outcomeOf = new Map(sendable.map((e, i) => [e, handed.outcomes[i]]));
    const items: ResendItem[] = chosen.map((e) => {
      const outcome = outcomeOf.get(e) ?? 'superseded';
      return { id: e.id, sink: e.sink, alertId: e.alertId, event: e.event, outcome, removed: outcome === 'resent' && handed.saved };
    });
    for (const id of missing) items.push({ id, outcome: 'not_found', removed: false });
    return { drop: items.filter((x) => x.removed).map((x) => x.id), result: { items, remaining } };
  });
  if (writeError) {
    deps.log.warn({ err: writeError }, 'rewriting the dead-letter file failed; the resent alerts stay in it too');
    for (const x of result.items) x.removed = false;
  }
  for (const x of result.items) deps.metrics?.alertsResent.inc({ outcome: x.outcome });
  const resent = result.items.filter((x) => x.outcome === 'resent').length;
  const kept = result.items.filter((x) => x.outcome !== 'resent' && x.outcome !== 'not_found').length;
  if (result.items.length) {
    const sinks = [...new Set(result.items.filter((x) => x.outcome === 'resent').map((x) => x.sink))];
    deps.log.info({ resent, kept, notFound: result.items.length - resent - kept, sinks }, 'dead-lettered alerts handed back for delivery');
  }
  return { items: result.items, resent, kept, remaining: result.remaining };
}

/**
 * `GET /api/v1/alerts/dead-letters` (newest first; filters sink, alertId, event; limit) and
 * `POST /api/v1/alerts/dead-letters/resend` (body `{ids}`, a filter, or `{all: true}`). The POST is a write:
 * with SENTINEL_API_KEYS set it needs a key that is not read-only (the server's auth hook).
 */
export function deadLetterRoutes(
  alerting: { deadLetters: DeadLetterStore; dispatcher: AlertDispatcher | null },
  metrics?: SentinelMetrics,
  incidentStatus?: (alertId: string) => Promise<string | null>,
): (app: FastifyInstance) => void {
  return (app) => {
    app.get('/api/v1/alerts/dead-letters', async (req) => {
      const q = parseOr400(listQuery, req.query, 'query');
      const { entries, unreadable } = await alerting.deadLetters.read();
      const configured = new Set(alerting.dispatcher?.sinkNames ?? []);
      const hits = entries.filter((e) => matches(e, q));
      return {
        items: hits
          .slice(-q.limit)
          .reverse()
          .map((e): DeadLetterListItem => ({
            id: e.id,
            at: e.at,
            sink: e.sink,
            sinkConfigured: configured.has(e.sink),
            alertId: e.alertId,
            event: e.event,
            attempts: e.attempts,
            // Written redacted since it was; lines from before are redacted here.
            error: redactSecrets(String(e.error ?? '')),
            payload: e.payload,
          })),
        total: hits.length,
        unreadable,
      };
    });

    app.post('/api/v1/alerts/dead-letters/resend', async (req) => {
      const body = parseOr400(resendBody, req.body, 'resend');
      const filtered = body.sink !== undefined || body.alertId !== undefined || body.event !== undefined;
      if (body.ids && (filtered || body.all)) throw new ValidationError('resend: ids: give ids, or a filter (sink, alertId, event), or all: true; not several', { field: 'ids' });
      if (!body.ids && !filtered && !body.all) {
        throw new ValidationError('resend: ids: name the entries to resend: ids, a filter (sink, alertId, event), or all: true', { field: 'ids' });
      }
      const selection = body.ids ? { ids: body.ids, force: body.force } : { filter: body, force: body.force };
      return resendDeadLetters(alerting.deadLetters, alerting.dispatcher, selection, { log: req.log as Logger, metrics, incidentStatus });
    });
  };
}
