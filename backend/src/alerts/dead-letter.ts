import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { AlertPayload } from './payload';

/** One undeliverable alert, as stored (one JSON object per line). */
export interface DeadLetter {
  /** When it was given up on (ISO 8601). */
  at: string;
  /** Sink kind and host/exchange (never a URL path or key). */
  sink: string;
  alertId: string;
  event: string;
  attempts: number;
  /** Why the last attempt failed (or "shutdown" / "overflow"). */
  error: string;
  payload: AlertPayload;
}

/** File name of the dead-letter store under SENTINEL_DATA_DIR. */
export const DEAD_LETTER_FILE = 'alerts-dead-letter.jsonl';

/**
 * Dead-letter store for alerts that could not be delivered: a JSONL file under the data directory
 * (`alerts-dead-letter.jsonl`), appended one line per alert and sink, so an operator can read, grep or
 * replay them. Writes are serialised so lines never interleave. Payloads are the redacted alert payloads;
 * no sink URL or key is written.
 */
export class DeadLetterStore {
  readonly path: string;
  private chain: Promise<void> = Promise.resolve();

  constructor(dataDir: string, file = DEAD_LETTER_FILE) {
    this.path = join(dataDir, file);
  }

  append(entry: DeadLetter): Promise<void> {
    const line = JSON.stringify(entry) + '\n';
    const write = this.chain.then(async () => {
      await mkdir(dirname(this.path), { recursive: true });
      await appendFile(this.path, line, 'utf8');
    });
    // A failed write must not wedge the ones after it.
    this.chain = write.catch(() => {});
    return write;
  }

  /** Everything stored so far (for operators and tests). */
  async readAll(): Promise<DeadLetter[]> {
    await this.chain;
    try {
      const text = await readFile(this.path, 'utf8');
      return text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as DeadLetter);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }
}
