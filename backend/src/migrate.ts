import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from './config';
import { lockDataDir, type DataDirLock } from './data-dir';
import { DataDirInUseError, SentinelError } from './errors';
import type { Logger } from './logger';
import { QdrantStore } from './store/qdrant-store';
import { SqliteStore } from './store/sqlite-store';
import type { VectorStore } from './store/vector-store';

/** Usage of `sentinel migrate`, printed for --help and with a usage error. */
export const MIGRATE_USAGE = `Usage: sentinel migrate --from <sqlite|qdrant> --to <sqlite|qdrant> [options]

Copies every pattern and anomaly record (with its feedback) from one store to the other, in batches.
Writes are upserts by id, so running it again is harmless and resumes an interrupted copy.

Options:
  --batch-size N        records per read/write batch (default 500)
  --from-data-dir DIR   SQLite source directory (default SENTINEL_DATA_DIR, ./data)
  --to-data-dir DIR     SQLite target directory (default SENTINEL_DATA_DIR, ./data)
  --from-prefix NAME    Qdrant source collection prefix (default sentinel)
  --to-prefix NAME      Qdrant target collection prefix (default sentinel)
Qdrant is reached at SENTINEL_QDRANT_URL (with SENTINEL_QDRANT_API_KEY when set).

A SQLite data directory (source or target) is taken as \`sentinel serve\` takes it: one held by a running
service is refused (stop the service first), and a service started meanwhile is refused.

Exit codes: 0 done, 1 failed (run it again), 2 usage or configuration error, 69 a data directory is in
use by a running sentinel (the message names its pid; nothing was copied).`;

type Kind = 'sqlite' | 'qdrant';

class UsageError extends Error {}

interface Side {
  kind: Kind;
  /** Where, for messages: a directory or a collection prefix (never a URL, which may hold credentials). */
  where: string;
  /** The SQLite data directory, taken (see lockDataDir) before the store is opened. */
  dataDir?: string;
  /** The option naming it, for messages. */
  option?: string;
  open(): VectorStore;
}

function kindOf(value: string | undefined, flag: string): Kind {
  if (value === 'sqlite' || value === 'qdrant') return value;
  throw new UsageError(value === undefined ? `${flag} is required` : `${flag} must be sqlite or qdrant, not "${value}"`);
}

/**
 * `sentinel migrate --from sqlite --to qdrant` (or back): copies patterns and anomaly records between
 * stores in batches with progress lines, idempotently. `argv` are the arguments after `migrate` (a
 * leading "migrate" is tolerated). Returns the exit code: 0 done, 1 failed, 2 usage or configuration, 69 a
 * SQLite data directory is held by a running sentinel.
 */
export async function runMigrate(argv: string[], env: Record<string, string | undefined>, log: Logger): Promise<number> {
  let from: Side;
  let to: Side;
  let batchSize: number;
  try {
    const { values, positionals } = parseArgs({
      args: argv[0] === 'migrate' ? argv.slice(1) : argv,
      options: {
        from: { type: 'string' },
        to: { type: 'string' },
        'batch-size': { type: 'string' },
        'from-data-dir': { type: 'string' },
        'to-data-dir': { type: 'string' },
        'from-prefix': { type: 'string' },
        'to-prefix': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: true,
    });
    if (values.help) {
      process.stdout.write(`${MIGRATE_USAGE}\n`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
    batchSize = values['batch-size'] === undefined ? 500 : Number(values['batch-size']);
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new UsageError('--batch-size must be an integer from 1 to 100000');
    const config = loadConfig(env, (m) => log.warn(m));
    const side = (kind: Kind, dir: string | undefined, prefix: string | undefined, role: 'from' | 'to'): Side => {
      if (kind === 'sqlite') {
        const dataDir = resolve(dir ?? config.dataDir);
        if (role === 'from' && !existsSync(join(dataDir, 'sentinel.db'))) throw new UsageError(`no SQLite store at ${join(dataDir, 'sentinel.db')} (--from-data-dir / SENTINEL_DATA_DIR)`);
        return { kind, where: dataDir, dataDir, option: `--${role}-data-dir`, open: () => SqliteStore.inDataDir(dataDir) };
      }
      const url = config.qdrantUrl;
      if (!url) throw new UsageError('SENTINEL_QDRANT_URL must be set to migrate from or to Qdrant');
      const collectionPrefix = prefix ?? 'sentinel';
      return { kind, where: `collections ${collectionPrefix}_*`, open: () => new QdrantStore({ url, apiKey: config.qdrantApiKey, collectionPrefix, log }) };
    };
    from = side(kindOf(values.from, '--from'), values['from-data-dir'], values['from-prefix'], 'from');
    to = side(kindOf(values.to, '--to'), values['to-data-dir'], values['to-prefix'], 'to');
    if (from.kind === to.kind && from.where === to.where) throw new UsageError(`--from and --to are the same store (${from.kind}, ${from.where})`);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof SentinelError) && !(err instanceof TypeError)) throw err;
    // parseArgs reports unknown or malformed options as TypeErrors with a readable message. Said once, in
    // plain text (a JSON log line repeating it too was noise, QA).
    process.stderr.write(`sentinel migrate: ${err.message}\n\n${MIGRATE_USAGE}\n`);
    return 2;
  }

  // Both SQLite sides are written (the source too: opening a store creates or upgrades its schema), and a
  // running service on the directory is a second writer on sentinel.db: take it as serve does, or refuse.
  const locks: DataDirLock[] = [];
  const release = () => {
    for (const l of locks.splice(0)) l.release();
  };
  for (const side of [from, to]) {
    if (side.dataDir === undefined) continue;
    try {
      locks.push(lockDataDir(side.dataDir, log));
    } catch (err) {
      release();
      if (err instanceof DataDirInUseError) {
        log.fatal(
          { option: side.option, variable: 'SENTINEL_DATA_DIR', dataDir: err.dataDir, pid: err.holder?.pid },
          `migrate: data directory ${err.dataDir} is in use by another sentinel (${err.who}): stop it first, two writers on sentinel.db would overwrite each other; nothing was copied`,
        );
        return 69; // EX_UNAVAILABLE, as serve
      }
      log.error({ err: (err as Error).message, dataDir: side.dataDir }, 'migrate: failed; the data directory could not be taken');
      return 1;
    }
  }

  let source: VectorStore | undefined;
  let target: VectorStore | undefined;
  const t0 = Date.now();
  // Whether copying began: a store that cannot be opened (a damaged file, a wrong URL) is not fixed by a rerun.
  let copying = false;
  try {
    source = from.open();
    target = to.open();
    await source.init();
    await target.init();
    copying = true;
    log.info({ from: `${from.kind} (${from.where})`, to: `${to.kind} (${to.where})`, batchSize }, 'migrate: starting');

    const totalPatterns = await source.countPatterns();
    let patterns = 0;
    for await (const batch of source.scanPatterns(batchSize)) {
      await target.upsertPatterns(batch);
      patterns += batch.length;
      log.info({ phase: 'patterns', copied: patterns, total: totalPatterns }, `migrate: patterns ${patterns}/${totalPatterns}`);
    }

    let anomalies = 0;
    let feedback = 0;
    for await (const batch of source.scanAnomalies(batchSize)) {
      for (const record of batch) {
        await target.saveAnomaly(record);
        // Feedback goes through saveFeedback so the target's verdict counts (the FP-rate metric) agree.
        if (record.feedback) {
          await target.saveFeedback(record.id, record.feedback);
          feedback++;
        }
      }
      anomalies += batch.length;
      log.info({ phase: 'anomalies', copied: anomalies }, `migrate: anomalies ${anomalies}`);
    }

    const [targetPatterns, srcCounts, dstCounts] = await Promise.all([target.countPatterns(), source.feedbackCounts(), target.feedbackCounts()]);
    if (targetPatterns < patterns) throw new Error(`target holds ${targetPatterns} patterns after copying ${patterns}`);
    if (dstCounts.true_positive < srcCounts.true_positive || dstCounts.false_positive < srcCounts.false_positive) {
      log.warn({ source: srcCounts, target: dstCounts }, 'migrate: the source counts feedback on records whose saved state has none; those verdicts were not copied');
    }
    log.info({ patterns, anomalies, feedback, targetPatterns, seconds: (Date.now() - t0) / 1000 }, 'migrate: done');
    return 0;
  } catch (err) {
    const what = copying ? 'migrate: failed; run it again to resume (writes are upserts)' : 'migrate: failed before copying anything: a store could not be opened (see err)';
    log.error({ err: (err as Error).message, code: (err as SentinelError).code }, what);
    return 1;
  } finally {
    await source?.close().catch(() => undefined);
    await target?.close().catch(() => undefined);
    release();
  }
}
