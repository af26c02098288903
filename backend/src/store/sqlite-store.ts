import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import * as sqliteVec from 'sqlite-vec';
import type { AnomalyPage, AnomalyQuery, AnomalyRecord, Feedback, Neighbour, Pattern, PatternKind, PatternMeta } from '../domain/types';
import { NotFoundError, StoreError, ValidationError } from '../errors';
import { decodeCursor, encodeCursor } from './cursor';
import { PatternPartition } from './pattern-index';
import { anomalyEndMs, type StoreHealth, type VectorStore } from './vector-store';

type Db = Database.Database;

/** Vectors per vec0 chunk (see vecTable). A multiple of 8, as vec0 requires. */
const VEC_CHUNK = 128;
/** Options of the {@link SqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Memory for in-memory copies of pattern partitions (searched in process instead of through vec0).
   * Partitions are admitted as they are searched while they fit; beyond it, searches go to sqlite-vec.
   * 0 disables the copies. @default 536870912 (512 MiB: about 2.5 M patterns of 48 dimensions)
   */
  vectorCacheBytes?: number;
}

/** Key of a cached partition. */
const partitionKey = (dim: number, seriesKey: string, kind: PatternKind) => `${dim}\u0000${kind}\u0000${seriesKey}`;

/**
 * Embedded store: one SQLite file (WAL) with sqlite-vec. Patterns live in one vec0 virtual table per
 * vector dimension, partitioned by series key so a search only scans its own series; their metadata in
 * an ordinary table. Anomaly records are JSON with indexed columns for the API filters.
 *
 * better-sqlite3 is synchronous; the methods are async only to satisfy the shared interface.
 */
export class SqliteStore implements VectorStore {
  readonly kind = 'sqlite';
  private db: Db;
  private readonly vecTables = new Set<number>();
  private readonly stmts = new Map<string, Database.Statement>();
  /** In-memory copies of searched partitions, kept in step with every write (see pattern-index.ts). */
  private readonly partitions = new Map<string, PatternPartition>();
  /** Partitions too large for what was left of the budget when first searched: served by sqlite-vec. */
  private readonly refused = new Set<string>();
  private cachedBytes = 0;
  private readonly cacheLimit: number;

  /** `path` is a file path or ":memory:". */
  constructor(
    readonly path: string,
    opts: SqliteStoreOptions = {},
  ) {
    this.cacheLimit = opts.vectorCacheBytes ?? 512 * 2 ** 20;
    try {
      this.db = new Database(path);
      sqliteVec.load(this.db);
    } catch (err) {
      throw new StoreError(`cannot open SQLite store at ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Store under `dataDir` (created if missing): `<dataDir>/sentinel.db`. */
  static inDataDir(dataDir: string): SqliteStore {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteStore(join(dataDir, 'sentinel.db'));
  }

  async init(): Promise<void> {
    try {
      this.createSchema();
    } catch (err) {
      // A truncated or overwritten file fails here, on the first read: name the file (a bare SqliteError
      // stack did not say which one), and say what to do, since anomaly records live only in it.
      const code = (err as { code?: unknown }).code;
      const damaged = code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB';
      const hint = damaged ? ' (the file is damaged: restore it from a backup, or move it aside to start without its patterns and anomaly records)' : '';
      throw new StoreError(`cannot open SQLite store at ${this.path}: ${(err as Error).message}${hint}`, { cause: err });
    }
  }

  private createSchema(): void {
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS patterns (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        series_key TEXT NOT NULL,
        kind TEXT NOT NULL,
        ts INTEGER NOT NULL,
        dim INTEGER NOT NULL,
        meta TEXT
      );
      CREATE INDEX IF NOT EXISTS patterns_series_ts ON patterns(series_key, kind, ts);
      CREATE TABLE IF NOT EXISTS anomalies (
        id TEXT PRIMARY KEY,
        series_key TEXT NOT NULL,
        service TEXT,
        start_ms INTEGER NOT NULL,
        end_ms INTEGER,
        severity TEXT NOT NULL,
        type TEXT NOT NULL,
        record TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS anomalies_start ON anomalies(start_ms DESC, id DESC);
      CREATE TABLE IF NOT EXISTS feedback (
        anomaly_id TEXT PRIMARY KEY,
        verdict TEXT NOT NULL,
        note TEXT,
        at TEXT NOT NULL
      );
    `);
    this.addAnomalyEnds();
    for (const row of this.db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'patterns_vec_%'").all() as { name: string }[]) {
      const dim = Number(/^patterns_vec_(\d+)$/.exec(row.name)?.[1]);
      if (dim > 0) this.vecTables.add(dim);
    }
  }

  /**
   * Databases from before `end_ms` (time filters used to match an incident's start only, so a dashboard
   * range missed the incidents still running in it that began earlier) get the column, filled from the
   * records, once.
   */
  private addAnomalyEnds(): void {
    const columns = this.db.prepare('PRAGMA table_info(anomalies)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'end_ms')) this.db.exec('ALTER TABLE anomalies ADD COLUMN end_ms INTEGER');
    // In batches: a large history must not be read into memory at once.
    type Row = { id: string; start_ms: number; record: string };
    const batch = this.db.prepare('SELECT id, start_ms, record FROM anomalies WHERE end_ms IS NULL LIMIT 1000');
    const set = this.db.prepare('UPDATE anomalies SET end_ms = ? WHERE id = ?');
    const fill = this.db.transaction((rows: Row[]) => {
      for (const r of rows) {
        const end = anomalyEndMs(JSON.parse(r.record) as AnomalyRecord);
        set.run(Number.isFinite(end) ? end : r.start_ms, r.id);
      }
    });
    for (let rows = batch.all() as Row[]; rows.length; rows = batch.all() as Row[]) fill(rows);
    this.db.exec('CREATE INDEX IF NOT EXISTS anomalies_end ON anomalies(end_ms)');
  }

  private stmt(sql: string): Database.Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private vecTable(dim: number): string {
    if (!Number.isInteger(dim) || dim <= 0 || dim > 8192) throw new ValidationError(`vector dimension ${dim} is out of range`, { field: 'vector' });
    const name = `patterns_vec_${dim}`;
    if (!this.vecTables.has(dim)) {
      // Each partition (series) takes whole chunks: at vec0's default of 1,024 vectors one costs 196 KB of
      // disk at 48 dimensions however few patterns the series has (3,000 series of 27 patterns: 660 MB).
      // At 128, 30 KB per such series; a full 10k partition scans ~15 % slower through vec0 (the in-memory
      // copies are the usual search path). Tables made before keep their chunk size.
      this.db.exec(`CREATE VIRTUAL TABLE IF NOT EXISTS ${name} USING vec0(series_key TEXT PARTITION KEY, kind TEXT, embedding float[${dim}], chunk_size=${VEC_CHUNK})`);
      this.vecTables.add(dim);
    }
    return name;
  }

  async upsertPatterns(patterns: Pattern[]): Promise<void> {
    if (patterns.length === 0) return;
    // What changed, in order (an id may be replaced twice in one batch), for the in-memory copies.
    const changes: ({ removed: { rowid: number; dim: number; seriesKey: string; kind: PatternKind } } | { added: { rowid: number; p: Pattern; meta: string | null } })[] = [];
    const tx = this.db.transaction((batch: Pattern[]) => {
      for (const p of batch) {
        const table = this.vecTable(p.vector.length);
        const old = this.stmt('SELECT rowid, dim, series_key, kind FROM patterns WHERE id = ?').get(p.id) as
          | { rowid: number; dim: number; series_key: string; kind: PatternKind }
          | undefined;
        if (old) {
          this.stmt(`DELETE FROM ${this.vecTable(old.dim)} WHERE rowid = ?`).run(BigInt(old.rowid));
          this.stmt('DELETE FROM patterns WHERE rowid = ?').run(old.rowid);
          changes.push({ removed: { rowid: old.rowid, dim: old.dim, seriesKey: old.series_key, kind: old.kind } });
        }
        const meta = p.meta ? JSON.stringify(p.meta) : null;
        const info = this.stmt('INSERT INTO patterns (id, series_key, kind, ts, dim, meta) VALUES (?, ?, ?, ?, ?, ?)').run(
          p.id,
          p.seriesKey,
          p.kind,
          Math.round(p.timestamp),
          p.vector.length,
          meta,
        );
        const rowid = Number(info.lastInsertRowid);
        this.stmt(`INSERT INTO ${table} (rowid, series_key, kind, embedding) VALUES (?, ?, ?, ?)`).run(
          BigInt(rowid),
          p.seriesKey,
          p.kind,
          Buffer.from(p.vector.buffer, p.vector.byteOffset, p.vector.byteLength),
        );
        changes.push({ added: { rowid, p, meta } });
      }
    });
    tx(patterns);
    // Only after the commit: a failed transaction leaves the copies as untouched as the file.
    if (this.partitions.size === 0) return;
    for (const c of changes) {
      if ('removed' in c) {
        const r = c.removed;
        this.dropFromCache(r.dim, r.seriesKey, r.kind, new Set([r.rowid]));
        continue;
      }
      const { rowid, p, meta } = c.added;
      const part = this.partitions.get(partitionKey(p.vector.length, p.seriesKey, p.kind));
      if (!part) continue;
      const before = part.bytes;
      part.append(rowid, p.id, Math.round(p.timestamp), p.vector, meta);
      this.cachedBytes += part.bytes - before;
    }
  }

  private dropFromCache(dim: number, seriesKey: string, kind: PatternKind, rowids: ReadonlySet<number>): void {
    const part = this.partitions.get(partitionKey(dim, seriesKey, kind));
    if (!part) return;
    const before = part.bytes;
    part.remove(rowids);
    this.cachedBytes += part.bytes - before;
  }

  /**
   * The in-memory copy of a partition, loaded from the file on its first search if it fits in the
   * budget; undefined when it does not (the search then goes to sqlite-vec).
   */
  private cachedPartition(dim: number, seriesKey: string, kind: PatternKind): PatternPartition | undefined {
    const key = partitionKey(dim, seriesKey, kind);
    const hit = this.partitions.get(key);
    if (hit || this.cachedBytes >= this.cacheLimit || this.refused.has(key)) return hit;
    const n = (this.stmt('SELECT count(*) AS n FROM patterns WHERE series_key = ? AND kind = ? AND dim = ?').get(seriesKey, kind, dim) as { n: number }).n;
    const part = new PatternPartition(dim, Math.max(64, Math.ceil(n * 1.25)));
    if (this.cachedBytes + part.bytes > this.cacheLimit) {
      this.refused.add(key);
      return undefined;
    }
    const rows = this.stmt(
      `SELECT p.rowid AS rowid, p.id AS id, p.ts AS ts, p.meta AS meta, v.embedding AS embedding
       FROM patterns p JOIN patterns_vec_${dim} v ON v.rowid = p.rowid
       WHERE p.series_key = ? AND p.kind = ? AND p.dim = ? ORDER BY p.rowid`,
    ).iterate(seriesKey, kind, dim) as IterableIterator<{ rowid: number; id: string; ts: number; meta: string | null; embedding: Buffer }>;
    for (const r of rows) {
      part.append(r.rowid, r.id, r.ts, new Float32Array(r.embedding.buffer, r.embedding.byteOffset, dim), r.meta);
    }
    this.partitions.set(key, part);
    this.cachedBytes += part.bytes;
    return part;
  }

  /** Bytes of the in-memory partition copies (against the `vectorCacheBytes` budget). */
  get vectorCacheUsed(): number {
    return this.cachedBytes;
  }

  /**
   * Drops the in-memory copies of a quiet series' partitions: with series keyed by user or API key, the
   * budget would otherwise fill with series that are gone, and every later series would search through
   * sqlite-vec. Partitions refused for want of room may be cached again.
   */
  releaseSeries(seriesKey: string): void {
    let freed = false;
    for (const kind of ['normal', 'incident'] as const) {
      for (const dim of this.vecTables) {
        const key = partitionKey(dim, seriesKey, kind);
        const part = this.partitions.get(key);
        this.refused.delete(key);
        if (!part) continue;
        this.partitions.delete(key);
        this.cachedBytes -= part.bytes;
        freed = true;
      }
    }
    if (freed) this.refused.clear();
  }

  async searchPatterns(seriesKey: string, vector: Float32Array, k: number, kind: PatternKind = 'normal'): Promise<Neighbour[]> {
    const dim = vector.length;
    if (!this.vecTables.has(dim) || k <= 0) return [];
    const part = this.cachedPartition(dim, seriesKey, kind);
    if (part) {
      return part.search(vector, Math.min(k, 4096)).map((h) => {
        const meta = part.metas[h.position];
        return {
          id: part.ids[h.position],
          distance: h.distance,
          timestamp: part.timestamps[h.position],
          kind,
          ...(meta ? { meta: JSON.parse(meta) as PatternMeta } : {}),
        };
      });
    }
    const rows = this.stmt(
      `SELECT p.id, p.ts, p.kind, p.meta, v.distance FROM (
         SELECT rowid, distance FROM patterns_vec_${dim}
         WHERE embedding MATCH ? AND series_key = ? AND kind = ? AND k = ?
       ) v JOIN patterns p ON p.rowid = v.rowid ORDER BY v.distance`,
    ).all(Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength), seriesKey, kind, Math.min(k, 4096)) as {
      id: string;
      ts: number;
      kind: PatternKind;
      meta: string | null;
      distance: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      distance: r.distance,
      timestamp: r.ts,
      kind: r.kind,
      ...(r.meta ? { meta: JSON.parse(r.meta) as PatternMeta } : {}),
    }));
  }

  async countPatterns(filter: { seriesKey?: string; kind?: PatternKind } = {}): Promise<number> {
    const where: string[] = [];
    const args: string[] = [];
    if (filter.seriesKey !== undefined) (where.push('series_key = ?'), args.push(filter.seriesKey));
    if (filter.kind !== undefined) (where.push('kind = ?'), args.push(filter.kind));
    const sql = `SELECT count(*) AS n FROM patterns${where.length ? ' WHERE ' + where.join(' AND ') : ''}`;
    return (this.stmt(sql).get(...args) as { n: number }).n;
  }

  async prunePatterns(seriesKey: string, kind: PatternKind, keep: number): Promise<number> {
    const victims = this.stmt(
      'SELECT rowid, dim FROM patterns WHERE series_key = ? AND kind = ? ORDER BY ts DESC, rowid DESC LIMIT -1 OFFSET ?',
    ).all(seriesKey, kind, keep) as { rowid: number; dim: number }[];
    if (victims.length === 0) return 0;
    const tx = this.db.transaction(() => {
      for (const v of victims) {
        this.stmt(`DELETE FROM ${this.vecTable(v.dim)} WHERE rowid = ?`).run(BigInt(v.rowid));
        this.stmt('DELETE FROM patterns WHERE rowid = ?').run(v.rowid);
      }
    });
    tx();
    if (this.partitions.size) {
      const byDim = new Map<number, Set<number>>();
      for (const v of victims) {
        let set = byDim.get(v.dim);
        if (!set) byDim.set(v.dim, (set = new Set()));
        set.add(v.rowid);
      }
      for (const [dim, rowids] of byDim) this.dropFromCache(dim, seriesKey, kind, rowids);
    }
    return victims.length;
  }

  async *scanPatterns(batchSize: number): AsyncIterable<Pattern[]> {
    let after = 0;
    for (;;) {
      const rows = this.stmt('SELECT rowid, id, series_key, kind, ts, dim, meta FROM patterns WHERE rowid > ? ORDER BY rowid LIMIT ?').all(after, batchSize) as {
        rowid: number;
        id: string;
        series_key: string;
        kind: PatternKind;
        ts: number;
        dim: number;
        meta: string | null;
      }[];
      if (rows.length === 0) return;
      const batch: Pattern[] = rows.map((r) => {
        const v = this.stmt(`SELECT embedding FROM ${this.vecTable(r.dim)} WHERE rowid = ?`).get(BigInt(r.rowid)) as { embedding: Buffer };
        const bytes = Uint8Array.from(v.embedding);
        return {
          id: r.id,
          seriesKey: r.series_key,
          kind: r.kind,
          timestamp: r.ts,
          vector: new Float32Array(bytes.buffer, 0, r.dim),
          ...(r.meta ? { meta: JSON.parse(r.meta) as PatternMeta } : {}),
        };
      });
      after = rows[rows.length - 1].rowid;
      yield batch;
    }
  }

  async saveAnomaly(record: AnomalyRecord): Promise<void> {
    this.stmt(
      `INSERT INTO anomalies (id, series_key, service, start_ms, end_ms, severity, type, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET end_ms = excluded.end_ms, severity = excluded.severity, type = excluded.type, record = excluded.record`,
    ).run(record.id, record.seriesKey, record.labels.service ?? null, Date.parse(record.start), anomalyEndMs(record), record.severity, record.type, JSON.stringify(record));
  }

  async getAnomaly(id: string): Promise<AnomalyRecord | null> {
    const row = this.stmt('SELECT record FROM anomalies WHERE id = ?').get(id) as { record: string } | undefined;
    return row ? (JSON.parse(row.record) as AnomalyRecord) : null;
  }

  async listAnomalies(q: AnomalyQuery): Promise<AnomalyPage> {
    const where: string[] = [];
    const args: (string | number)[] = [];
    // Incidents overlapping [from, to]: one still running at `from` counts, wherever it began.
    if (q.from !== undefined) (where.push('end_ms >= ?'), args.push(q.from));
    if (q.to !== undefined) (where.push('start_ms <= ?'), args.push(q.to));
    if (q.severity?.length) (where.push(`severity IN (${q.severity.map(() => '?').join(',')})`), args.push(...q.severity));
    if (q.service !== undefined) (where.push('service = ?'), args.push(q.service));
    if (q.type !== undefined) (where.push('type = ?'), args.push(q.type));
    if (q.seriesKey !== undefined) (where.push('series_key = ?'), args.push(q.seriesKey));
    if (q.cursor !== undefined) {
      const c = decodeCursor(q.cursor);
      where.push('(start_ms < ? OR (start_ms = ? AND id < ?))');
      args.push(c.t, c.t, c.id);
    }
    const sql = `SELECT id, start_ms, record FROM anomalies${where.length ? ' WHERE ' + where.join(' AND ') : ''} ORDER BY start_ms DESC, id DESC LIMIT ?`;
    const rows = this.db.prepare(sql).all(...args, q.limit + 1) as { id: string; start_ms: number; record: string }[];
    const more = rows.length > q.limit;
    const page = more ? rows.slice(0, q.limit) : rows;
    const last = page[page.length - 1];
    return {
      items: page.map((r) => JSON.parse(r.record) as AnomalyRecord),
      nextCursor: more && last ? encodeCursor({ t: last.start_ms, id: last.id }) : null,
    };
  }

  async *scanAnomalies(batchSize: number): AsyncIterable<AnomalyRecord[]> {
    let after = '';
    for (;;) {
      const rows = this.stmt('SELECT id, record FROM anomalies WHERE id > ? ORDER BY id LIMIT ?').all(after, batchSize) as { id: string; record: string }[];
      if (rows.length === 0) return;
      after = rows[rows.length - 1].id;
      yield rows.map((r) => JSON.parse(r.record) as AnomalyRecord);
    }
  }

  async saveFeedback(anomalyId: string, feedback: Feedback): Promise<AnomalyRecord> {
    const record = await this.getAnomaly(anomalyId);
    if (!record) throw new NotFoundError(`no anomaly with id ${anomalyId}`);
    const updated: AnomalyRecord = { ...record, feedback };
    const tx = this.db.transaction(() => {
      this.stmt(
        'INSERT INTO feedback (anomaly_id, verdict, note, at) VALUES (?, ?, ?, ?) ON CONFLICT(anomaly_id) DO UPDATE SET verdict = excluded.verdict, note = excluded.note, at = excluded.at',
      ).run(anomalyId, feedback.verdict, feedback.note ?? null, feedback.at);
      this.stmt('UPDATE anomalies SET record = ? WHERE id = ?').run(JSON.stringify(updated), anomalyId);
    });
    tx();
    return updated;
  }

  async feedbackCounts(): Promise<{ true_positive: number; false_positive: number }> {
    const rows = this.stmt('SELECT verdict, count(*) AS n FROM feedback GROUP BY verdict').all() as { verdict: string; n: number }[];
    const out = { true_positive: 0, false_positive: 0 };
    for (const r of rows) if (r.verdict === 'true_positive' || r.verdict === 'false_positive') out[r.verdict] = r.n;
    return out;
  }

  async health(): Promise<StoreHealth> {
    const t0 = performance.now();
    try {
      this.stmt('SELECT 1').get();
      return { kind: this.kind, ok: true, latencyMs: performance.now() - t0 };
    } catch (err) {
      return { kind: this.kind, ok: false, latencyMs: performance.now() - t0, detail: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    this.partitions.clear();
    this.refused.clear();
    this.cachedBytes = 0;
    if (this.db.open) this.db.close();
  }
}
