import { parseArgs } from 'node:util';
import type { DeadLetterListItem } from './alerts/dead-letter-routes';

/** Usage of `sentinel alerts dead-letters`, printed for --help and with a usage error. */
export const DEAD_LETTERS_USAGE = `Usage: sentinel alerts dead-letters [options]

Lists the alerts a running service could not deliver (newest first), or with --resend hands them back to
it for delivery to the sink each one failed on. Talks to the service's API; it never touches the file.

Options:
  --resend              resend the matching entries (all of them without --sink / --alert-id / --event / --id)
  --id ID               resend this entry (repeatable; ids are in the listing's first column)
  --force               with --resend: also the opening or escalation of an incident that has resolved since
                        (skipped as superseded otherwise: alone it would open a page nothing resolves)
  --sink NAME           only entries of this sink: its name ("webhook hooks.example.com") or kind (webhook,
                        slack, pagerduty, amqp)
  --alert-id ID         only entries of this alert (anomaly id)
  --event EVENT         only opened, escalated or resolved alerts
  --limit N             entries listed at most (1..1000, default 100)
  --json                print the API's JSON answer
  --url URL             the service (default http://SENTINEL_HOST:SENTINEL_PORT, i.e. http://127.0.0.1:8080)
  --api-key-env VAR     environment variable holding the API key (default SENTINEL_API_KEY); needed when the
                        service has SENTINEL_API_KEYS, and not read-only for --resend

Exit status: 0 done; 1 the service refused or could not be reached, or --resend left entries in the file;
2 usage.`;

class UsageError extends Error {}

/** Dependencies of {@link deadLettersCommand} (tests pass their own streams). */
export interface CliIo {
  env: Record<string, string | undefined>;
  out: { write(s: string): unknown };
  err: { write(s: string): unknown };
  fetch?: typeof fetch;
}

type ListItem = Omit<DeadLetterListItem, 'payload'>;

interface ResendItem {
  id: string;
  sink?: string;
  alertId?: string;
  event?: string;
  outcome: string;
  removed: boolean;
}

/**
 * `sentinel alerts dead-letters`: `GET /api/v1/alerts/dead-letters` or, with --resend,
 * `POST /api/v1/alerts/dead-letters/resend` on a running service. `argv` are the arguments after
 * `dead-letters`. Returns the exit code.
 */
export async function deadLettersCommand(argv: string[], io: CliIo): Promise<number> {
  let opts: {
    resend: boolean;
    force: boolean;
    ids: string[];
    filter: Record<string, string>;
    limit?: string;
    json: boolean;
    url: URL;
    key?: string;
  };
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        resend: { type: 'boolean' },
        force: { type: 'boolean' },
        id: { type: 'string', multiple: true },
        sink: { type: 'string' },
        'alert-id': { type: 'string' },
        event: { type: 'string' },
        limit: { type: 'string' },
        json: { type: 'boolean' },
        url: { type: 'string' },
        'api-key-env': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      io.out.write(`${DEAD_LETTERS_USAGE}\n`);
      return 0;
    }
    if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    const ids = values.id ?? [];
    const filter: Record<string, string> = {};
    if (values.sink !== undefined) filter.sink = values.sink;
    if (values['alert-id'] !== undefined) filter.alertId = values['alert-id'];
    if (values.event !== undefined) filter.event = values.event;
    if (ids.length && !values.resend) throw new UsageError('--id names entries to resend: add --resend (list with filters, or without options)');
    if (ids.length && Object.keys(filter).length) throw new UsageError('--id cannot be combined with --sink, --alert-id or --event');
    if (values.force && !values.resend) throw new UsageError('--force is for --resend');
    if (values.limit !== undefined && values.resend) throw new UsageError('--limit is for listing; a resend takes up to 1000 matching entries per run');
    // Checked here too (the service checks them as well): a typo is a usage error, not "the service refused".
    if (values.limit !== undefined && !(/^\d+$/.test(values.limit) && Number(values.limit) >= 1 && Number(values.limit) <= 1000)) {
      throw new UsageError(`--limit must be an integer from 1 to 1000, not "${values.limit}"`);
    }
    if (values.event !== undefined && !EVENTS.includes(values.event)) throw new UsageError(`--event must be opened, escalated or resolved, not "${values.event}"`);
    opts = { resend: !!values.resend, force: !!values.force, ids, filter, limit: values.limit, json: !!values.json, url: serviceUrl(values.url, io.env), key: apiKey(values['api-key-env'], io.env) };
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.err.write(`sentinel alerts dead-letters: ${(err as Error).message}\n\n${DEAD_LETTERS_USAGE}\n`);
      return 2;
    }
    throw err;
  }

  const headers: Record<string, string> = { accept: 'application/json' };
  if (opts.key) headers.authorization = `Bearer ${opts.key}`;
  const doFetch = io.fetch ?? fetch;
  let res: Response;
  const target = new URL(opts.resend ? 'api/v1/alerts/dead-letters/resend' : 'api/v1/alerts/dead-letters', opts.url);
  try {
    if (opts.resend) {
      const body = {
        ...(opts.ids.length ? { ids: opts.ids } : Object.keys(opts.filter).length ? opts.filter : { all: true }),
        ...(opts.force ? { force: true } : {}),
      };
      res = await doFetch(target, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    } else {
      for (const [k, v] of Object.entries(opts.filter)) target.searchParams.set(k, v);
      if (opts.limit !== undefined) target.searchParams.set('limit', opts.limit);
      res = await doFetch(target, { headers, signal: AbortSignal.timeout(30_000) });
    }
  } catch (err) {
    io.err.write(`sentinel: cannot reach the service at ${opts.url.origin}: ${(err as Error).message}${causeOf(err)}\n`);
    return 1;
  }
  const text = await res.text();
  let answer: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    answer = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    io.err.write(`sentinel: ${opts.url.origin} answered ${res.status} with a body that is not JSON (is --url the service?)\n`);
    return 1;
  }
  if (!res.ok) {
    const e = (answer.error ?? {}) as { code?: string; message?: string };
    const hint = res.status === 401 ? ' (set the API key in the variable --api-key-env names, default SENTINEL_API_KEY)' : res.status === 403 ? ' (a resend needs a key that is not read-only)' : '';
    io.err.write(`sentinel: the service answered ${res.status} ${e.code ?? ''}: ${e.message ?? text}${hint}\n`);
    return 1;
  }
  if (!(opts.resend ? isResendAnswer(answer) : isListAnswer(answer))) {
    io.err.write(`sentinel: ${opts.url.origin} answered ${res.status} with JSON that is not a dead-letter ${opts.resend ? 'resend report' : 'listing'} (is --url the service?)\n`);
    return 1;
  }
  if (opts.json) {
    io.out.write(`${JSON.stringify(answer, null, 2)}\n`);
  } else if (opts.resend) {
    printResend(io.out, answer as unknown as { items: ResendItem[]; resent: number; kept: number; remaining: number });
  } else {
    printList(io.out, answer as unknown as { items: ListItem[]; total: number; unreadable: number });
  }
  if (!opts.resend) return 0;
  const r = answer as unknown as { items: ResendItem[]; remaining: number };
  return r.items.every((x) => x.removed) && !r.remaining ? 0 : 1;
}

const EVENTS = ['opened', 'escalated', 'resolved'];

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** The answer has what printList reads (`GET /api/v1/alerts/dead-letters`). */
function isListAnswer(a: Record<string, unknown>): boolean {
  return Array.isArray(a.items) && a.items.every(isObject) && typeof a.total === 'number' && (a.unreadable === undefined || typeof a.unreadable === 'number');
}

/** The answer has what printResend and the exit code read (`POST /api/v1/alerts/dead-letters/resend`). */
function isResendAnswer(a: Record<string, unknown>): boolean {
  return Array.isArray(a.items) && a.items.every(isObject) && ['resent', 'kept', 'remaining'].every((k) => typeof a[k] === 'number');
}

/** --url, else the service's own SENTINEL_HOST / SENTINEL_PORT (a wildcard host read as loopback). */
function serviceUrl(flag: string | undefined, env: Record<string, string | undefined>): URL {
  let raw = flag;
  if (raw === undefined) {
    let host = env.SENTINEL_HOST || '127.0.0.1';
    if (host === '0.0.0.0') host = '127.0.0.1';
    else if (host === '::') host = '::1';
    raw = `http://${host.includes(':') ? `[${host}]` : host}:${env.SENTINEL_PORT || '8080'}`;
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be a URL such as http://127.0.0.1:8080, not "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--url must be http:// or https://');
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** The key from the variable --api-key-env names (never from an option: those show in `ps`). */
function apiKey(variable: string | undefined, env: Record<string, string | undefined>): string | undefined {
  if (variable === undefined) return env.SENTINEL_API_KEY || undefined;
  const key = env[variable];
  if (!key) throw new UsageError(`--api-key-env ${variable}: that variable is not set`);
  return key;
}

function causeOf(err: unknown): string {
  const c = (err as { cause?: { code?: string; message?: string } }).cause;
  return c ? ` (${c.code ?? c.message})` : '';
}

function printList(out: CliIo['out'], a: { items: ListItem[]; total: number; unreadable: number }): void {
  if (!a.items.length) out.write('no dead letters\n');
  else {
    out.write(`${a.total} dead letter${a.total === 1 ? '' : 's'}${a.items.length < a.total ? `, newest ${a.items.length} shown` : ''}, newest first:\n`);
    out.write(['ID', 'AT', 'SINK', 'ALERT', 'EVENT', 'ATTEMPTS', 'ERROR'].join('\t') + '\n');
    for (const x of a.items) {
      const sink = x.sinkConfigured ? x.sink : `${x.sink} (not configured)`;
      out.write([x.id, x.at, sink, x.alertId, x.event, x.attempts, oneLine(x.error)].join('\t') + '\n');
    }
  }
  if (a.unreadable) out.write(`${a.unreadable} line(s) of the file are not dead letters (left alone)\n`);
}

function printResend(out: CliIo['out'], a: { items: ResendItem[]; resent: number; kept: number; remaining: number }): void {
  if (!a.items.length) {
    out.write('nothing to resend\n');
    return;
  }
  for (const x of a.items) out.write([x.id, x.outcome, x.sink ?? '', x.alertId ?? '', x.event ?? ''].join('\t') + '\n');
  const notFound = a.items.length - a.resent - a.kept;
  out.write(`resent ${a.resent} (queued for delivery; one that fails again is dead-lettered again), kept ${a.kept}${notFound ? `, not found ${notFound}` : ''}\n`);
  if (a.items.some((x) => x.outcome === 'resent' && !x.removed)) out.write('some resent entries could not be removed from the file (see the service log); they are listed still\n');
  if (a.remaining) out.write(`${a.remaining} more match: run it again\n`);
}

const oneLine = (error: unknown) => {
  const s = String(error ?? '');
  return (s.length > 120 ? `${s.slice(0, 117)}...` : s).replace(/\s+/g, ' ');
};
