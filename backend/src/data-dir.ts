import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
