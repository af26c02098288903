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

/** Newest patterns whose distances seed the pruning bound. */
const WARM_START = 32;
/** Coordinates in the compact lower-bound matrix (the highest-variance ones). */
const BOUND_DIMS = 16;

/**
 * The patterns of one partition: vectors in one growable float32 matrix, with their row ids, ids,
 * timestamps and metadata, in insertion (row id) order. A second, compact matrix holds each vector's
 * BOUND_DIMS highest-variance coordinates: the squared distance over them is a lower bound of the full
 * one, read from 64 contiguous bytes per pattern, and rules out about 97% of a series' patterns.
 */
export class PatternPartition {
  size = 0;
  private vecs: Float32Array;
  private compact: Float32Array;
  /** The coordinates in `compact`, and the size at which they were last chosen. */
  private coords: Int32Array;
  private chosenAt = 0;
  rowids: Float64Array;
  timestamps: Float64Array;
  ids: string[] = [];
  metas: (string | null)[] = [];
  /** Scratch reused across searches: the k best (squared float32 distance, position), the query's coordinates. */
  private bestD = new Float64Array(16);
  private bestP = new Int32Array(16);
  private readonly qc: Float64Array;
  private readonly sample = new Float64Array(WARM_START);

  constructor(
    readonly dim: number,
    capacity = 64,
  ) {
    // A multiple of 4: the bound is summed in 4 independent chains (a single chain is bound by the
    // latency of floating-point adds, about 4x slower).
    const m = Math.min(BOUND_DIMS, dim & ~3);
    this.vecs = new Float32Array(capacity * dim);
    this.compact = new Float32Array(capacity * m);
    this.rowids = new Float64Array(capacity);
    this.timestamps = new Float64Array(capacity);
    this.qc = new Float64Array(Math.max(m, 8));
    // Until there is data to choose from: the last coordinates (the embedders put the current window and
    // the level terms last).
    this.coords = Int32Array.from({ length: m }, (_, i) => dim - 1 - i);
  }

  /** Bytes held (for the store's memory budget): matrices, row data, and about 64 bytes per id. */
  get bytes(): number {
    return this.vecs.byteLength + this.compact.byteLength + this.rowids.byteLength + this.timestamps.byteLength + this.size * 80;
  }

  /** The vector at a position (a view, valid until the next change). */
  vector(position: number): Float32Array {
    return this.vecs.subarray(position * this.dim, (position + 1) * this.dim);
  }

  append(rowid: number, id: string, timestamp: number, vector: ArrayLike<number>, meta: string | null): void {
    if (this.size === this.rowids.length) this.grow(Math.max(64, Math.ceil(this.size * 1.5)));
    const i = this.size++;
    const o = i * this.dim;
    for (let j = 0; j < this.dim; j++) this.vecs[o + j] = vector[j];
    const m = this.coords.length;
    for (let c = 0; c < m; c++) this.compact[i * m + c] = this.vecs[o + this.coords[c]];
    this.rowids[i] = rowid;
    this.timestamps[i] = timestamp;
    this.ids[i] = id;
    this.metas[i] = meta;
    // Re-choose the bound's coordinates as the partition grows (any choice is a valid bound; a good
    // one prunes more).
    if (this.size >= 32 && this.size >= 2 * this.chosenAt) this.chooseCoords();
  }

  /** Removes the rows with these row ids, keeping the order of the others. Returns how many went. */
  remove(rowids: ReadonlySet<number>): number {
    let w = 0;
    const d = this.dim;
    const m = this.coords.length;
    for (let r = 0; r < this.size; r++) {
      if (rowids.has(this.rowids[r])) continue;
      if (w !== r) {
        this.vecs.copyWithin(w * d, r * d, (r + 1) * d);
        this.compact.copyWithin(w * m, r * m, (r + 1) * m);
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
    const m = this.coords.length;
    const compact = new Float32Array(capacity * m);
    compact.set(this.compact.subarray(0, this.size * m));
    this.compact = compact;
    for (const name of ['rowids', 'timestamps'] as const) {
      const a = new Float64Array(capacity);
      a.set(this[name].subarray(0, this.size));
      this[name] = a;
    }
  }

  /** Picks the highest-variance coordinates and rebuilds the compact matrix. */
  private chooseCoords(): void {
    const n = this.size;
    const d = this.dim;
    const mean = new Float64Array(d);
    const sq = new Float64Array(d);
    for (let p = 0; p < n; p++) {
      for (let j = 0; j < d; j++) {
        const x = this.vecs[p * d + j];
        mean[j] += x;
        sq[j] += x * x;
      }
    }
    const variance = Array.from({ length: d }, (_, j) => sq[j] / n - (mean[j] / n) ** 2);
    const order = Array.from({ length: d }, (_, j) => j).sort((a, b) => variance[b] - variance[a] || b - a);
    const m = this.coords.length;
    this.coords = Int32Array.from(order.slice(0, m));
    for (let p = 0; p < n; p++) for (let c = 0; c < m; c++) this.compact[p * m + c] = this.vecs[p * d + this.coords[c]];
    this.chosenAt = n;
  }

  /** Squared distance in float64 to row p (within ~1e-15 of exact). */
  private squaredDistance(q: Float32Array, p: number): number {
    const o = p * this.dim;
    let s = 0;
    for (let j = 0; j < this.dim; j++) {
      const t = q[j] - this.vecs[o + j];
      s += t * t;
    }
    return s;
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
    const compact = this.compact;
    const coords = this.coords;
    const m = coords.length;
    const qc = this.qc;
    for (let c = 0; c < m; c++) qc[c] = q[coords[c]];
    const q0 = qc[0];
    const q1 = qc[1];
    const q2 = qc[2];
    const q3 = qc[3];
    const q4 = qc[4];
    const q5 = qc[5];
    const q6 = qc[6];
    const q7 = qc[7];
    let filled = 0;
    const f = Math.fround;
    const d4 = dim & ~3;
    // Pruning bound on the squared distance, an upper bound of the k-th nearest one: start from the k-th
    // nearest of the newest patterns (recent windows tend to resemble the current one), so the scan
    // prunes from its first row; then the k-th nearest held so far.
    let bound = Infinity;
    if (n >= 4 * WARM_START) {
      const sample = this.sample;
      for (let i = 0; i < WARM_START; i++) sample[i] = this.squaredDistance(q, n - 1 - i);
      sample.sort();
      if (kk <= WARM_START) bound = sample[kk - 1] * MARGIN + TINY;
    }
    for (let p = 0; p < n; p++) {
      // 1. Lower bound from the compact coordinates (a subset of the terms of the full sum), in four
      //    independent chains; the first 8 with the query's coordinates in registers, which already rules
      //    out most rows, then the other 8.
      const oc = p * m;
      let a0 = 0;
      let a1 = 0;
      let a2 = 0;
      let a3 = 0;
      let c = 0;
      if (m >= 8) {
        let t = q0 - compact[oc];
        a0 = t * t;
        t = q1 - compact[oc + 1];
        a1 = t * t;
        t = q2 - compact[oc + 2];
        a2 = t * t;
        t = q3 - compact[oc + 3];
        a3 = t * t;
        t = q4 - compact[oc + 4];
        a0 += t * t;
        t = q5 - compact[oc + 5];
        a1 += t * t;
        t = q6 - compact[oc + 6];
        a2 += t * t;
        t = q7 - compact[oc + 7];
        a3 += t * t;
        if (a0 + a1 + a2 + a3 > bound) continue;
        c = 8;
      }
      for (; c < m; c += 4) {
        const t0 = qc[c] - compact[oc + c];
        const t1 = qc[c + 1] - compact[oc + c + 1];
        const t2 = qc[c + 2] - compact[oc + c + 2];
        const t3 = qc[c + 3] - compact[oc + c + 3];
        a0 += t0 * t0;
        a1 += t1 * t1;
        a2 += t2 * t2;
        a3 += t3 * t3;
      }
      if (a0 + a1 + a2 + a3 > bound) continue;
      // 2. The full squared distance in float64 (within ~1e-15 of exact, so only true contenders pass).
      const o = p * dim;
      a0 = a1 = a2 = a3 = 0;
      let j = 0;
      for (; j < d4; j += 4) {
        const t0 = q[j] - data[o + j];
        const t1 = q[j + 1] - data[o + j + 1];
        const t2 = q[j + 2] - data[o + j + 2];
        const t3 = q[j + 3] - data[o + j + 3];
        a0 += t0 * t0;
        a1 += t1 * t1;
        a2 += t2 * t2;
        a3 += t3 * t3;
      }
      for (; j < dim; j++) {
        const t = q[j] - data[o + j];
        a0 += t * t;
      }
      if (a0 + a1 + a2 + a3 > bound) continue;
      // 3. A contender: the exact float32 arithmetic of sqlite-vec, in dimension order.
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
