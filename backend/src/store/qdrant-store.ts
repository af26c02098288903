import { createHash } from 'node:crypto';
import {
  QdrantClient,
  QdrantClientResourceExhaustedError,
  QdrantClientTimeoutError,
  QdrantClientUnexpectedResponseError,
  type Schemas,
} from '@qdrant/js-client-rest';
import type { AnomalyPage, AnomalyQuery, AnomalyRecord, Feedback, Neighbour, Pattern, PatternKind, PatternMeta } from '../domain/types';
import {
  DimensionMismatchError,
  NotFoundError,
  SentinelError,
  StoreBadRequestError,
  StoreError,
  StoreRateLimitedError,
  StoreTimeoutError,
  StoreUnavailableError,
  ValidationError,
} from '../errors';
import type { Logger } from '../logger';
import { decodeCursor, encodeCursor } from './cursor';
import { anomalyEndMs, type StoreHealth, type VectorStore } from './vector-store';

/**
 * Qdrant adapter of the VectorStore interface (see docs/QDRANT.md for the collection design).
 *
 * This is the only file that imports @qdrant/js-client-rest: SDK types stay private here and every SDK
 * error leaves as one of our StoreError subclasses with the original as `cause`.
 */

/** Options of {@link QdrantStore}. Only `url` is required; the rest tune the collections it creates. */
export interface QdrantStoreOptions {
  /** Base URL of the Qdrant REST API (SENTINEL_QDRANT_URL), e.g. http://127.0.0.1:6333. */
  url: string;
  /** SENTINEL_QDRANT_API_KEY; sent as the `api-key` header, never logged or put in an error message. */
  apiKey?: string;
  /** Collections are `<prefix>_anomalies` and `<prefix>_patterns_d<dim>`. @default "sentinel" */
  collectionPrefix?: string;
  /** Client-side timeout of one request, in ms. @default 10000 */
  timeoutMs?: number;
  /** How long init() keeps retrying while Qdrant is not reachable yet, in ms. @default 60000 */
  startupTimeoutMs?: number;
  /** First delay between start-up attempts; doubles up to `maxRetryDelayMs`. @default 250 */
  initialRetryDelayMs?: number;
  /** @default 5000 */
  maxRetryDelayMs?: number;
  /** Shards per new collection (distributed mode). @default 1 */
  shardNumber?: number;
  /** Copies of each shard (distributed mode). @default 1 */
  replicationFactor?: number;
  /** Replicas that must acknowledge a write. @default 1 */
  writeConsistencyFactor?: number;
  /**
   * HNSW of the pattern collections. The default disables the global graph (m = 0) and builds one per
   * series key (payload_m), because every search is filtered by series key.
   * @default { m: 0, payloadM: 16, efConstruct: 100 }
   */
  hnsw?: { m?: number; payloadM?: number; efConstruct?: number };
  /**
   * Scalar int8 quantisation of new pattern collections: 4x less RAM for the vector index; searches ask
   * for rescoring with the original vectors so distances stay exact. @default false
   */
  scalarQuantization?: boolean;
  /** Receives start-up retries and schema decisions. */
  log?: Logger;
  /** Injected in tests to run the start-up backoff without waiting. */
  sleep?: (ms: number) => Promise<void>;
}

/** RFC 4122 namespace of our point ids (a fixed random UUID, so ids are stable across versions). */
const POINT_ID_NAMESPACE = '6f3c1d2e-8a4b-4c5d-9e6f-7a8b9c0d1e2f';

/**
 * Deterministic UUID (version 5, SHA-1) of `name` in `namespace`: Qdrant accepts only unsigned integers
 * or UUIDs as point ids, so our string ids are mapped here and kept in the payload as `id`.
 */
export function qdrantPointId(name: string, namespace: string = POINT_ID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(name, 'utf8').digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const hex = h.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Byte-wise comparison of ids, the order SQLite's BINARY collation uses, so cursors agree across stores. */
function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

type Condition = Schemas['Condition'];
type FieldSchema = Schemas['PayloadFieldSchema'];
type PointStruct = Schemas['PointStruct'];

/**
 * Payload indexes per collection. The object form uses options of newer servers (is_tenant from 1.11,
 * enable_hnsw later); on a 4xx the plain type is used instead, so older servers still get an index.
 */
const PATTERN_INDEXES: Record<string, FieldSchema> = {
  series_key: { type: 'keyword', is_tenant: true },
  // kind and ts never need graph links of their own: searches are always inside one series key.
  kind: { type: 'keyword', enable_hnsw: false },
  ts: { type: 'integer', lookup: false, range: true, enable_hnsw: false },
};
const ANOMALY_INDEXES: Record<string, FieldSchema> = {
  start_ms: { type: 'integer', lookup: true, range: true, is_principal: true },
  end_ms: { type: 'integer', lookup: false, range: true },
  severity: 'keyword',
  type: 'keyword',
  service: 'keyword',
  series_key: 'keyword',
  feedback_verdict: 'keyword',
};

interface PatternPayload {
  id: string;
  series_key: string;
  kind: PatternKind;
  ts: number;
  meta?: PatternMeta;
}

interface AnomalyPayload {
  id: string;
  series_key: string;
  service: string | null;
  start_ms: number;
  /** Absent on points saved before it existed (the time filter then falls back to start_ms). */
  end_ms?: number;
  severity: string;
  type: string;
  /** Set only by saveFeedback; carried over when the record is saved again (like SQLite's feedback table). */
  feedback_verdict?: string;
  /** The whole record as JSON text, so it round-trips exactly whatever Qdrant does with nested payload. */
  record: string;
}

interface AnomalyRow {
  t: number;
  id: string;
  record: string;
}

const TRANSIENT = (e: unknown) => e instanceof StoreUnavailableError || e instanceof StoreTimeoutError || e instanceof StoreRateLimitedError;
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** The response part of the SDK's ApiError (not exported by the SDK, so recognised by shape). */
interface HttpFailure {
  status: number;
  headers?: Headers;
  data?: unknown;
}

function httpFailure(err: unknown): HttpFailure | undefined {
  if (!(err instanceof Error)) return undefined;
  const e = err as Error & Partial<HttpFailure>;
  return typeof e.status === 'number' && 'data' in e ? (e as HttpFailure) : undefined;
}

/** Qdrant's own error text, from `{"status": {"error": "..."}}`. */
function qdrantMessage(data: unknown): string | undefined {
  const status = (data as { status?: { error?: unknown } } | undefined)?.status;
  return typeof status?.error === 'string' ? status.error : undefined;
}

function errorCode(err: unknown): string | undefined {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

/**
 * Maps an SDK (or fetch) error to our error types, keeping the original as `cause`. `where` is the base
 * URL without credentials and `op` the operation, for a message an operator can act on.
 */
export function mapQdrantError(err: unknown, op: string, where: string, timeoutMs: number): SentinelError {
  if (err instanceof SentinelError) return err;
  if (err instanceof QdrantClientTimeoutError) return new StoreTimeoutError(`Qdrant ${op} timed out after ${timeoutMs} ms (${where})`, err);
  if (err instanceof QdrantClientResourceExhaustedError) {
    // The SDK parses Retry-After itself (seconds); never wait less than a second.
    return new StoreRateLimitedError(`Qdrant rate-limited ${op} (${where})`, Math.max(1000, err.retry_after * 1000), err);
  }
  const http = httpFailure(err);
  if (http) {
    const detail = qdrantMessage(http.data) ?? `HTTP ${http.status}`;
    if (http.status === 429) {
      const seconds = Number(http.headers?.get('retry-after'));
      return new StoreRateLimitedError(`Qdrant rate-limited ${op}: ${detail}`, Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : 1000, err);
    }
    if (http.status === 408 || http.status === 504) return new StoreTimeoutError(`Qdrant ${op} timed out on the server: ${detail}`, err);
    if (http.status >= 500) return new StoreUnavailableError(`Qdrant ${op} failed with HTTP ${http.status}: ${detail}`, err);
    if (http.status === 401 || http.status === 403) {
      return new StoreBadRequestError(`Qdrant refused ${op} with HTTP ${http.status}: check SENTINEL_QDRANT_API_KEY`, err);
    }
    return new StoreBadRequestError(`Qdrant rejected ${op} with HTTP ${http.status}: ${detail}`, err);
  }
  if (err instanceof Error && /^Invalid retryAfter value/.test(err.message)) {
    // The SDK throws this plain error for a 429 whose Retry-After is an HTTP date.
    return new StoreRateLimitedError(`Qdrant rate-limited ${op} (${where})`, 1000, err);
  }
  const code = errorCode(err);
  if (code && CONNECTION_CODES.has(code)) return new StoreUnavailableError(`Qdrant at ${where} is unreachable during ${op} (${code})`, err);
  if (err instanceof TypeError && err.message === 'fetch failed') return new StoreUnavailableError(`Qdrant at ${where} is unreachable during ${op}`, err);
  if (err instanceof QdrantClientUnexpectedResponseError) return new StoreError(`Qdrant ${op}: unexpected response`, { cause: err });
  return new StoreError(`Qdrant ${op} failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

/** A 404 for a collection we created: Qdrant lost its data (e.g. restarted without a volume). */
function isMissingCollection(err: unknown): boolean {
  return err instanceof StoreBadRequestError && httpFailure(err.cause)?.status === 404;
}

/** Scroll's next_page_offset: a point id, or null/absent on the last page. */
function nextOffset(v: unknown): string | number | undefined {
  return typeof v === 'string' || typeof v === 'number' ? v : undefined;
}

const sleepReal = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Scroll page size for listing, scanning and pruning. */
const PAGE = 256;
/** Points per upsert request: keeps bodies well under Qdrant's default 32 MiB limit at any dimension we use. */
const UPSERT_CHUNK = 256;

/**
 * Vector store on Qdrant. Patterns live in one collection per vector dimension (`<prefix>_patterns_d48`,
 * created on first use), Euclidean distance, partitioned by series key through a tenant payload index;
 * anomaly records in `<prefix>_anomalies` (payload only, with a 1-dimensional placeholder vector).
 */
export class QdrantStore implements VectorStore {
  readonly kind = 'qdrant';
  private readonly client: QdrantClient;
  private readonly prefix: string;
  private readonly where: string;
  private readonly timeoutMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Pattern collections known to exist (and verified), by dimension. */
  private readonly dims = new Map<number, Promise<void>>();
  private dimsListedAt = 0;
  /** Dimensions found to have no collection, until when (ms): saves a round trip per search meanwhile. */
  private readonly missingUntil = new Map<number, number>();
  private anomaliesReady = false;

  constructor(private readonly opts: QdrantStoreOptions) {
    let url: URL;
    try {
      url = new URL(opts.url);
    } catch (err) {
      throw new ValidationError('SENTINEL_QDRANT_URL is not a URL', { field: 'SENTINEL_QDRANT_URL', cause: err });
    }
    // Only scheme, host and port ever appear in messages: the URL may carry credentials.
    this.where = `${url.protocol}//${url.host}`;
    this.prefix = opts.collectionPrefix ?? 'sentinel';
    if (!/^[A-Za-z0-9_-]{1,128}$/.test(this.prefix)) throw new ValidationError(`collection prefix "${this.prefix}" may only hold letters, digits, _ and -`, { field: 'collectionPrefix' });
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.sleep = opts.sleep ?? sleepReal;
    // The SDK drops a path in `url` and, without an explicit port, uses 6333 (also for https). A path
    // is passed as its prefix (Qdrant behind a reverse proxy); a port written out, even 443, is kept.
    const explicitPort = /^[a-z]+:\/\/(?:[^@/]*@)?(?:\[[^\]]*\]|[^:/]*):(\d+)/i.exec(opts.url)?.[1];
    const path = url.pathname.replace(/\/+$/, '');
    try {
      this.client = new QdrantClient({
        url: `${url.protocol}//${url.host}`,
        ...(explicitPort ? { port: Number(explicitPort) } : {}),
        ...(path ? { prefix: path } : {}),
        ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
        timeout: this.timeoutMs,
        // The version probe only warns on the console; init() checks what we rely on instead.
        checkCompatibility: false,
      });
    } catch (err) {
      throw new ValidationError(`SENTINEL_QDRANT_URL: ${(err as Error).message.replace(opts.url, this.where)}`, { field: 'SENTINEL_QDRANT_URL', cause: err });
    }
  }

  /** Name of the anomalies collection. */
  get anomaliesCollection(): string {
    return `${this.prefix}_anomalies`;
  }

  /** Name of the pattern collection of one vector dimension. */
  patternsCollection(dim: number): string {
    return `${this.prefix}_patterns_d${dim}`;
  }

  private async call<T>(op: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw mapQdrantError(err, op, this.where, this.timeoutMs);
    }
  }

  /**
   * Creates or verifies the collections and payload indexes. Retries with exponential backoff while
   * Qdrant is unreachable (it may still be starting), up to `startupTimeoutMs`; then fails with a
   * StoreUnavailableError naming SENTINEL_QDRANT_URL. Errors that waiting cannot fix fail at once.
   */
  async init(): Promise<void> {
    const budget = this.opts.startupTimeoutMs ?? 60_000;
    const maxDelay = this.opts.maxRetryDelayMs ?? 5_000;
    let delay = this.opts.initialRetryDelayMs ?? 250;
    let waited = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.setup();
        return;
      } catch (err) {
        if (!TRANSIENT(err)) throw err;
        const e = err as StoreError;
        if (waited + delay > budget) {
          throw new StoreUnavailableError(
            `Qdrant at SENTINEL_QDRANT_URL (${this.where}) did not become ready after ${attempt} attempts over ${(waited / 1000).toFixed(1)} s: ${e.message}`,
            err,
          );
        }
        this.opts.log?.warn({ store: this.kind, attempt, retryInMs: delay, err: e.message }, 'Qdrant not ready; retrying');
        const wait = e instanceof StoreRateLimitedError ? Math.max(delay, e.retryAfterMs) : delay;
        await this.sleep(wait);
        waited += wait;
        delay = Math.min(delay * 2, maxDelay);
      }
    }
  }

  private async setup(): Promise<void> {
    this.anomaliesReady = false;
    this.dims.clear();
    const names = await this.listCollections();
    await this.setupAnomalies(names);
    for (const dim of this.dimsIn(names)) {
      const ready = this.verifyPatterns(dim);
      this.dims.set(dim, ready);
      await ready;
    }
    this.dimsListedAt = Date.now();
  }

  private async setupAnomalies(names: string[]): Promise<void> {
    if (!names.includes(this.anomaliesCollection)) {
      await this.createCollection(this.anomaliesCollection, {
        // Anomaly records are payload only; Qdrant wants a vector, so a constant 1-d one without a graph.
        vectors: { size: 1, distance: 'Dot' },
        hnsw_config: { m: 0 },
        shard_number: this.opts.shardNumber ?? 1,
        replication_factor: this.opts.replicationFactor ?? 1,
        write_consistency_factor: this.opts.writeConsistencyFactor ?? 1,
      });
    }
    const info = await this.call(`read collection ${this.anomaliesCollection}`, () => this.client.getCollection(this.anomaliesCollection));
    await this.ensureIndexes(this.anomaliesCollection, ANOMALY_INDEXES, info.payload_schema);
    this.anomaliesReady = true;
  }

  private async listCollections(): Promise<string[]> {
    const res = await this.call('list collections', () => this.client.getCollections());
    return res.collections.map((c) => c.name);
  }

  private dimsIn(names: string[]): number[] {
    const re = new RegExp(`^${this.prefix}_patterns_d(\\d+)$`);
    return names.map((n) => Number(re.exec(n)?.[1])).filter((d) => Number.isInteger(d) && d > 0);
  }

  /** Picks up pattern collections another instance created since we last looked (count, prune, scan). */
  private async refreshDims(): Promise<void> {
    if (Date.now() - this.dimsListedAt < 30_000) return;
    const names = await this.listCollections();
    for (const dim of this.dimsIn(names)) if (!this.dims.has(dim)) this.dims.set(dim, this.verifyPatterns(dim));
    this.dimsListedAt = Date.now();
    await Promise.all(this.dims.values());
  }

  private async createCollection(name: string, body: Parameters<QdrantClient['createCollection']>[1]): Promise<void> {
    try {
      await this.call(`create collection ${name}`, () => this.client.createCollection(name, body));
      this.opts.log?.info({ store: this.kind, collection: name }, 'created Qdrant collection');
    } catch (err) {
      // Another instance may have created it between our look and our create (409, or 400 on older servers).
      if (!(err instanceof StoreBadRequestError)) throw err;
      const exists = await this.call(`check collection ${name}`, () => this.client.collectionExists(name));
      if (!exists.exists) throw err;
    }
  }

  /** Creates the indexes of `wanted` missing from `existing` (the collection's payload_schema). */
  private async ensureIndexes(collection: string, wanted: Record<string, FieldSchema>, existing: Record<string, unknown>): Promise<void> {
    for (const [field, schema] of Object.entries(wanted)) {
      if (existing[field]) continue;
      const create = (s: FieldSchema) =>
        this.call(`create payload index ${collection}.${field}`, () => this.client.createPayloadIndex(collection, { field_name: field, field_schema: s, wait: true }));
      try {
        await create(schema);
      } catch (err) {
        if (!(err instanceof StoreBadRequestError) || typeof schema === 'string') throw err;
        this.opts.log?.warn({ store: this.kind, collection, field, err: err.message }, 'index options not supported by this Qdrant; using a plain index');
        await create(schema.type as FieldSchema);
      }
    }
  }

  /** Checks an existing pattern collection: vector size must match its name and distance be Euclid. */
  private async verifyPatterns(dim: number): Promise<void> {
    const name = this.patternsCollection(dim);
    const info = await this.call(`read collection ${name}`, () => this.client.getCollection(name));
    const vectors = info.config.params.vectors as { size?: number; distance?: string } | undefined;
    if (typeof vectors?.size !== 'number') throw new StoreError(`Qdrant collection ${name} has named vectors; expected one unnamed vector of size ${dim}`);
    if (vectors.size !== dim) throw new DimensionMismatchError(dim, vectors.size, `Qdrant collection ${name}`);
    if (vectors.distance !== 'Euclid') {
      throw new StoreError(`Qdrant collection ${name} uses ${vectors.distance} distance, but patterns need Euclid; drop it or migrate with \`sentinel migrate\``);
    }
    await this.ensureIndexes(name, PATTERN_INDEXES, info.payload_schema);
  }

  /** The pattern collection of `dim`, created on first use; concurrent callers share one creation. */
  private ensurePatterns(dim: number): Promise<void> {
    this.missingUntil.delete(dim);
    let ready = this.dims.get(dim);
    if (!ready) {
      const name = this.patternsCollection(dim);
      ready = (async () => {
        const exists = await this.call(`check collection ${name}`, () => this.client.collectionExists(name));
        if (!exists.exists) {
          const hnsw = this.opts.hnsw ?? {};
          await this.createCollection(name, {
            vectors: { size: dim, distance: 'Euclid' },
            hnsw_config: { m: hnsw.m ?? 0, payload_m: hnsw.payloadM ?? 16, ef_construct: hnsw.efConstruct ?? 100 },
            ...(this.opts.scalarQuantization ? { quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } } } : {}),
            shard_number: this.opts.shardNumber ?? 1,
            replication_factor: this.opts.replicationFactor ?? 1,
            write_consistency_factor: this.opts.writeConsistencyFactor ?? 1,
          });
        }
        await this.verifyPatterns(dim);
      })();
      this.dims.set(dim, ready);
      // A failed creation (e.g. Qdrant down) must be retried on the next call, not cached.
      ready.catch(() => this.dims.get(dim) === ready && this.dims.delete(dim));
    }
    return ready;
  }

  private checkDim(dim: number): void {
    if (!Number.isInteger(dim) || dim <= 0 || dim > 65_536) throw new ValidationError(`vector dimension ${dim} is out of range`, { field: 'vector' });
  }

  async upsertPatterns(patterns: Pattern[]): Promise<void> {
    if (patterns.length === 0) return;
    const byDim = new Map<number, Pattern[]>();
    for (const p of patterns) {
      this.checkDim(p.vector.length);
      const list = byDim.get(p.vector.length) ?? [];
      list.push(p);
      byDim.set(p.vector.length, list);
    }
    for (const [dim, list] of byDim) {
      await this.ensurePatterns(dim);
      const name = this.patternsCollection(dim);
      for (let i = 0; i < list.length; i += UPSERT_CHUNK) {
        const points: PointStruct[] = list.slice(i, i + UPSERT_CHUNK).map((p) => {
          const payload: PatternPayload = { id: p.id, series_key: p.seriesKey, kind: p.kind, ts: Math.round(p.timestamp), ...(p.meta ? { meta: p.meta } : {}) };
          return { id: qdrantPointId(p.id), vector: Array.from(p.vector), payload: payload as unknown as Schemas['Payload'] };
        });
        const upsert = () => this.call(`upsert patterns into ${name}`, () => this.client.upsert(name, { wait: true, points }));
        try {
          await upsert();
        } catch (err) {
          if (!isMissingCollection(err)) throw err;
          this.dims.delete(dim);
          await this.ensurePatterns(dim);
          await upsert();
        }
      }
    }
    // Upsert by id replaces across dimensions too (as in SQLite): drop the id from the other collections.
    const others = [...this.dims.keys()].filter((d) => byDim.size > 1 || !byDim.has(d));
    for (const dim of others) {
      const ids = patterns.filter((p) => p.vector.length !== dim).map((p) => qdrantPointId(p.id));
      if (ids.length === 0) continue;
      await this.dims.get(dim);
      const name = this.patternsCollection(dim);
      await this.call(`delete replaced patterns from ${name}`, () => this.client.delete(name, { wait: true, points: ids }));
    }
  }

  private patternFilter(seriesKey: string | undefined, kind: PatternKind | undefined): Schemas['Filter'] | undefined {
    const must: Condition[] = [];
    if (seriesKey !== undefined) must.push({ key: 'series_key', match: { value: seriesKey } });
    if (kind !== undefined) must.push({ key: 'kind', match: { value: kind } });
    return must.length ? { must } : undefined;
  }

  async searchPatterns(seriesKey: string, vector: Float32Array, k: number, kind: PatternKind = 'normal'): Promise<Neighbour[]> {
    const dim = vector.length;
    if (k <= 0 || dim === 0) return [];
    this.checkDim(dim);
    const name = this.patternsCollection(dim);
    if (!this.dims.has(dim)) {
      // Another instance may have created it; a missing collection simply has no neighbours.
      if ((this.missingUntil.get(dim) ?? 0) > Date.now()) return [];
      const exists = await this.call(`check collection ${name}`, () => this.client.collectionExists(name));
      if (!exists.exists) {
        this.missingUntil.set(dim, Date.now() + 5_000);
        return [];
      }
      await this.ensurePatterns(dim);
    }
    const res = await this.call(`search ${name}`, () =>
      this.client.query(name, {
        query: Array.from(vector),
        filter: this.patternFilter(seriesKey, kind),
        limit: Math.min(k, 4096),
        with_payload: true,
        // Distances feed the kNN score directly: never let int8 approximations through.
        ...(this.opts.scalarQuantization ? { params: { quantization: { rescore: true } } } : {}),
      }),
    );
    // Euclid scores are distances (not squared), ascending: the same numbers sqlite-vec returns.
    return res.points.map((pt) => {
      const p = pt.payload as unknown as PatternPayload;
      return { id: p.id, distance: pt.score, timestamp: p.ts, kind: p.kind, ...(p.meta ? { meta: p.meta } : {}) };
    });
  }

  async countPatterns(filter: { seriesKey?: string; kind?: PatternKind } = {}): Promise<number> {
    await this.refreshDims();
    let n = 0;
    for (const dim of this.dims.keys()) {
      const name = this.patternsCollection(dim);
      const res = await this.call(`count ${name}`, () => this.client.count(name, { filter: this.patternFilter(filter.seriesKey, filter.kind), exact: true }));
      n += res.count;
    }
    return n;
  }

  async prunePatterns(seriesKey: string, kind: PatternKind, keep: number): Promise<number> {
    const total = await this.countPatterns({ seriesKey, kind });
    let excess = total - Math.max(0, keep);
    let removed = 0;
    const filter = this.patternFilter(seriesKey, kind);
    while (excess > 0) {
      // The oldest `excess` of every dimension, merged: the oldest overall are among them.
      const batch = Math.min(excess, 1000);
      const candidates: { dim: number; pid: string; ts: number }[] = [];
      for (const dim of this.dims.keys()) {
        const name = this.patternsCollection(dim);
        const res = await this.call(`list oldest patterns in ${name}`, () =>
          this.client.scroll(name, { filter, limit: batch, order_by: { key: 'ts', direction: 'asc' }, with_payload: ['ts'], with_vector: false }),
        );
        for (const pt of res.points) candidates.push({ dim, pid: String(pt.id), ts: Number((pt.payload as { ts?: number } | null)?.ts) });
      }
      if (candidates.length === 0) break;
      candidates.sort((a, b) => a.ts - b.ts);
      const victims = candidates.slice(0, batch);
      for (const dim of new Set(victims.map((v) => v.dim))) {
        const name = this.patternsCollection(dim);
        const ids = victims.filter((v) => v.dim === dim).map((v) => v.pid);
        await this.call(`prune patterns in ${name}`, () => this.client.delete(name, { wait: true, points: ids }));
      }
      removed += victims.length;
      excess -= victims.length;
    }
    return removed;
  }

  async *scanPatterns(batchSize: number): AsyncIterable<Pattern[]> {
    await this.refreshDims();
    for (const dim of [...this.dims.keys()].sort((a, b) => a - b)) {
      const name = this.patternsCollection(dim);
      let offset: string | number | undefined;
      do {
        const res = await this.call(`scan ${name}`, () => this.client.scroll(name, { limit: batchSize, offset, with_payload: true, with_vector: true }));
        if (res.points.length > 0) {
          yield res.points.map((pt) => {
            const p = pt.payload as unknown as PatternPayload;
            return {
              id: p.id,
              seriesKey: p.series_key,
              kind: p.kind,
              timestamp: p.ts,
              vector: Float32Array.from(pt.vector as number[]),
              ...(p.meta ? { meta: p.meta } : {}),
            };
          });
        }
        offset = nextOffset(res.next_page_offset);
      } while (offset !== undefined);
    }
  }

  private requireInit(): void {
    if (!this.anomaliesReady) throw new StoreError('QdrantStore used before init()');
  }

  async saveAnomaly(record: AnomalyRecord): Promise<void> {
    this.requireInit();
    const name = this.anomaliesCollection;
    const pid = qdrantPointId(record.id);
    // Feedback verdicts outlive a re-save of the record, as SQLite's separate feedback table does.
    const readPrev = () => this.call(`read anomaly ${record.id}`, () => this.client.retrieve(name, { ids: [pid], with_payload: ['feedback_verdict'], with_vector: false }));
    let prev: Awaited<ReturnType<typeof readPrev>>;
    try {
      prev = await readPrev();
    } catch (err) {
      if (!isMissingCollection(err)) throw err;
      await this.setupAnomalies([]);
      prev = await readPrev();
    }
    const verdict = (prev[0]?.payload as { feedback_verdict?: string } | null | undefined)?.feedback_verdict;
    const payload: AnomalyPayload = {
      id: record.id,
      series_key: record.seriesKey,
      service: record.labels.service ?? null,
      start_ms: Date.parse(record.start),
      end_ms: anomalyEndMs(record),
      severity: record.severity,
      type: record.type,
      ...(verdict ? { feedback_verdict: verdict } : {}),
      record: JSON.stringify(record),
    };
    if (!Number.isFinite(payload.start_ms)) throw new ValidationError(`anomaly ${record.id} has no valid start`, { field: 'start' });
    await this.call(`save anomaly ${record.id}`, () =>
      this.client.upsert(name, { wait: true, points: [{ id: pid, vector: [1], payload: payload as unknown as Schemas['Payload'] }] }),
    );
  }

  async getAnomaly(id: string): Promise<AnomalyRecord | null> {
    this.requireInit();
    const res = await this.call(`read anomaly ${id}`, () =>
      this.client.retrieve(this.anomaliesCollection, { ids: [qdrantPointId(id)], with_payload: ['record'], with_vector: false }),
    );
    const text = (res[0]?.payload as { record?: string } | null | undefined)?.record;
    return text ? (JSON.parse(text) as AnomalyRecord) : null;
  }

  private anomalyConditions(q: AnomalyQuery): Condition[] {
    const must: Condition[] = [];
    // Incidents overlapping [from, to]: one still running at `from` counts, wherever it began. Points
    // saved before end_ms existed are matched by their start, as they were then.
    if (q.from !== undefined) {
      must.push({
        should: [
          { key: 'end_ms', range: { gte: q.from } },
          { must: [{ is_empty: { key: 'end_ms' } }, { key: 'start_ms', range: { gte: q.from } }] },
        ],
      });
    }
    if (q.to !== undefined) must.push({ key: 'start_ms', range: { lte: q.to } });
    if (q.severity?.length) must.push({ key: 'severity', match: { any: q.severity } });
    if (q.service !== undefined) must.push({ key: 'service', match: { value: q.service } });
    if (q.type !== undefined) must.push({ key: 'type', match: { value: q.type } });
    if (q.seriesKey !== undefined) must.push({ key: 'series_key', match: { value: q.seriesKey } });
    return must;
  }

  private toRow(pt: { payload?: Record<string, unknown> | null }): AnomalyRow {
    const p = pt.payload as unknown as AnomalyPayload;
    return { t: p.start_ms, id: p.id, record: p.record };
  }

  private static newestFirst(a: AnomalyRow, b: AnomalyRow): number {
    return b.t - a.t || compareIds(b.id, a.id);
  }

  /** Every anomaly matching `must` that starts exactly at `t`, newest-first order (id descending). */
  private async tieGroup(must: Condition[], t: number): Promise<AnomalyRow[]> {
    const rows: AnomalyRow[] = [];
    const filter = { must: [...must, { key: 'start_ms', range: { gte: t, lte: t } }] };
    let offset: string | number | undefined;
    do {
      const res = await this.call('list anomalies', () => this.client.scroll(this.anomaliesCollection, { filter, limit: PAGE, offset, with_payload: true }));
      rows.push(...res.points.map((pt) => this.toRow(pt)));
      offset = nextOffset(res.next_page_offset);
    } while (offset !== undefined);
    return rows.sort(QdrantStore.newestFirst);
  }

  /**
   * Newest first by (start, id), like SQLite. Qdrant orders by start_ms (order_by needs its range
   * index) but leaves equal values in no defined order and has no offset paging with order_by, so a
   * page is built from complete groups of equal start: the group at the cursor (ids below the cursor's)
   * and, whenever a page from Qdrant may have cut a group, the whole group at its oldest start.
   */
  async listAnomalies(q: AnomalyQuery): Promise<AnomalyPage> {
    const cursor = q.cursor !== undefined ? decodeCursor(q.cursor) : undefined;
    this.requireInit();
    const base = this.anomalyConditions(q);
    const want = q.limit + 1;
    const rows: AnomalyRow[] = [];
    let below: number | undefined;
    if (cursor) {
      rows.push(...(await this.tieGroup(base, cursor.t)).filter((r) => compareIds(r.id, cursor.id) < 0));
      below = cursor.t;
    }
    while (rows.length < want) {
      const need = want - rows.length;
      const must = below === undefined ? base : [...base, { key: 'start_ms', range: { lt: below } }];
      const res = await this.call('list anomalies', () =>
        this.client.scroll(this.anomaliesCollection, { filter: must.length ? { must } : undefined, limit: need, order_by: { key: 'start_ms', direction: 'desc' }, with_payload: true }),
      );
      const page = res.points.map((pt) => this.toRow(pt));
      if (page.length < need) {
        rows.push(...page.sort(QdrantStore.newestFirst));
        break;
      }
      const oldest = Math.min(...page.map((r) => r.t));
      rows.push(...page.filter((r) => r.t > oldest).sort(QdrantStore.newestFirst));
      rows.push(...(await this.tieGroup(base, oldest)));
      below = oldest;
    }
    const more = rows.length > q.limit;
    const items = rows.slice(0, q.limit);
    const last = items[items.length - 1];
    return {
      items: items.map((r) => JSON.parse(r.record) as AnomalyRecord),
      nextCursor: more && last ? encodeCursor({ t: last.t, id: last.id }) : null,
    };
  }

  async *scanAnomalies(batchSize: number): AsyncIterable<AnomalyRecord[]> {
    this.requireInit();
    let offset: string | number | undefined;
    do {
      const res = await this.call('scan anomalies', () =>
        this.client.scroll(this.anomaliesCollection, { limit: batchSize, offset, with_payload: ['record'], with_vector: false }),
      );
      if (res.points.length > 0) yield res.points.map((pt) => JSON.parse((pt.payload as { record: string }).record) as AnomalyRecord);
      offset = nextOffset(res.next_page_offset);
    } while (offset !== undefined);
  }

  async saveFeedback(anomalyId: string, feedback: Feedback): Promise<AnomalyRecord> {
    const record = await this.getAnomaly(anomalyId);
    if (!record) throw new NotFoundError(`no anomaly with id ${anomalyId}`);
    const updated: AnomalyRecord = { ...record, feedback };
    await this.call(`save feedback on ${anomalyId}`, () =>
      this.client.setPayload(this.anomaliesCollection, {
        points: [qdrantPointId(anomalyId)],
        payload: { record: JSON.stringify(updated), feedback_verdict: feedback.verdict },
        wait: true,
      }),
    );
    return updated;
  }

  async feedbackCounts(): Promise<{ true_positive: number; false_positive: number }> {
    this.requireInit();
    const count = (verdict: string) =>
      this.call('count feedback', () =>
        this.client.count(this.anomaliesCollection, { filter: { must: [{ key: 'feedback_verdict', match: { value: verdict } }] }, exact: true }),
      );
    const [tp, fp] = await Promise.all([count('true_positive'), count('false_positive')]);
    return { true_positive: tp.count, false_positive: fp.count };
  }

  /** One round trip to the anomalies collection; `ok` unless Qdrant is unreachable or reports it red. */
  async health(): Promise<StoreHealth> {
    const t0 = performance.now();
    try {
      const info = await this.call('health check', () => this.client.getCollection(this.anomaliesCollection));
      const latencyMs = performance.now() - t0;
      if (info.status === 'red') return { kind: this.kind, ok: false, latencyMs, detail: `collection ${this.anomaliesCollection} is red` };
      return { kind: this.kind, ok: true, latencyMs, ...(info.status !== 'green' ? { detail: `collection ${this.anomaliesCollection} is ${info.status}` } : {}) };
    } catch (err) {
      return { kind: this.kind, ok: false, latencyMs: performance.now() - t0, detail: (err as Error).message };
    }
  }

  /** Deletes every collection of this prefix (tests, and `migrate` into a clean target). */
  async dropCollections(): Promise<void> {
    const names = await this.listCollections();
    const mine = names.filter((n) => n === this.anomaliesCollection || this.dimsIn([n]).length > 0);
    for (const name of mine) await this.call(`delete collection ${name}`, () => this.client.deleteCollection(name));
    this.dims.clear();
    this.anomaliesReady = false;
  }

  async close(): Promise<void> {
    // The SDK keeps no resources that need closing: its undici agent's idle sockets time out by themselves.
    this.dims.clear();
    this.anomaliesReady = false;
  }
}
