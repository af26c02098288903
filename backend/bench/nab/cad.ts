/**
 * Contextual anomaly detection over a plain series (after Smirnov & Fomin's "Contextual Anomaly Detector",
 * CAD OSE on NAB's scoreboard; implemented here from a description of the algorithm, not from its code).
 *
 * The idea: each value is quantised into a few bins and written as a handful of binary "facts" (one per bit
 * of the bin number). A memory of contexts learns which facts follow which: a context is a pair (left facts,
 * right facts), the left side being what was true one step earlier (the previous value's facts plus the
 * contexts that were active then, as "neuron" facts) and the right side the facts that came next. At each
 * step the memory
 *   1. records the plain context (previous left group -> current facts), and notes whether it was new;
 *   2. checks every context whose left side held completely one step ago: it was "selected"; if its right
 *      side also holds now it is "active" (confirmed), and its track record (facts predicted / facts that came)
 *      is updated; partial overlaps of a context with the data, when the plain context was new, propose new,
 *      smaller contexts (the shared parts of both sides);
 *   3. makes the most often confirmed active contexts (at most 15) neuron facts of the next left group;
 *   4. predicts the next facts: the right sides of the contexts, fully matched by the new left group, with the
 *      best track record.
 * A point whose facts were all predicted scores 0; otherwise its score is
 *   (1 - share of selected contexts that were confirmed + share of proposed contexts that were new) / 2,
 * high when the past did not explain the present and the present taught the memory something new. After a
 * score of `alarm` or more the detector stays quiet for `rest` points.
 *
 * The quantisation needs a value range. NAB gave CAD OSE each file's min and max up front (look-ahead);
 * `CadScorer` takes the range per point from its caller, so a causal caller passes the range seen so far.
 */

/** Tunables of the context memory (the published defaults). */
export interface CadOptions {
  /** Bits of the bin number: values fall in 2^bits bins. @default 3 */
  bits?: number;
  /** A partial overlap proposes a new context only while its left part has at most this many facts. @default 7 */
  maxLeftFacts?: number;
  /** Active contexts carried into the next left group. @default 15 */
  maxActive?: number;
  /** A raw score at or above this silences the output for `rest` points. @default 0.75 */
  alarm?: number;
  /** Points of silence after a raw score >= `alarm` (the first `rest` points are silent too). @default 150 */
  rest?: number;
}

const LEFT = 0;
const RIGHT = 1;
/** Neuron facts (context ids) live above the sensor facts (2 per bit). */
const NEURON_BASE = 1 << 20;

/** One side of some contexts: a sorted set of facts, and how much of it the current data covers. */
interface Half {
  facts: number[];
  /** Facts of this half present in the last crossing, in increasing order. */
  hit: number[];
  /** For a left half: right half id -> context id. */
  next: Map<number, number>;
}

interface Context {
  /** Facts this context has predicted while selected. */
  predicted: number;
  /** Of those, facts that came. */
  came: number;
  /** Times its right side came in full while selected. */
  confirmed: number;
  /** Right side facts. */
  right: number[];
  /** Recorded at least once as a plain context (previous left group -> facts). */
  plain: boolean;
}

const keyOf = (facts: readonly number[]) => facts.join(',');

/** The context memory and its per-step bookkeeping. */
export class ContextMemory {
  private readonly halves: [Half[], Half[]] = [[], []];
  private readonly halfIds: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  private readonly byFact: [Map<number, Half[]>, Map<number, Half[]>] = [new Map(), new Map()];
  /** Halves with some fact present at their side's last crossing. */
  private crossed: [Half[], Half[]] = [[], []];
  private readonly contexts: Context[] = [];
  /** The plain context created at this step (not judged on the step that made it). */
  private fresh = -1;
  private leftGroup: number[] = [];
  predictions = new Set<number>();

  constructor(
    private readonly maxLeftFacts = 7,
    private readonly maxActive = 15,
  ) {}

  get size(): number {
    return this.contexts.length;
  }

  private half(side: number, facts: number[]): number {
    const key = keyOf(facts);
    let id = this.halfIds[side].get(key);
    if (id === undefined) {
      id = this.halves[side].length;
      const h: Half = { facts, hit: [], next: new Map() };
      this.halves[side].push(h);
      this.halfIds[side].set(key, id);
      for (const f of facts) {
        let list = this.byFact[side].get(f);
        if (!list) this.byFact[side].set(f, (list = []));
        list.push(h);
      }
    }
    return id;
  }

  /** Stores a context unless known; true when it is new. */
  private remember(left: number[], right: number[], plain: boolean): boolean {
    const l = this.halves[LEFT][this.half(LEFT, left)];
    const r = this.half(RIGHT, right);
    const known = l.next.get(r);
    if (known !== undefined) {
      if (plain) this.contexts[known].plain = true;
      return false;
    }
    const id = this.contexts.length;
    this.contexts.push({ predicted: 0, came: 0, confirmed: 0, right, plain });
    l.next.set(r, id);
    if (plain) this.fresh = id;
    return true;
  }

  /** Marks which facts of every half of `side` are present. */
  private cross(side: number, facts: readonly number[]): void {
    for (const h of this.crossed[side]) h.hit = [];
    const touched: Half[] = [];
    for (const f of facts) {
      for (const h of this.byFact[side].get(f) ?? []) {
        if (h.hit.length === 0) touched.push(h);
        h.hit.push(f);
      }
    }
    this.crossed[side] = touched;
  }

  /**
   * One step with the current point's facts (sorted). Returns the share of selected contexts confirmed and the
   * share of proposed contexts that were new; `predictions` then holds the facts expected next.
   */
  step(facts: number[]): { confirmedShare: number; newShare: number } {
    let plainIsNew = false;
    const proposals = new Map<string, [number[], number[]]>();
    if (this.leftGroup.length > 0) {
      plainIsNew = this.remember(this.leftGroup, facts, true);
      proposals.set(`${keyOf(this.leftGroup)}|${keyOf(facts)}`, [this.leftGroup, facts]);
    }
    this.cross(RIGHT, facts);

    // Judge the contexts whose left side was present one step ago.
    let selected = 0;
    const active: number[] = [];
    const offers: [number[], number[]][] = [];
    for (const l of this.crossed[LEFT]) {
      const full = l.hit.length === l.facts.length;
      for (const [rid, cid] of l.next) {
        if (cid === this.fresh) continue;
        const c = this.contexts[cid];
        const r = this.halves[RIGHT][rid];
        if (full) {
          selected++;
          c.predicted += r.facts.length;
          if (r.hit.length === 0) continue;
          c.came += r.hit.length;
          if (r.hit.length === r.facts.length) {
            c.confirmed++;
            active.push(cid);
            continue;
          }
        } else if (r.hit.length === 0) continue;
        // A partial overlap of a plain context, on a step that met something new: its shared parts may be a
        // context of their own.
        if (c.plain && plainIsNew && l.hit.length <= this.maxLeftFacts) offers.push([l.hit.slice(), r.hit.slice()]);
      }
    }
    this.fresh = -1;
    const confirmedShare = selected > 0 ? active.length / selected : 0;

    // The most often confirmed active contexts join the next left group (ties: the older context first).
    active.sort((a, b) => this.contexts[b].confirmed - this.contexts[a].confirmed || a - b);
    const group = new Set<number>(facts);
    for (let i = 0; i < Math.min(this.maxActive, active.length); i++) group.add(NEURON_BASE + active[i]);
    this.leftGroup = [...group].sort((a, b) => a - b);

    let added = 0;
    for (const [left, right] of offers) {
      proposals.set(`${keyOf(left)}|${keyOf(right)}`, [left, right]);
      if (this.remember(left, right, false)) added++;
    }
    if (plainIsNew) added++;
    const newShare = plainIsNew && proposals.size > 0 ? added / proposals.size : 0;

    // Predict: the right sides of the fully matched contexts with the best record (a tie at 0 included).
    this.cross(LEFT, this.leftGroup);
    let best = 0;
    let chosen: Context[] = [];
    for (const l of this.crossed[LEFT]) {
      if (l.hit.length !== l.facts.length) continue;
      for (const cid of l.next.values()) {
        const c = this.contexts[cid];
        const w = c.predicted > 0 ? c.came / c.predicted : 0;
        if (w > best) {
          best = w;
          chosen = [c];
        } else if (w === best) chosen.push(c);
      }
    }
    this.predictions = new Set<number>();
    for (const c of chosen) for (const f of c.right) this.predictions.add(f);
    return { confirmedShare, newShare };
  }
}

/** The CAD score of a plain series, one point at a time; the caller gives the value range to quantise with. */
export class CadScorer {
  private readonly memory: ContextMemory;
  private readonly bins: number;
  private readonly bits: number;
  private readonly alarm: number;
  private readonly rest: number;
  /** Index of the last raw score >= alarm (the start counts as one). */
  private lastAlarm = 0;
  private n = 0;

  constructor(options: CadOptions = {}) {
    this.bits = options.bits ?? 3;
    this.bins = 2 ** this.bits - 1;
    this.alarm = options.alarm ?? 0.75;
    this.rest = options.rest ?? 150;
    this.memory = new ContextMemory(options.maxLeftFacts ?? 7, options.maxActive ?? 15);
  }

  /** Sensor facts of a value: bit k of its bin number b as fact 2k + b (sorted). */
  facts(value: number, min: number, max: number): number[] {
    const span = max - min > 0 ? max - min : this.bins;
    const bin = Math.min(this.bins, Math.max(0, Math.floor((value - min) / (span / this.bins))));
    const out: number[] = [];
    for (let k = 0; k < this.bits; k++) out.push(2 * k + ((bin >> k) & 1));
    return out;
  }

  /** Raw score of the next point (also learns it); `score` applies the rest period. */
  raw(value: number, min: number, max: number): number {
    const facts = this.facts(value, min, max);
    const surprised = facts.some((f) => !this.memory.predictions.has(f));
    const { confirmedShare, newShare } = this.memory.step(facts);
    return surprised ? (1 - confirmedShare + newShare) / 2 : 0;
  }

  /** Score of the next point: its raw score unless a raw score >= alarm came within the last `rest` points. */
  score(value: number, min: number, max: number): number {
    const raw = this.raw(value, min, max);
    this.n++;
    // The first `rest` points are silent (as if the series had just alarmed before its first point).
    const quiet = this.n - this.lastAlarm <= this.rest;
    if (raw >= this.alarm) this.lastAlarm = this.n;
    return quiet ? 0 : raw;
  }

  get contexts(): number {
    return this.memory.size;
  }
}
