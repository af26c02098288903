import { fail, ok, type Reply, type SeenRequest } from './qdrant-loopback';

/**
 * In-memory emulation of the part of the Qdrant REST API the adapter uses, written from the documented
 * API (api.qdrant.tech) because no Qdrant server can run here. It lets the store contract, the outage
 * tests and the migration tests run over real HTTP through the real SDK. It is strict where Qdrant is
 * (vector sizes, point id formats, order_by needs a range index and excludes offset paging, unknown
 * filter conditions are rejected) and deliberately unhelpful where Qdrant promises nothing: points with
 * equal order_by values come back in point-id order, unrelated to our string ids.
 *
 * It is a test double, not a Qdrant: what it cannot tell us is listed in docs/QDRANT.md.
 */

interface Point {
  id: string | number;
  vector: number[];
  payload: Record<string, unknown>;
}

interface IndexInfo {
  data_type: string;
  params?: Record<string, unknown>;
}

interface Collection {
  size: number;
  distance: 'Euclid' | 'Dot' | 'Cosine' | 'Manhattan';
  body: Record<string, any>;
  indexes: Record<string, IndexInfo>;
  points: Map<string, Point>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INDEX_TYPES = new Set(['keyword', 'integer', 'float', 'bool', 'geo', 'datetime', 'text', 'uuid']);

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function pointKey(id: unknown): string {
  if (typeof id === 'number' && Number.isInteger(id) && id >= 0) return `n:${id}`;
  if (typeof id === 'string' && UUID.test(id)) return `u:${id.toLowerCase()}`;
  throw new BadRequest(400, `Format error in JSON body: value ${JSON.stringify(id)} is not a valid point ID, valid values are either an unsigned integer or a UUID`);
}

const list = <T>(x: T | T[] | undefined | null): T[] => (x === undefined || x === null ? [] : Array.isArray(x) ? x : [x]);

function matches(payload: Record<string, unknown>, pid: string, filter: any): boolean {
  if (!filter) return true;
  const must = list(filter.must).every((c) => condition(payload, pid, c));
  const mustNot = list(filter.must_not).every((c) => !condition(payload, pid, c));
  const should = list(filter.should);
  return must && mustNot && (should.length === 0 || should.some((c) => condition(payload, pid, c)));
}

function condition(payload: Record<string, unknown>, pid: string, c: any): boolean {
  if (c.must !== undefined || c.should !== undefined || c.must_not !== undefined) return matches(payload, pid, c);
  if (c.has_id !== undefined) return list(c.has_id).some((id) => pointKey(id) === pid);
  // Qdrant: a key that is absent, null or [] is empty.
  if (c.is_empty !== undefined) {
    const v = payload[c.is_empty.key];
    return v === undefined || v === null || (Array.isArray(v) && v.length === 0);
  }
  if (typeof c.key !== 'string') throw new BadRequest(400, `Format error in JSON body: unsupported condition ${JSON.stringify(c)}`);
  const v = payload[c.key];
  if (c.match) {
    if ('value' in c.match) return v === c.match.value;
    if ('any' in c.match) return (c.match.any as unknown[]).includes(v);
    if ('except' in c.match) return v !== undefined && !(c.match.except as unknown[]).includes(v);
    throw new BadRequest(400, `Format error in JSON body: unsupported match ${JSON.stringify(c.match)}`);
  }
  if (c.range) {
    if (typeof v !== 'number') return false;
    const r = c.range;
    return (r.gt === undefined || v > r.gt) && (r.gte === undefined || v >= r.gte) && (r.lt === undefined || v < r.lt) && (r.lte === undefined || v <= r.lte);
  }
  throw new BadRequest(400, `Format error in JSON body: unsupported condition ${JSON.stringify(c)}`);
}

function selectPayload(payload: Record<string, unknown>, sel: unknown): Record<string, unknown> | null {
  if (sel === false || sel === undefined || sel === null) return null;
  if (sel === true) return payload;
  if (Array.isArray(sel)) return Object.fromEntries(sel.filter((k) => k in payload).map((k) => [k, payload[k]]));
  throw new BadRequest(400, 'Format error in JSON body: unsupported with_payload');
}

function score(c: Collection, a: number[], b: number[]): number {
  let s = 0;
  switch (c.distance) {
    case 'Euclid':
      for (let i = 0; i < a.length; i++) s += (a[i] - b[i]) ** 2;
      return Math.sqrt(s);
    case 'Manhattan':
      for (let i = 0; i < a.length; i++) s += Math.abs(a[i] - b[i]);
      return s;
    default:
      for (let i = 0; i < a.length; i++) s += a[i] * b[i];
      return s;
  }
}

/** Float32 round trip: Qdrant stores vectors as float32. */
const f32 = (xs: number[]) => Array.from(Float32Array.from(xs));

export interface EmulatorOptions {
  /** Reject the object form of payload index schemas, like servers before is_tenant existed. */
  legacyIndexParams?: boolean;
}

/** The emulator. `handle` answers one request; pass it to LoopbackQdrant. */
export class QdrantEmulator {
  readonly collections = new Map<string, Collection>();
  private opId = 0;

  constructor(private readonly opts: EmulatorOptions = {}) {}

  handle = (req: SeenRequest): Reply => {
    try {
      return this.route(req);
    } catch (err) {
      if (err instanceof BadRequest) return fail(err.status, err.message);
      throw err;
    }
  };

  private get(name: string): Collection {
    const c = this.collections.get(name);
    if (!c) throw new BadRequest(404, `Not found: Collection \`${name}\` doesn't exist!`);
    return c;
  }

  private updated(): Reply {
    return ok({ operation_id: this.opId++, status: 'completed' });
  }

  private route(req: SeenRequest): Reply {
    const parts = req.path.split('/').filter(Boolean).map(decodeURIComponent);
    const { method } = req;
    const body = req.body ?? {};
    if (parts.length === 0 && method === 'GET') return { status: 200, body: { title: 'qdrant - vector search engine', version: '1.13.0' } };
    if (parts[0] !== 'collections') throw new BadRequest(404, `Not found: ${req.path}`);
    if (parts.length === 1 && method === 'GET') return ok({ collections: [...this.collections.keys()].map((name) => ({ name })) });
    const name = parts[1];
    const rest = parts.slice(2).join('/');
    switch (`${method} ${rest}`) {
      case 'GET exists':
        return ok({ exists: this.collections.has(name) });
      case 'GET ':
        return ok(this.info(name));
      case 'PUT ': {
        if (this.collections.has(name)) throw new BadRequest(409, `Wrong input: Collection \`${name}\` already exists!`);
        const v = body.vectors;
        if (!v || !Number.isInteger(v.size) || v.size < 1 || !['Euclid', 'Dot', 'Cosine', 'Manhattan'].includes(v.distance)) {
          throw new BadRequest(400, 'Format error in JSON body: vectors: expected a size and a distance');
        }
        this.collections.set(name, { size: v.size, distance: v.distance, body, indexes: {}, points: new Map() });
        return ok(true);
      }
      case 'DELETE ':
        return ok(this.collections.delete(name));
      case 'PUT index': {
        const c = this.get(name);
        const schema = body.field_schema;
        const type = typeof schema === 'string' ? schema : schema?.type;
        if (typeof body.field_name !== 'string' || !INDEX_TYPES.has(type)) throw new BadRequest(400, 'Format error in JSON body: field_schema');
        if (typeof schema === 'object' && this.opts.legacyIndexParams) {
          throw new BadRequest(400, `Format error in JSON body: unknown variant \`${type}\` with parameters`);
        }
        c.indexes[body.field_name] = { data_type: type, ...(typeof schema === 'object' ? { params: schema } : {}) };
        return this.updated();
      }
      case 'PUT points': {
        const c = this.get(name);
        const points = list(body.points);
        for (const p of points) {
          pointKey(p.id);
          if (!Array.isArray(p.vector) || p.vector.length !== c.size) {
            throw new BadRequest(400, `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${Array.isArray(p.vector) ? p.vector.length : 0}`);
          }
        }
        for (const p of points) c.points.set(pointKey(p.id), { id: p.id, vector: f32(p.vector), payload: p.payload ?? {} });
        return this.updated();
      }
      case 'POST points': {
        const c = this.get(name);
        const out = list(body.ids)
          .map((id) => c.points.get(pointKey(id)))
          .filter((p): p is Point => p !== undefined)
          .map((p) => this.record(p, body.with_payload ?? true, body.with_vector ?? false));
        return ok(out);
      }
      case 'POST points/query': {
        const c = this.get(name);
        if (!Array.isArray(body.query) || body.query.length !== c.size) {
          throw new BadRequest(400, `Wrong input: Vector dimension error: expected dim: ${c.size}, got ${Array.isArray(body.query) ? body.query.length : 0}`);
        }
        const q = f32(body.query);
        const asc = c.distance === 'Euclid' || c.distance === 'Manhattan';
        const hits = [...c.points.entries()]
          .filter(([pid, p]) => matches(p.payload, pid, body.filter))
          .map(([, p]) => ({ p, s: score(c, q, p.vector) }))
          .sort((a, b) => (asc ? a.s - b.s : b.s - a.s))
          .slice(body.offset ?? 0, (body.offset ?? 0) + (body.limit ?? 10));
        return ok({ points: hits.map(({ p, s }) => ({ id: p.id, version: 0, score: Math.fround(s), payload: selectPayload(p.payload, body.with_payload ?? false) })) });
      }
      case 'POST points/scroll':
        return ok(this.scroll(this.get(name), body));
      case 'POST points/count': {
        const c = this.get(name);
        return ok({ count: [...c.points.entries()].filter(([pid, p]) => matches(p.payload, pid, body.filter)).length });
      }
      case 'POST points/delete': {
        const c = this.get(name);
        if (body.points) for (const id of list(body.points)) c.points.delete(pointKey(id));
        else if (body.filter) for (const [pid, p] of c.points) if (matches(p.payload, pid, body.filter)) c.points.delete(pid);
        else throw new BadRequest(400, 'Format error in JSON body: expected points or filter');
        return this.updated();
      }
      case 'POST points/payload': {
        const c = this.get(name);
        const ids = list(body.points);
        for (const id of ids) if (!c.points.has(pointKey(id))) throw new BadRequest(404, `Not found: No point with id ${id} found`);
        for (const id of ids) Object.assign(c.points.get(pointKey(id))!.payload, body.payload);
        return this.updated();
      }
      default:
        throw new BadRequest(404, `Not found: ${method} ${req.path}`);
    }
  }

  private info(name: string): unknown {
    const c = this.get(name);
    const payloadSchema = Object.fromEntries(
      Object.entries(c.indexes).map(([field, ix]) => [field, { ...ix, points: [...c.points.values()].filter((p) => p.payload[field] !== undefined).length }]),
    );
    return {
      status: 'green',
      optimizer_status: 'ok',
      indexed_vectors_count: 0,
      points_count: c.points.size,
      segments_count: 1,
      config: {
        params: {
          vectors: { size: c.size, distance: c.distance },
          shard_number: c.body.shard_number ?? 1,
          replication_factor: c.body.replication_factor ?? 1,
          write_consistency_factor: c.body.write_consistency_factor ?? 1,
          on_disk_payload: true,
        },
        hnsw_config: { m: 16, ef_construct: 100, full_scan_threshold: 10000, max_indexing_threads: 0, on_disk: false, ...c.body.hnsw_config },
        optimizer_config: {
          deleted_threshold: 0.2,
          vacuum_min_vector_number: 1000,
          default_segment_number: 0,
          max_segment_size: null,
          memmap_threshold: null,
          indexing_threshold: 20000,
          flush_interval_sec: 5,
          max_optimization_threads: null,
        },
        wal_config: { wal_capacity_mb: 32, wal_segments_ahead: 0 },
        quantization_config: c.body.quantization_config ?? null,
      },
      payload_schema: payloadSchema,
    };
  }

  private record(p: Point, withPayload: unknown, withVector: unknown): unknown {
    return { id: p.id, payload: selectPayload(p.payload, withPayload), ...(withVector ? { vector: p.vector } : {}) };
  }

  private scroll(c: Collection, body: any): unknown {
    const limit = body.limit ?? 10;
    if (!Number.isInteger(limit) || limit < 1) throw new BadRequest(422, 'Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]');
    const rows = [...c.points.entries()].filter(([pid, p]) => matches(p.payload, pid, body.filter));
    if (body.order_by) {
      const ob = typeof body.order_by === 'string' ? { key: body.order_by } : body.order_by;
      const ix = c.indexes[ob.key];
      const ranged = ix && (ix.data_type === 'integer' || ix.data_type === 'float' || ix.data_type === 'datetime') && ix.params?.range !== false;
      if (!ranged) {
        throw new BadRequest(400, `Bad request: No range index for \`order_by\` key: \`${ob.key}\`. Please create one to use \`order_by\`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions`);
      }
      if (body.offset !== undefined && body.offset !== null) throw new BadRequest(400, 'Bad request: Cannot use an `offset` when using `order_by`');
      const desc = ob.direction === 'desc';
      const value = (p: Point) => p.payload[ob.key] as number;
      // Equal values: point-id order, i.e. no relation to our string ids (Qdrant promises none either).
      const sorted = rows
        .filter(([, p]) => typeof value(p) === 'number')
        .filter(([, p]) => ob.start_from === undefined || (desc ? value(p) <= ob.start_from : value(p) >= ob.start_from))
        .sort(([ka, a], [kb, b]) => (desc ? value(b) - value(a) : value(a) - value(b)) || (ka < kb ? 1 : ka > kb ? -1 : 0));
      return {
        points: sorted.slice(0, limit).map(([, p]) => ({ ...(this.record(p, body.with_payload ?? true, body.with_vector ?? false) as object), order_value: value(p) })),
        next_page_offset: null,
      };
    }
    rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const start = body.offset === undefined || body.offset === null ? 0 : rows.findIndex(([pid]) => pid >= pointKey(body.offset));
    const from = start < 0 ? rows.length : start;
    const page = rows.slice(from, from + limit);
    const next = rows[from + limit];
    return { points: page.map(([, p]) => this.record(p, body.with_payload ?? true, body.with_vector ?? false)), next_page_offset: next ? next[1].id : null };
  }
}
