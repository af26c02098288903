import { createHash } from 'node:crypto';
import { appendFile, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AlertEvent, AlertPayload } from './payload';

/** One undeliverable alert, as stored (one JSON object per line). */
export interface DeadLetter {
  /** When it was given up on (ISO 8601). */
  at: string;
  /** Sink kind and host/exchange (never a URL path or key). */
  sink: string;
  alertId: string;
  event: AlertEvent;
  attempts: number;
  /** Why the last attempt failed (or "shutdown" / "overflow"). */
  error: string;
  payload: AlertPayload;
}

/** A dead letter with the id that names it in the API (see {@link deadLetterId}). */
export interface StoredDeadLetter extends DeadLetter {
  id: string;
}

/** What the file holds: the entries oldest first, and how many lines could not be read as one. */
export interface DeadLetterContents {
  entries: StoredDeadLetter[];
  /** Lines that are not a dead letter (hand-edited, torn by a full disk): listed nowhere, removed only by a trim. */
  unreadable: number;
}

/** File name of the dead-letter store under SENTINEL_DATA_DIR. */
export const DEAD_LETTER_FILE = 'alerts-dead-letter.jsonl';

export interface DeadLetterOptions {
  file?: string;
  /**
   * Entries kept (SENTINEL_DEAD_LETTER_MAX). When appends take the file a tenth past it, the oldest entries
   * are dropped down to it, so a sink broken for months cannot fill the disk, and every listing (which reads
   * the whole file) stays bounded. Unreadable lines count and are dropped first.
   */
  maxEntries?: number;
  /** Told how many entries a trim dropped (to log and count it). */
  onTrim?: (dropped: number) => void;
}

/**
 * Id of a stored line: `dl_` and 16 hex digits of the SHA-256 of the line. It depends on the line alone, so
 * it stays the same while other entries come and go (line numbers would not), and the file needs no
 * change of format. Byte-identical lines get `-2`, `-3`, ... in file order.
 */
export function deadLetterId(line: string, seen?: Map<string, number>): string {
  const base = 'dl_' + createHash('sha256').update(line).digest('hex').slice(0, 16);
  if (!seen) return base;
  const n = (seen.get(base) ?? 0) + 1;
  seen.set(base, n);
  return n === 1 ? base : `${base}-${n}`;
}

const EVENTS: ReadonlySet<string> = new Set(['opened', 'escalated', 'resolved']);

/** The line's dead letter, or null when it is not one. */
function parseLine(line: string): DeadLetter | null {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return null;
  }
  const d = v as Partial<DeadLetter> | null;
  if (!d || typeof d !== 'object' || typeof d.sink !== 'string' || typeof d.alertId !== 'string' || typeof d.event !== 'string' || !EVENTS.has(d.event)) return null;
  if (!d.payload || typeof d.payload !== 'object' || typeof d.payload.alert_id !== 'string') return null;
  return d as DeadLetter;
}

/**
 * Dead-letter store for alerts that could not be delivered: a JSONL file under the data directory
 * (`alerts-dead-letter.jsonl`), appended one line per alert and sink. Operators list and resend entries
 * through the API (`/api/v1/alerts/dead-letters`), which removes resent ones with {@link remove}. Every
 * write (appends and rewrites) is serialised, so lines never interleave and a rewrite never drops a line
 * appended while it ran. Payloads are the redacted alert payloads; no sink URL or key is written.
 */
export class DeadLetterStore {
  readonly path: string;
  private readonly maxEntries: number;
  private chain: Promise<void> = Promise.resolve();
  /** Lines in the file as last read or written (null: not read yet). */
  private lineCount: number | null = null;

  constructor(
    dataDir: string,
    private readonly opts: DeadLetterOptions = {},
  ) {
    this.path = join(dataDir, opts.file ?? DEAD_LETTER_FILE);
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** Runs `fn` after every write queued before it, and before any queued after it. */
  private locked<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn);
    // A failed write must not wedge the ones after it.
    this.chain = run.then(
      () => {},
      () => {},
    );
    return run;
  }

  append(entry: DeadLetter): Promise<void> {
    const line = JSON.stringify(entry) + '\n';
    return this.locked(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      const count = this.lineCount ?? (await this.readLines()).length;
      await appendFile(this.path, line, 'utf8');
      this.lineCount = count + 1;
      if (this.lineCount > this.maxEntries + Math.ceil(this.maxEntries / 10)) await this.trim();
    });
  }

  /** Drops the oldest lines (unreadable ones first) down to `maxEntries`; a failed rewrite keeps the file. */
  private async trim(): Promise<void> {
    const lines = await this.readLines();
    let excess = lines.length - this.maxEntries;
    if (excess <= 0) return;
    const dropped = excess;
    const kept = lines.filter((line) => (excess > 0 && !parseLine(line) ? (excess--, false) : true));
    const rest = kept.slice(excess);
    if ((await this.rewrite(rest)) === undefined) this.opts.onTrim?.(dropped);
  }

  /** Everything stored, oldest first, with ids (after the writes queued before the call). */
  read(): Promise<DeadLetterContents> {
    return this.locked(async () => contentsOf(await this.readLines()));
  }

  /** Everything stored so far, oldest first (for tests). */
  async readAll(): Promise<DeadLetter[]> {
    return (await this.read()).entries.map(({ id: _id, ...d }) => d);
  }

  /**
   * Removes entries: with the writes held (appends queue behind it), reads the file, asks `pick` which ids
   * to drop, and replaces the file by a copy without them (written to a temp file, fsynced, renamed over
   * it). A crash leaves either the old file or the new one, never half of one. Unreadable lines are kept
   * as they are. Returns what `pick` returned and, when the rewrite failed (the file is then unchanged),
   * why: `pick` has acted by then, so the caller must hear of it rather than get an exception.
   */
  remove<T>(pick: (contents: DeadLetterContents) => { drop: Iterable<string>; result: T }): Promise<{ result: T; writeError?: unknown }> {
    return this.locked(async () => {
      const lines = await this.readLines();
      const { drop, result } = pick(contentsOf(lines));
      const dropped = new Set(drop);
      if (dropped.size === 0) return { result };
      const seen = new Map<string, number>();
      const kept = lines.filter((line) => !(parseLine(line) && dropped.has(deadLetterId(line, seen))));
      if (kept.length === lines.length) return { result };
      const writeError = await this.rewrite(kept);
      return writeError === undefined ? { result } : { result, writeError };
    });
  }

  /**
   * Replaces the file by `lines` (a temp file, fsynced, renamed over it): a crash leaves the old file or the
   * new one. Returns the error when it failed (the file is then unchanged), undefined when done.
   */
  private async rewrite(lines: string[]): Promise<unknown> {
    const tmp = `${this.path}.${process.pid}.tmp`;
    try {
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(lines.map((l) => l + '\n').join(''), 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.path);
      this.lineCount = lines.length;
      return undefined;
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => {});
      return err ?? new Error('rewrite failed');
    }
  }

  private async readLines(): Promise<string[]> {
    let lines: string[];
    try {
      lines = (await readFile(this.path, 'utf8')).split('\n').filter(Boolean);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      lines = [];
    }
    this.lineCount = lines.length;
    return lines;
  }
}

function contentsOf(lines: string[]): DeadLetterContents {
  const seen = new Map<string, number>();
  const entries: StoredDeadLetter[] = [];
  let unreadable = 0;
  for (const line of lines) {
    const d = parseLine(line);
    if (d) entries.push({ ...d, id: deadLetterId(line, seen) });
    else unreadable++;
  }
  return { entries, unreadable };
}
