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
  /** Lines that are not a dead letter (hand-edited, torn by a full disk): listed nowhere, never removed. */
  unreadable: number;
}

/** File name of the dead-letter store under SENTINEL_DATA_DIR. */
export const DEAD_LETTER_FILE = 'alerts-dead-letter.jsonl';

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
  private chain: Promise<void> = Promise.resolve();

  constructor(dataDir: string, file = DEAD_LETTER_FILE) {
    this.path = join(dataDir, file);
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
      await appendFile(this.path, line, 'utf8');
    });
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
      const tmp = `${this.path}.${process.pid}.tmp`;
      try {
        const fh = await open(tmp, 'w');
        try {
          await fh.writeFile(kept.map((l) => l + '\n').join(''), 'utf8');
          await fh.sync();
        } finally {
          await fh.close();
        }
        await rename(tmp, this.path);
      } catch (err) {
        await rm(tmp, { force: true }).catch(() => {});
        return { result, writeError: err };
      }
      return { result };
    });
  }

  private async readLines(): Promise<string[]> {
    try {
      return (await readFile(this.path, 'utf8')).split('\n').filter(Boolean);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
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
