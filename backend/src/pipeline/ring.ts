/**
 * Fixed-capacity ring of fixed-width rows in one Float64Array: the per-series history the detectors read.
 * No allocation per push; rows are addressed oldest (0) to newest (size - 1).
 */
export class RingMatrix {
  readonly data: Float64Array;
  /** A number per row given at push (an event series' window sequence number); absent in states saved before it. */
  private tags?: Float64Array;
  private head = 0;
  private n = 0;

  constructor(
    readonly capacity: number,
    readonly width: number,
  ) {
    this.data = new Float64Array(capacity * width);
  }

  get size(): number {
    return this.n;
  }

  push(row: ArrayLike<number>, tag = 0): void {
    this.data.set(row.length === this.width ? row : Array.from({ length: this.width }, (_, j) => row[j] ?? 0), this.head * this.width);
    (this.tags ??= new Float64Array(this.capacity))[this.head] = tag;
    this.head = (this.head + 1) % this.capacity;
    if (this.n < this.capacity) this.n++;
  }

  /** Physical offset of logical row i (0 = oldest). */
  private offset(i: number): number {
    return ((this.head - this.n + i + this.capacity) % this.capacity) * this.width;
  }

  get(i: number, j: number): number {
    return this.data[this.offset(i) + j];
  }

  /** A view of logical row i (valid until the next push). */
  row(i: number): Float64Array {
    const o = this.offset(i);
    return this.data.subarray(o, o + this.width);
  }

  /** Copies column j of the newest `count` rows (oldest first) into `out`; returns how many were copied. */
  column(j: number, out: Float64Array, count = this.n): number {
    const c = Math.min(count, this.n, out.length);
    const first = this.n - c;
    for (let i = 0; i < c; i++) out[i] = this.data[this.offset(first + i) + j];
    return c;
  }

  /**
   * Copies the newest `count` values of column j that are observed (not NaN) and whose row's tag is not in
   * `skip` (oldest first) into `out`, looking as far back as the ring goes; returns how many were copied.
   */
  columnSkipping(j: number, out: Float64Array, count: number, skip: ReadonlySet<number> | null): number {
    const c = Math.min(count, out.length);
    let k = 0;
    for (let i = this.n - 1; i >= 0 && k < c; i--) {
      const slot = (this.head - this.n + i + this.capacity) % this.capacity;
      if (skip && this.tags && skip.has(this.tags[slot])) continue;
      const v = this.data[slot * this.width + j];
      if (v === v) out[k++] = v;
    }
    out.subarray(0, k).reverse();
    return k;
  }

  /** The newest `count` rows as views, oldest first. */
  recent(count: number): Float64Array[] {
    const c = Math.min(count, this.n);
    const rows: Float64Array[] = [];
    for (let i = this.n - c; i < this.n; i++) rows.push(this.row(i));
    return rows;
  }
}
