import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DataDirInUseError } from './errors';
import type { Logger } from './logger';

/** Held by the running instance: an SQLite file locked exclusively for as long as the process has it open. */
export const LOCK_FILE = 'sentinel.lock';
/** Who holds the lock (`<pid> <host>`), for the message of an instance refused; removed at a clean shutdown. */
export const PID_FILE = 'sentinel.pid';

/** The data directory held by this process (see {@link lockDataDir}). */
export interface DataDirLock {
  /** Lets the next instance in (at the end of a clean shutdown). Idempotent. */
  release(): void;
}

/**
 * Takes the data directory for this instance, or throws DataDirInUseError naming the pid that has it: two
 * instances on one directory are two writers on sentinel.db and series-state.db, each overwriting the other's
 * saved state. The lock is the kernel's (a POSIX lock, through SQLite's exclusive locking mode), so it goes
 * with the process however it ends: a kill -9 leaves nothing that blocks the next start, and a recycled pid
 * cannot hold it. The pid file is only there to say who holds it; found at start without a holder, it was left
 * by an instance that did not shut down cleanly, which is logged. The lock file itself stays (removing a lock
 * file lets two instances lock two different files).
 */
export function lockDataDir(dataDir: string, log: Logger): DataDirLock {
  mkdirSync(dataDir, { recursive: true });
  const pidFile = join(dataDir, PID_FILE);
  let db: Database.Database;
  try {
    db = openLocked(join(dataDir, LOCK_FILE));
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_BUSY') throw new DataDirInUseError(dataDir, readHolder(pidFile), err);
    throw err;
  }
  const left = readHolder(pidFile);
  if (left) log.warn({ dataDir, pid: left.pid, host: left.host }, `the data directory was held by an instance that did not shut down cleanly (pid ${left.pid}); taken over`);
  writeFileSync(pidFile, `${process.pid} ${hostname()}\n`);
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      rmSync(pidFile, { force: true });
      db.close();
    },
  };
}

/** The lock file opened and locked exclusively (SQLITE_BUSY when another connection, in any process, has it). */
function openLocked(file: string): Database.Database {
  const db = new Database(file, { timeout: 0 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // The first write takes the exclusive lock, and in this mode it is kept until the connection closes.
    db.exec('BEGIN EXCLUSIVE; COMMIT');
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The holder recorded in the pid file, or null when there is none (or it does not parse). */
function readHolder(pidFile: string): { pid: number; host: string } | null {
  let text: string;
  try {
    text = readFileSync(pidFile, 'utf8');
  } catch {
    return null;
  }
  const [pid, host = ''] = text.trim().split(/\s+/);
  return /^\d+$/.test(pid ?? '') ? { pid: Number(pid), host } : null;
}

/** The file system calls {@link DataDirWatch} makes (tests pass stubs). */
export type DataDirFs = Pick<typeof import('node:fs'), 'statSync' | 'accessSync'>;

/**
 * What /api/v1/health checks of the data directory. SQLite goes on writing to files it has open even after
 * they (or the whole directory) are deleted or replaced, and `SELECT 1` answers from a read-only disk: the
 * store looked healthy while everything it wrote was bound to vanish at the next start. Each probe is a
 * stat and an access check per file (microseconds): the directory and the given files must still be the
 * ones opened at start (same device and inode) and writable.
 */
export class DataDirWatch {
  private readonly watched: { name: string; path: string; dev: number; ino: number }[] = [];

  /** `files`: names in `dataDir` opened by the service; those that do not exist now are not watched. */
  constructor(
    readonly dataDir: string,
    files: readonly string[],
    private readonly fs: DataDirFs = { statSync, accessSync },
  ) {
    const dir = fs.statSync(dataDir);
    this.watched.push({ name: 'the data directory', path: dataDir, dev: dir.dev, ino: dir.ino });
    for (const name of files) {
      const path = join(dataDir, name);
      const st = fs.statSync(path, { throwIfNoEntry: false });
      if (st) this.watched.push({ name, path, dev: st.dev, ino: st.ino });
    }
  }

  /** What is wrong with the data directory, for health (names files, not the directory's path), or null. */
  problem(): string | null {
    for (const w of this.watched) {
      const st = this.fs.statSync(w.path, { throwIfNoEntry: false });
      if (!st) return `${w.name} (SENTINEL_DATA_DIR) was deleted while the service runs: what it writes is lost at the next start`;
      if (st.dev !== w.dev || st.ino !== w.ino) return `${w.name} (SENTINEL_DATA_DIR) was replaced while the service runs: it still writes to the one it opened, lost at the next start`;
      try {
        this.fs.accessSync(w.path, constants.W_OK);
      } catch (err) {
        return `${w.name} (SENTINEL_DATA_DIR) is not writable (${(err as NodeJS.ErrnoException).code ?? 'unknown'})`;
      }
    }
    return null;
  }
}
