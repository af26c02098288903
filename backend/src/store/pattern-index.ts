/**
 * In-memory exact nearest-neighbour search over the patterns of one store partition (one vector
 * dimension, series key and kind), answering exactly what sqlite-vec's vec0 KNN query answers.
 *
 * Why: a vec0 query re-reads the partition's chunks through SQLite on every call (about 0.5 GB/s here,
 * far below memory bandwidth), and every scored window makes one. Here the vectors sit in one
 * contiguous Float32Array per partition, and most patterns are ruled out after a few dimensions.
 *
 * Exactness: sqlite-vec (this build: scalar, no SIMD) computes sqrtf of a float32 sum, in dimension
 * order, of float32 squares of float32 differences. `exactDistance` repeats that arithmetic with
 * Math.fround at every step, so distances are bit-identical. Pruning only skips a pattern when a lower
 * bound of its distance, computed in float64 with a safety margin far wider than float32 rounding
 * (relative error < (dim + 2) * 2^-24), is above the current k-th distance, so the k nearest are
 * exactly sqlite-vec's. Exactly tied distances are ordered by insertion (sqlite-vec's own tie order is
 * an artefact of its chunk scan); scores only read distances, so they are unaffected.
 */

/** Relative margin on pruning bounds: 1e-4 >> (48 + 2) * 2^-24 = 3e-6. */
const MARGIN = 1 + 1e-4;
/** Absolute slack, for distances that underflow float32. */
const TINY = 1e-24;

/** One hit: position in the partition and the distance (as sqlite-vec reports it). */
export interface IndexHit {
  position: number;
  distance: number;
}

/**
 * sqlite-vec's L2 distance between `q` and row `offset / dim` of `data`, bit for bit: float32 arithmetic
 * in dimension order, then sqrt rounded to float32.
 */
export function exactDistance(q: Float32Array, data: Float32Array, offset: number): number {
  const f = Math.fround;
  let res = 0;
  for (let j = 0; j < q.length; j++) {
    const t = f(q[j] - data[offset + j]);
    res = f(res + f(t * t));
  }
  return f(Math.sqrt(res));
}

/**
 * The patterns of one partition: vectors in one growable float32 matrix, with their row ids, ids,
 * timestamps and metadata, in insertion (row id) order.
 */
export class PatternPartition {
  size = 0;
  private vecs: Float32Array;
  private norms: Float64Array;
  rowids: Float64Array;
  timestamps: Float64Array;
  ids: string[] = [];
  metas: (string | null)[] = [];
  /** Scratch of the k best (squared float32 distance, position), reused across searches. */
  private bestD = new Float64Array(16);
  private bestP = new Int32Array(16);

  constructor(
    readonly dim: number,
    capacity = 64,
  ) {
    this.vecs = new Float32Array(capacity * dim);
    this.norms = new Float64Array(capacity);
    this.rowids = new Float64Array(capacity);
    this.timestamps = new Float64Array(capacity);
  }

  /** Bytes held (for the store's memory budget). */
  get bytes(): number {
    return this.vecs.byteLength + this.norms.byteLength + this.rowids.byteLength + this.timestamps.byteLength + this.size * 96;
  }

  /** The vector at a position (a view, valid until the next change). */
  vector(position: number): Float32Array {
    return this.vecs.subarray(position * this.dim, (position + 1) * this.dim);
  }

  append(rowid: number, id: string, timestamp: number, vector: ArrayLike<number>, meta: string | null): void {
    if (this.size === this.rowids.length) this.grow(Math.max(64, this.size * 2));
    const i = this.size++;
    const o = i * this.dim;
    let norm = 0;
    for (let j = 0; j < this.dim; j++) {
      const x = Math.fround(vector[j]);
      this.vecs[o + j] = x;
      norm += x * x;
    }
    this.norms[i] = Math.sqrt(norm);
    this.rowids[i] = rowid;
    this.timestamps[i] = timestamp;
    this.ids[i] = id;
    this.metas[i] = meta;
  }

  /** Removes the rows with these row ids, keeping the order of the others. Returns how many went. */
  remove(rowids: ReadonlySet<number>): number {
    let w = 0;
    const d = this.dim;
    for (let r = 0; r < this.size; r++) {
      if (rowids.has(this.rowids[r])) continue;
      if (w !== r) {
        this.vecs.copyWithin(w * d, r * d, (r + 1) * d);
        this.norms[w] = this.norms[r];
        this.rowids[w] = this.rowids[r];
        this.timestamps[w] = this.timestamps[r];
        this.ids[w] = this.ids[r];
        this.metas[w] = this.metas[r];
      }
      w++;
    }
    const removed = this.size - w;
    this.size = w;
    this.ids.length = w;
    this.metas.length = w;
    return removed;
  }

  private grow(capacity: number): void {
    const vecs = new Float32Array(capacity * this.dim);
    vecs.set(this.vecs.subarray(0, this.size * this.dim));
    this.vecs = vecs;
    for (const name of ['norms', 'rowids', 'timestamps'] as const) {
      const a = new Float64Array(capacity);
      a.set(this[name].subarray(0, this.size));
      this[name] = a;
    }
  }

  /** The `k` nearest rows to `q`, nearest first (ties in insertion order). */
  search(q: Float32Array, k: number): IndexHit[] {
    const n = this.size;
    const kk = Math.min(k, n);
    if (kk <= 0) return [];
    if (this.bestD.length < kk) {
      this.bestD = new Float64Array(kk);
      this.bestP = new Int32Array(kk);
    }
    const bestD = this.bestD;
    const bestP = this.bestP;
    const dim = this.dim;
    const data = this.vecs;
    const norms = this.norms;
    let qn = 0;
    for (let j = 0; j < dim; j++) qn += q[j] * q[j];
    qn = Math.sqrt(qn);
    let filled = 0;
    // Pruning bound on squared distance: +Infinity until k rows are held.
    let bound = Infinity;
    const f = Math.fround;
    for (let p = 0; p < n; p++) {
      // Triangle inequality: |‖q‖ - ‖p‖| <= ‖q - p‖, without touching the vector.
      const dn = qn - norms[p];
      if (dn * dn > bound) continue;
      const o = p * dim;
      // Partial sum from the last dimension backwards (the embedders put the heaviest components last:
      // the current window, the level terms), giving up as soon as it exceeds the bound.
      let s = 0;
      let j = dim - 1;
      while (j >= 0) {
        const stop = j >= 8 ? j - 8 : -1;
        for (; j > stop; j--) {
          const t = q[j] - data[o + j];
          s += t * t;
        }
        if (s > bound) break;
      }
      if (j >= 0) continue;
      // A candidate: the exact float32 arithmetic of sqlite-vec, in dimension order.
      let res = 0;
      for (let i = 0; i < dim; i++) {
        const t = f(q[i] - data[o + i]);
        res = f(res + f(t * t));
      }
      if (filled === kk && res >= bestD[kk - 1]) continue;
      // Insertion into the sorted k best (k is small: 10 for normal patterns, 3 for incidents).
      let i = filled < kk ? filled++ : kk - 1;
      while (i > 0 && bestD[i - 1] > res) {
        bestD[i] = bestD[i - 1];
        bestP[i] = bestP[i - 1];
        i--;
      }
      bestD[i] = res;
      bestP[i] = p;
      if (filled === kk) bound = bestD[kk - 1] * MARGIN + TINY;
    }
    const out: IndexHit[] = new Array(filled);
    for (let i = 0; i < filled; i++) out[i] = { position: bestP[i], distance: f(Math.sqrt(bestD[i])) };
    return out;
  }
}
