import { accessSync, constants, createReadStream, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig, type Config } from './config';
import type { AnomalyRecord, LlmEvent } from './domain/types';
import { eventSchema } from './ingest/schema';
import { createLogger, type Logger } from './logger';
import { Pipeline } from './pipeline/pipeline';
import { FINISHED_SHARE, type Unscored } from './windowing/windower';
import { SqliteStore } from './store/sqlite-store';
import type { VectorStore } from './store/vector-store';
import { issuePath } from './ingest/parse';

/** Fields of the CSV event format that are numbers / booleans / lists. */
const NUMERIC = new Set(['inputTokens', 'outputTokens', 'latencyMs', 'ttftMs', 'costUsd']);

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
/** Spellings of a boolean cell; anything else stays a string, which validation refuses naming the field. */
const BOOLEAN: Record<string, boolean> = { true: true, false: false, '1': true, '0': false, yes: true, no: false };

/** One CSV line into an event-shaped object (header names are the event contract's field names). */
export function csvRecord(header: readonly string[], line: string): Record<string, unknown> {
  const cells = splitCsv(line);
  const out: Record<string, unknown> = {};
  header.forEach((h, i) => {
    const raw = cells[i];
    // A blank cell is a field not reported (a latency of "" or " " read as 0 ms dragged quantiles down: QA).
    const v = raw?.trim();
    if (v === undefined || v === '') return;
    if (h === 'timestamp') out[h] = /^\d+$/.test(v) ? Number(v) : v;
    // Decimal numbers only (Number('0x10') is 16); anything else stays a string, which validation names.
    else if (NUMERIC.has(h)) out[h] = DECIMAL.test(v) ? Number(v) : v;
    else if (h === 'cacheHit') out[h] = BOOLEAN[v.toLowerCase()] ?? v;
    else if (h === 'securityEvents') out[h] = v.split(';').filter(Boolean);
    else out[h] = v;
  });
  return out;
}

function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') (out.push(cur), (cur = ''));
    else cur += c;
  }
  out.push(cur);
  return out;
}

/** A CSV header that is not made of event field names: the whole file would be refused line by line. */
export class CsvHeaderError extends Error {}

const EVENT_FIELDS = new Set(Object.keys(eventSchema.shape));

/**
 * Streams events from an NDJSON or CSV file. A `.csv` file is CSV; otherwise the first line that is not
 * blank decides: a header naming a `timestamp` column and no `{` / `[` at its start is CSV, anything else is
 * NDJSON (so a bad first line is one invalid line, not a file read as CSV).
 * @throws CsvHeaderError when a CSV header names a column that is not an event field.
 */
export async function* readEvents(path: string, onInvalid: (line: number, field: string, message: string) => void): AsyncGenerator<LlmEvent> {
  const rl = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let header: string[] | null = null;
  let ndjson: boolean | null = path.toLowerCase().endsWith('.csv') ? false : null;
  let lineNo = 0;
  for await (const raw of rl) {
    lineNo++;
    const line = raw.trim();
    if (!line) continue;
    if (ndjson === null) {
      const names = /^[{[]/.test(line) ? [] : splitCsv(line).map((h) => h.trim());
      ndjson = !names.includes('timestamp');
    }
    if (!ndjson && header === null) {
      header = splitCsv(line).map((h) => h.trim());
      const unknown = header.filter((h) => !EVENT_FIELDS.has(h));
      if (unknown.length) throw new CsvHeaderError(`CSV header, line ${lineNo}: ${unknown.map((h) => `"${h}"`).join(', ')} not event field(s) (${[...EVENT_FIELDS].join(', ')})`);
      continue;
    }
    let obj: unknown;
    try {
      obj = ndjson ? JSON.parse(line) : csvRecord(header!, line);
    } catch {
      onInvalid(lineNo, '(line)', 'not valid JSON');
      continue;
    }
    const r = eventSchema.safeParse(obj);
    if (r.success) yield r.data;
    else onInvalid(lineNo, issuePath(r.error.issues[0].path), r.error.issues[0].message);
  }
}

export interface ReplayResult {
  anomalies: AnomalyRecord[];
  events: number;
  invalid: number;
  late: number;
  /** Windows scored. */
  windows: number;
  /**
   * Windows the input covered less than FINISHED_SHARE of (the first of a series when the input begins
   * inside it, the last when it ends inside it), and their events: not scored (a fraction of a window's
   * traffic would read as a drop).
   */
  unscored: Unscored;
  elapsedMs: number;
}

/**
 * Replays events through the same pipeline as the server, in event time (no wall clock), and returns the
 * anomalies found (final state of each incident, by start time). Events should be roughly time-ordered;
 * disorder within the lateness is absorbed, beyond it events count as late.
 */
export async function replay(
  events: AsyncIterable<LlmEvent> | Iterable<LlmEvent>,
  config: Readonly<Config>,
  log: Logger,
  opts: { store?: VectorStore; batchSize?: number; onInvalid?: () => number } = {},
): Promise<ReplayResult> {
  const t0 = performance.now();
  const store = opts.store ?? new SqliteStore(':memory:');
  if (!opts.store) await store.init();
  const pipeline = new Pipeline({ config, store, log, maxFutureMs: Infinity });
  const ids = new Set<string>();
  pipeline.onAnomaly((_event, record) => void ids.add(record.id));
  const batchSize = opts.batchSize ?? 5000;
  let batch: LlmEvent[] = [];
  let count = 0;
  let late = 0;
  const flush = async () => {
    late += pipeline.ingestEvents(batch).rejected.length;
    batch = [];
    await pipeline.idle();
  };
  for await (const e of events) {
    batch.push(e);
    count++;
    if (batch.length >= batchSize) await flush();
  }
  await flush();
  const atEnd = pipeline.endOfInput();
  const early = pipeline.windower.startedEarly;
  const unscored: Unscored = { windows: atEnd.windows + early.windows, events: atEnd.events + early.events };
  await pipeline.idle();
  const anomalies: AnomalyRecord[] = [];
  for (const id of ids) {
    const rec = await store.getAnomaly(id);
    if (rec) anomalies.push(rec);
  }
  anomalies.sort((a, b) => a.start.localeCompare(b.start) || a.id.localeCompare(b.id));
  let windows = 0;
  for (const s of pipeline.scorer.states.values()) windows += s.windowsSeen;
  if (!opts.store) await store.close();
  return { anomalies, events: count, invalid: opts.onInvalid?.() ?? 0, late, windows, unscored, elapsedMs: performance.now() - t0 };
}

/** Usage of `sentinel replay`: on stdout for --help, on stderr with a usage error. */
export const REPLAY_USAGE = `usage: sentinel replay --input FILE(.ndjson|.csv) [--out FILE]
  prints one anomaly per line as JSON (and writes them to --out FILE when given)
  exit status: 0 done; 1 no valid event in the input, or writing --out failed after the replay (e.g. the
  disk filled up); 2 usage (options; an unreadable --input; an --out that cannot be written, checked
  before the replay: in a missing directory, a directory, not writable; a CSV header naming a column that
  is no event field)`;

/** Why `path` cannot be read as an input file, or undefined. */
function inputProblem(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return 'is a directory';
    accessSync(path, constants.R_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
  }
}

/** Why `path` cannot be written as the output file (an existing file is replaced), or undefined. */
function outputProblem(path: string): string | undefined {
  try {
    if (statSync(path).isDirectory()) return 'is a directory';
    accessSync(path, constants.W_OK);
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return (err as Error).message;
  }
  const dir = dirname(resolve(path));
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? `no directory ${dir}` : (err as Error).message;
  }
}

/** `sentinel replay --input FILE [--out FILE]`. */
export async function replayCommand(argv: string[]): Promise<number> {
  let values: { input?: string; out?: string; help?: boolean };
  try {
    values = parseArgs({ args: argv, options: { input: { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    // parseArgs reports unknown options, a missing value and positionals as ERR_PARSE_ARGS_* TypeErrors.
    if (!(err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) throw err;
    process.stderr.write(`sentinel replay: ${(err as Error).message}\n${REPLAY_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${REPLAY_USAGE}\n`);
    return 0;
  }
  if (!values.input) {
    process.stderr.write(`sentinel replay: --input is required\n${REPLAY_USAGE}\n`);
    return 2;
  }
  // Checked before the replay: a bad --out used to fail after the anomalies were printed, with a stack (QA).
  for (const [flag, path, problemOf] of [['--input', values.input, inputProblem] as const, ['--out', values.out, outputProblem] as const]) {
    const problem = path === undefined ? undefined : problemOf(path);
    if (problem) {
      process.stderr.write(`sentinel replay: ${flag} ${path}: ${problem}\n`);
      return 2;
    }
  }
  const log = createLogger(process.env.SENTINEL_LOG_LEVEL ?? 'warn', undefined);
  const config = loadConfig(process.env, (m) => log.warn(m));
  let invalid = 0;
  let result: ReplayResult;
  try {
    result = await replay(
      readEvents(values.input, (line, field, message) => {
        invalid++;
        if (invalid <= 20) process.stderr.write(`line ${line}: ${field}: ${message}\n`);
      }),
      config,
      log,
      { onInvalid: () => invalid },
    );
  } catch (err) {
    if (!(err instanceof CsvHeaderError)) throw err;
    process.stderr.write(`${err.message}\n`);
    return 2;
  }
  const lines = result.anomalies.map((a) => {
    const { vector: _v, ...rest } = a;
    return JSON.stringify(rest);
  });
  if (values.out) {
    // Before stdout, so a failure here (the disk filled up since the check) prints no anomalies as if done.
    try {
      writeFileSync(values.out, lines.join('\n') + (lines.length ? '\n' : ''));
    } catch (err) {
      process.stderr.write(`sentinel replay: cannot write --out ${values.out}: ${(err as Error).message}\n`);
      return 1;
    }
  }
  for (const l of lines) process.stdout.write(l + '\n');
  const secs = result.elapsedMs / 1000;
  process.stderr.write(
    `replayed ${result.events} events (${result.invalid} invalid, ${result.late} late) into ${result.windows} windows in ${secs.toFixed(2)} s ` +
      `(${Math.round(result.events / Math.max(secs, 1e-9))} events/s): ${result.anomalies.length} anomalies\n`,
  );
  if (result.unscored.windows) {
    process.stderr.write(
      `${result.unscored.windows} window(s) the input begins or ends inside of, covering less than ${FINISHED_SHARE * 100} % of them, ` +
        `are not scored (${result.unscored.events} events): part of a window's traffic would read as a drop\n`,
    );
  }
  if (result.events === 0 && result.invalid > 0) {
    process.stderr.write('no valid event in the input\n');
    return 1;
  }
  return 0;
}
