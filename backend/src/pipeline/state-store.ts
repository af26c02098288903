import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';
import { deserialize, serialize } from 'node:v8';
import Database from 'better-sqlite3';
import { ScoreReservoir } from '../detectors/calibration';
import { WindowAccumulator } from '../windowing/features';
import type { SeriesPoint } from '../domain/types';
import type { OpenWindow } from '../windowing/windower';
import { RingMatrix } from './ring';
import { SeriesState, learntWindows } from './series-state';
import { SustainedScore } from './sustained';
import { DailyEnvelope } from './envelope';

/**
 * Format of a saved series state. Bump it when SeriesState (or anything it holds) changes shape: a row of
 * another version is ignored, and that series re-warms as after a first start.
 */
export const STATE_FORMAT = 1;

/** Row key of the pooled calibration (the prior of young series), next to the per-series rows. */
const POOLED_KEY = '\u0000pooled';
/** saveValue name of the event time the open windows were saved at. */
const OPEN_WINDOWS_EVENT_TIME = 'open_windows_event_time';
const QUEUED_POINTS = 'queued_points';

/**
 * A series' in-memory state (baselines, calibration, detector state, hold-off, quarantine, score timeline)
 * as bytes: V8's structured serialisation, which keeps typed arrays and Maps as they are. Classes come back
 * as plain objects and get their prototypes again in {@link decodeSeriesState}.
 */
export function encodeSeriesState(state: SeriesState): Buffer {
  return serialize({ v: STATE_FORMAT, state });
}

/** The series state saved by {@link encodeSeriesState}, or null for another format version. */
export function decodeSeriesState(bytes: Buffer): SeriesState | null {
  const saved = deserialize(bytes) as { v?: number; state?: SeriesState };
  if (saved?.v !== STATE_FORMAT || !saved.state) return null;
  const s = Object.setPrototypeOf(saved.state, SeriesState.prototype) as SeriesState;
  Object.setPrototypeOf(s.history, RingMatrix.prototype);
  if (s.sustained) Object.setPrototypeOf(s.sustained, SustainedScore.prototype);
  if (s.envelope) Object.setPrototypeOf(s.envelope, DailyEnvelope.prototype);
  for (const r of s.calibration.values()) Object.setPrototypeOf(r, ScoreReservoir.prototype);
  return s;
}

/** What GET /api/v1/series shows of a series whose state is on disk only (see SeriesStateStore.dormant). */
export interface DormantSummary {
  key: string;
  labels: SeriesState['labels'];
  kind: SeriesState['kind'];
  features: readonly string[];
  windowsSeen: number;
  /** SeriesState.learntWindows (absent in rows saved before it existed). */
  learntWindows?: number;
  lastSeen: number;
  lastScore: number;
}

/**
 * Where series state survives a restart: `series-state.db` (SQLite) in the data directory, one row per series,
 * written in one transaction per flush. It is separate from the vector store, so it works the same with
 * Qdrant. Without it every series re-learns its baselines after a deploy (20 windows before it alerts, 500
 * points before the range, stuck and level rules have an opinion).
 *
 * A row is dormant when its series went quiet and its state left memory (Pipeline: a key or user that is
 * gone); dormant rows are not loaded at start, only when their series comes back ({@link revive}), and
 * carry a small JSON summary so listings need not decode them.
 */
export class SeriesStateStore {
  private readonly db: Database.Database;
  private readonly upsert: Database.Statement<[string, Buffer, number, number, string, number]>;
  private readonly putMeta: Database.Statement<[string, string]>;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.exec('CREATE TABLE IF NOT EXISTS series_state (key TEXT PRIMARY KEY, state BLOB NOT NULL, updated_ms INTEGER NOT NULL)');
    this.db.exec('CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)');
    // Added after the first release: files written before get the columns here (rows: not dormant).
    const columns = new Set((this.db.prepare('PRAGMA table_info(series_state)').all() as { name: string }[]).map((c) => c.name));
    if (!columns.has('dormant')) this.db.exec('ALTER TABLE series_state ADD COLUMN dormant INTEGER NOT NULL DEFAULT 0');
    if (!columns.has('summary')) this.db.exec('ALTER TABLE series_state ADD COLUMN summary TEXT');
    if (!columns.has('last_seen_ms')) this.db.exec('ALTER TABLE series_state ADD COLUMN last_seen_ms INTEGER');
    this.upsert = this.db.prepare(
      `INSERT INTO series_state (key, state, updated_ms, dormant, summary, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET state = excluded.state, updated_ms = excluded.updated_ms, dormant = excluded.dormant,
         summary = excluded.summary, last_seen_ms = excluded.last_seen_ms`,
    );
    this.db.exec('CREATE TABLE IF NOT EXISTS open_windows (key TEXT NOT NULL, start INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (key, start))');
    // Series whose state was dropped for new settings ({@link adopt}): their patterns are still to delete.
    this.db.exec('CREATE TABLE IF NOT EXISTS superseded (key TEXT PRIMARY KEY)');
    this.putMeta = this.db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value');
  }

  /**
   * The store of the data directory. A damaged file (truncated, overwritten: SQLite says corrupt or not a
   * database) is learnt state, not data: it is moved aside to `series-state.db.damaged-<time>` and the
   * service starts afresh (every series re-warms), as with state of another format, instead of failing
   * every start with a stack (QA). `onDamaged` hears where it went.
   */
  static inDataDir(dataDir: string, onDamaged?: (file: string, movedTo: string, err: unknown) => void): SeriesStateStore {
    const file = path.join(dataDir, 'series-state.db');
    let store: SeriesStateStore | null = null;
    try {
      store = new SeriesStateStore(file);
      store.verify();
      return store;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code !== 'SQLITE_CORRUPT' && code !== 'SQLITE_NOTADB') throw err;
      try {
        store?.close();
      } catch {
        // closing a damaged file may fail too; it is moved aside either way
      }
      const movedTo = `${file}.damaged-${Date.now()}`;
      for (const ext of ['', '-wal', '-shm']) if (existsSync(file + ext)) renameSync(file + ext, movedTo + ext);
      onDamaged?.(file, movedTo, err);
      return new SeriesStateStore(file);
    }
  }

  /** Reads every table's rows once (keys only): a damaged file fails here, at start, not at the first save. */
  private verify(): void {
    this.db.prepare('SELECT count(*) FROM series_state').get();
    this.db.prepare('SELECT count(*) FROM open_windows').get();
    this.db.prepare('SELECT count(*) FROM meta').get();
  }

  /**
   * Keeps the saved states only if they were learnt under the same `fingerprint` (the settings that give a
   * window and a series key their meaning): a history of 1-minute windows is no baseline for 5-minute
   * ones. Otherwise every row is dropped and the fingerprint recorded. Returns whether the rows were kept.
   */
  adopt(fingerprint: string): boolean {
    const row = this.db.prepare("SELECT value FROM meta WHERE name = 'fingerprint'").get() as { value: string } | undefined;
    if (row?.value === fingerprint) return true;
    this.db.transaction(() => {
      // Their patterns were learnt under the old settings too (windows of another length, or other keys that
      // nothing would ever prune): listed here, in the same transaction, until deleted (see supersededKeys).
      this.db.prepare('INSERT OR IGNORE INTO superseded (key) SELECT key FROM series_state WHERE key != ?').run(POOLED_KEY);
      this.db.exec('DELETE FROM series_state');
      this.db.exec('DELETE FROM open_windows');
      this.saveValue(QUEUED_POINTS, []);
      this.putMeta.run('fingerprint', fingerprint);
    })();
    return row === undefined;
  }

  /** Series whose state {@link adopt} dropped and whose patterns are not deleted yet. */
  supersededKeys(): string[] {
    return (this.db.prepare('SELECT key FROM superseded').all() as { key: string }[]).map((r) => r.key);
  }

  /** `key`'s old patterns are deleted. */
  supersededDone(key: string): void {
    this.db.prepare('DELETE FROM superseded WHERE key = ?').run(key);
  }

  /**
   * Saves series states (and the pooled calibration, when given) in one transaction; `dormant` marks them as
   * states that have left memory (see {@link revive}).
   */
  save(states: Iterable<SeriesState>, pooled: ReadonlyMap<string, ScoreReservoir> | null, now = Date.now(), dormant = false): number {
    let n = 0;
    this.db.transaction(() => {
      for (const s of states) {
        this.upsert.run(s.key, encodeSeriesState(s), now, dormant ? 1 : 0, JSON.stringify(summaryOf(s)), s.lastSeen);
        n++;
      }
      if (pooled) this.upsert.run(POOLED_KEY, serialize({ v: STATE_FORMAT, pooled }), now, 0, 'null', 0);
    })();
    return n;
  }

  /**
   * The dormant state of series `key`, marked active again (its series is back), or null when there is none
   * (or it was saved in another format).
   */
  revive(key: string): SeriesState | null {
    const s = this.peek(key);
    if (s) this.db.prepare('UPDATE series_state SET dormant = 0 WHERE key = ?').run(key);
    return s;
  }

  /** The dormant state of series `key`, left dormant (to read, e.g. for POST /detect or a score query). */
  peek(key: string): SeriesState | null {
    const row = this.db.prepare('SELECT state FROM series_state WHERE key = ? AND dormant = 1').get(key) as { state: Buffer } | undefined;
    return row ? decodeSeriesState(row.state) : null;
  }

  /**
   * Summaries of the dormant series last seen at or after `since` (epoch ms), most recent first, at most
   * `limit`.
   */
  dormant(since = -Infinity, limit = Infinity): DormantSummary[] {
    const rows = this.db
      .prepare('SELECT summary FROM series_state WHERE dormant = 1 AND last_seen_ms >= ? ORDER BY last_seen_ms DESC LIMIT ?')
      .all(Number.isFinite(since) ? since : -Number.MAX_SAFE_INTEGER, Number.isFinite(limit) ? limit : -1) as { summary: string }[];
    return rows.map((r) => JSON.parse(r.summary) as DormantSummary);
  }

  /** How many series are dormant. */
  dormantCount(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM series_state WHERE dormant = 1').get() as { n: number }).n;
  }

  /**
   * Keys of the series that have been dormant since before `before` (epoch ms, the wall-clock time they
   * went to sleep), oldest first, at most `limit`: the ones {@link forget} may drop.
   */
  expiredDormant(before: number, limit: number): string[] {
    const rows = this.db
      .prepare('SELECT key FROM series_state WHERE dormant = 1 AND updated_ms < ? ORDER BY updated_ms LIMIT ?')
      .all(before, limit) as { key: string }[];
    return rows.map((r) => r.key);
  }

  /** Whether series `key` is dormant and went to sleep before `before` (see {@link forget}). */
  isExpired(key: string, before: number): boolean {
    return this.db.prepare('SELECT 1 FROM series_state WHERE key = ? AND dormant = 1 AND updated_ms < ?').get(key, before) !== undefined;
  }

  /**
   * Drops the saved state of series `key` if it is still dormant and went to sleep before `before`; returns
   * whether it did. A series that came back in the meantime is active again and kept.
   */
  forget(key: string, before: number): boolean {
    return this.db.prepare('DELETE FROM series_state WHERE key = ? AND dormant = 1 AND updated_ms < ?').run(key, before).changes > 0;
  }

  /** Rows {@link load} skipped because they did not decode. */
  unreadableRows = 0;

  /** Every saved series state of the current format that is not dormant, and the pooled calibration. */
  load(): { states: SeriesState[]; pooled: Map<string, ScoreReservoir> } {
    const states: SeriesState[] = [];
    let pooled = new Map<string, ScoreReservoir>();
    for (const row of this.db.prepare('SELECT key, state FROM series_state WHERE dormant = 0').iterate() as Iterable<{ key: string; state: Buffer }>) {
      // A row that does not decode (a damaged blob) is skipped: that series re-warms, the others are kept.
      try {
        if (row.key === POOLED_KEY) {
          const saved = deserialize(row.state) as { v?: number; pooled?: Map<string, ScoreReservoir> };
          if (saved?.v !== STATE_FORMAT || !saved.pooled) continue;
          for (const r of saved.pooled.values()) Object.setPrototypeOf(r, ScoreReservoir.prototype);
          pooled = saved.pooled;
          continue;
        }
        const s = decodeSeriesState(row.state);
        if (s) states.push(s);
      } catch {
        this.unreadableRows++;
      }
    }
    return { states, pooled };
  }

  /**
   * Saves the windows the service was in the middle of at shutdown (replacing any saved before), with the
   * event time they were taken at, for the next start to continue them.
   */
  saveOpenWindows(windows: readonly OpenWindow[], eventTime: number): void {
    const put = this.db.prepare('INSERT INTO open_windows (key, start, data) VALUES (?, ?, ?)');
    this.db.transaction(() => {
      this.db.exec('DELETE FROM open_windows');
      for (const w of windows) put.run(w.seriesKey, w.start, serialize({ v: STATE_FORMAT, w }));
      this.saveValue(OPEN_WINDOWS_EVENT_TIME, eventTime);
    })();
  }

  /** Reads and forgets the windows saved by {@link saveOpenWindows} (each is continued once). */
  takeOpenWindows(): { windows: OpenWindow[]; eventTime: number } {
    const windows: OpenWindow[] = [];
    this.db.transaction(() => {
      for (const row of this.db.prepare('SELECT data FROM open_windows ORDER BY start, key').iterate() as Iterable<{ data: Buffer }>) {
        const saved = deserialize(row.data) as { v?: number; w?: OpenWindow };
        if (saved?.v !== STATE_FORMAT || !saved.w) continue;
        Object.setPrototypeOf(saved.w.acc, WindowAccumulator.prototype);
        windows.push(saved.w);
      }
      this.db.exec('DELETE FROM open_windows');
    })();
    // Stays in meta until the next save replaces it; it means nothing without windows.
    return { windows, eventTime: (this.loadValue(OPEN_WINDOWS_EVENT_TIME) as number | null | undefined) ?? -Infinity };
  }

  /**
   * Saves the points accepted but not scored at shutdown (replacing any saved before), for the next start to
   * score first ({@link takeQueuedPoints}).
   */
  saveQueuedPoints(points: readonly SeriesPoint[]): void {
    this.saveValue(QUEUED_POINTS, points);
  }

  /** Reads and forgets the points saved by {@link saveQueuedPoints} (each is scored once). */
  takeQueuedPoints(): SeriesPoint[] {
    const points = (this.loadValue(QUEUED_POINTS) as SeriesPoint[] | undefined) ?? [];
    if (points.length) this.saveValue(QUEUED_POINTS, []);
    return points;
  }

  /** Saves a small JSON value under `name` (e.g. the alert dispatcher's memory), next to the series rows. */
  saveValue(name: string, value: unknown): void {
    this.putMeta.run(`value:${name}`, JSON.stringify(value));
  }

  /** The value saved under `name`, or undefined. */
  loadValue(name: string): unknown {
    const row = this.db.prepare('SELECT value FROM meta WHERE name = ?').get(`value:${name}`) as { value: string } | undefined;
    return row ? JSON.parse(row.value) : undefined;
  }

  close(): void {
    this.db.close();
  }
}

/** What listings show of a series (saved with a dormant row; GET /api/v1/series builds its items from it). */
export function summaryOf(s: SeriesState): DormantSummary {
  return { key: s.key, labels: s.labels, kind: s.kind, features: s.featureNames, windowsSeen: s.windowsSeen, learntWindows: learntWindows(s), lastSeen: s.lastSeen, lastScore: s.lastScore };
}
