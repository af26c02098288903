import { medianInPlace } from '@llm-sentinel/embeddings';
import type { AnomalyType } from '../domain/types';
import { FEATURE_INDEX as F } from '../windowing/features';
import type { Detector, DetectionInput, DetectorOutput } from './types';

/**
 * What a request costs, how long it takes, how much it answers: levels a slow drift moves without any window
 * standing out. Each with the type its drift is and the smallest rise worth a page (100 ms, 50 tokens a request;
 * cost has none, its scale is the price list's). Listed cause first: longer answers take longer and cost more.
 */
const TRACKED: readonly { name: string; label: string; unit: string; type: AnomalyType; minimum: number; value: (f: Float64Array) => number }[] = [
  { name: 'output_tokens_mean', label: 'output tokens per request', unit: '', type: 'output_blowup', minimum: 50, value: (f) => f[F.output_tokens_mean] },
  { name: 'latency_p50_ms', label: 'median latency', unit: ' ms', type: 'latency_spike', minimum: 100, value: (f) => f[F.latency_p50_ms] },
  { name: 'cost_per_request', label: 'cost per request', unit: ' USD', type: 'cost_spike', minimum: 0, value: (f) => (f[F.request_count] > 0 ? f[F.cost_usd] / f[F.request_count] : NaN) },
];

/** Windows of a level: their median is what the series does now (a burst, or a mix that makes answers 3x longer for 25 minutes every hour, is not a level). */
const SHORT = 60;
/** Windows between two kept levels. */
const BLOCK = 30;
/** Kept levels before the current rise that make its reference: 6 h of 1-minute windows. */
const LONG_BLOCKS = 12;
/** Fewest kept levels of reference before the detector has an opinion (2 h of 1-minute windows). */
const MIN_BLOCKS = 4;
/** A rise that has lasted this many kept levels (4 h of 1-minute windows) is the series' new normal. */
const ADOPT_BLOCKS = 8;
/** Levels kept: a day and its margin (30 h of 1-minute windows), for "this time yesterday". */
const KEPT_BLOCKS = 60;
/** The recent level must be this many times the reference's median level... */
const RATIO = 1.3;
/** ...and this many times its highest level (the series' own wander: what it did in the last 6 h or this time yesterday is not a drift). */
const ENVELOPE = 1.2;
/** Kept levels the rise must already have (each above every level before it): a level that has just jumped is the other detectors' finding. */
const MIN_RISE = 1;
const DAY_MS = 86_400_000;
/** How far from this time yesterday a level still counts as "this time yesterday". */
const YESTERDAY_REACH_MS = 90 * 60_000;

interface DriftState {
  /** Per tracked feature, the observed values (NaN: not observed) of the last SHORT windows with requests, a ring. */
  recent: Float32Array;
  /** Windows pushed so far (with requests). */
  pushed: number;
  /** Per tracked feature, the level (median of SHORT windows) every BLOCK windows, the last KEPT_BLOCKS of them, a ring. */
  levels: Float32Array;
  /** Per tracked feature and kept level, the highest level of the BLOCK windows up to it. */
  peaks: Float32Array;
  /** Per tracked feature, the highest level since the last kept one. */
  peak: Float32Array;
  /** End (epoch ms) of each kept block, shared by the features. */
  ends: Float64Array;
  blocks: number;
  /** Per tracked feature: whether its last window was past the boundary (a drift in progress). */
  on: Uint8Array;
}

function init(): DriftState {
  return {
    recent: new Float32Array(TRACKED.length * SHORT).fill(NaN),
    pushed: 0,
    levels: new Float32Array(TRACKED.length * KEPT_BLOCKS).fill(NaN),
    peaks: new Float32Array(TRACKED.length * KEPT_BLOCKS).fill(NaN),
    peak: new Float32Array(TRACKED.length).fill(NaN),
    ends: new Float64Array(KEPT_BLOCKS),
    blocks: 0,
    on: new Uint8Array(TRACKED.length),
  };
}

const scratch = new Float64Array(Math.max(SHORT, KEPT_BLOCKS) + 1);

/** Median of the last SHORT windows of feature t (with `current` as the newest when given), NaN on too few. */
function recentLevel(s: DriftState, t: number, current: number | null): number {
  let n = 0;
  const head = s.pushed % SHORT;
  // With `current`, the oldest of the ring (the slot `current` would take) is left out.
  for (let k = 0; k < SHORT; k++) {
    if (current !== null && k === head) continue;
    const x = s.recent[t * SHORT + k];
    if (Number.isFinite(x)) scratch[n++] = x;
  }
  if (current !== null && Number.isFinite(current)) scratch[n++] = current;
  return n >= SHORT / 2 ? medianInPlace(scratch, n) : NaN;
}

/** The i-th newest kept block (0 = newest) of feature t: its level and end. */
function block(s: DriftState, t: number, i: number): { level: number; peak: number; end: number } {
  const at = (s.blocks - 1 - i + KEPT_BLOCKS * 2) % KEPT_BLOCKS;
  return { level: s.levels[t * KEPT_BLOCKS + at], peak: s.peaks[t * KEPT_BLOCKS + at], end: s.ends[at] };
}

interface Reference {
  /** Median and highest level of the reference blocks (the LONG_BLOCKS before the rise, and this time yesterday). */
  median: number;
  highest: number;
  /** End of the last block before the rise (when it began), or of the newest block when there is no rise. */
  since: number;
  yesterday: boolean;
}

/**
 * The reference of feature t at time `now`: the LONG_BLOCKS levels before the current rise, and those within
 * YESTERDAY_REACH_MS of this time yesterday. The rise is the newest blocks that are all above every level before
 * them (at most ADOPT_BLOCKS: a rise that lasted longer is the new normal): a drift's own early levels must not
 * become its reference. Null with fewer than MIN_BLOCKS levels, or without a rise of MIN_RISE levels.
 */
function reference(s: DriftState, t: number, now: number): Reference | null {
  const kept = Math.min(s.blocks, KEPT_BLOCKS);
  let rise = 0;
  let lowestOfRise = Infinity;
  for (let j = 1; j <= ADOPT_BLOCKS && j + MIN_BLOCKS <= kept; j++) {
    const b = block(s, t, j - 1).level;
    if (b < lowestOfRise) lowestOfRise = b;
    let highestBefore = -Infinity;
    for (let i = j; i < Math.min(kept, j + LONG_BLOCKS); i++) {
      const x = block(s, t, i).level;
      if (x > highestBefore) highestBefore = x;
    }
    if (lowestOfRise > highestBefore) rise = j;
  }
  let n = 0;
  let highest = -Infinity;
  for (let i = rise; i < Math.min(kept, rise + LONG_BLOCKS); i++) {
    const b = block(s, t, i);
    if (!Number.isFinite(b.level)) continue;
    scratch[n++] = b.level;
    if (b.peak > highest) highest = b.peak;
  }
  if (n < MIN_BLOCKS || rise < MIN_RISE) return null;
  // No opinion before the series has a day of levels: the first rise of a daily cycle has no "this time
  // yesterday" to compare with, and a day-one install paged drifts on series whose latency follows the day
  // (a +-40 % cycle: 1-6 incidents on day one, none after).
  if (!(block(s, t, kept - 1).end <= now - DAY_MS + YESTERDAY_REACH_MS)) return null;
  const median = medianInPlace(scratch, n);
  let yesterday = false;
  for (let i = rise + LONG_BLOCKS; i < kept; i++) {
    const b = block(s, t, i);
    if (Math.abs(b.end - (now - DAY_MS)) <= YESTERDAY_REACH_MS && b.peak > highest) {
      highest = b.peak;
      yesterday = true;
    }
  }
  return { median, highest, since: block(s, t, rise).end, yesterday };
}

/** Feature t's recent level (with `current` as the newest window, when given), its reference and the raw score. */
function drift(s: DriftState, t: number, current: number | null, now: number): { raw: number; recent: number; ref: Reference } | null {
  const recent = recentLevel(s, t, current);
  const ref = recent > 0 ? reference(s, t, now) : null;
  if (!(ref && ref.median > 0)) return null;
  const f = TRACKED[t];
  const raw = Math.min(recent / (RATIO * ref.median), recent / (ENVELOPE * ref.highest), f.minimum > 0 ? (recent - ref.median) / f.minimum : Infinity);
  return { raw: Math.max(0, raw), recent, ref };
}

const fmt = (x: number) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : Math.abs(x) >= 1 ? x.toFixed(1).replace(/\.0$/, '') : x.toPrecision(2));
const duration = (ms: number) => (ms >= 5_400_000 ? `${fmt(ms / 3_600_000)} h` : `${Math.round(ms / 60_000)} minutes`);

/**
 * Slow drift of an event series: the median output tokens, latency or cost per request of its last 60 windows
 * against its levels before the current rise. A level that creeps up (2x over 3 hours) never makes one window
 * stand out: each is close to the ones before, and the 60-window baseline and the EWMA follow it. Every 30
 * windows the detector keeps the series' level; the reference is the 12 kept levels (6 h of 1-minute windows)
 * before the current rise (the newest kept levels that are all above every one of the 12 before them, at most
 * 8: a rise that lasted 4 h is the new normal) and those of this time yesterday. It fires when the recent level
 * is RATIO times the reference's median, ENVELOPE times its highest level and the feature's minimum above the
 * median: the series' own hourly mix or daily cycle is within what it did. A rule (calibrated: 1 at the
 * boundary), typed by the feature that drifted (docs/DETECTION.md, "Slow drift").
 */
export const driftDetector: Detector = {
  name: 'drift',
  floor: 1,
  appliesTo: (kind) => kind === 'events',
  detect(input: DetectionInput): DetectorOutput | null {
    const s = input.state.state<DriftState | null>('drift', () => null);
    if (!s) return null;
    const observed = input.observed ?? input.features;
    // A window without requests observes no level: a drift in progress goes on through it (a quiet series'
    // empty minutes otherwise ended its drift incident every few windows), none begins in it.
    const empty = !(observed[F.request_count] > 0);
    let best: DetectorOutput | null = null;
    for (let t = 0; t < TRACKED.length; t++) {
      if (empty && !s.on[t]) continue;
      const d = drift(s, t, empty ? null : TRACKED[t].value(observed), input.end);
      if (!d) continue;
      const raw = d.raw;
      // Past the boundary, the earlier tracked feature (the cause) names the drift; below it, the strongest.
      if (best && (best.raw > 1 || raw <= best.raw)) continue;
      const f = TRACKED[t];
      const { recent, ref } = d;
      best = {
        raw,
        calibrated: true,
        type: f.type,
        finding: f.name,
        reason:
          `${f.label} drifted up from ${fmt(ref.median)}${f.unit} to ${fmt(recent)}${f.unit} (${(recent / ref.median).toFixed(1)}x) over ${duration(input.end - ref.since)}; ` +
          `its highest level before was ${fmt(ref.highest)}${f.unit}${ref.yesterday ? ' (this time yesterday)' : ''} (levels: medians of ${SHORT} windows)`,
      };
    }
    return best;
  },
  update(input: DetectionInput): void {
    let s = input.state.state<DriftState | null>('drift', () => null);
    if (!s) input.state.detectorState.set('drift', (s = init()));
    const observed = input.observed ?? input.features;
    // An empty window observes no level (a silence is the traffic rules' finding).
    if (!(observed[F.request_count] > 0)) return;
    const head = s.pushed % SHORT;
    for (let t = 0; t < TRACKED.length; t++) {
      s.recent[t * SHORT + head] = TRACKED[t].value(observed);
      const level = recentLevel(s, t, null);
      if (Number.isFinite(level) && !(level <= s.peak[t])) s.peak[t] = level;
    }
    s.pushed++;
    // Whether a drift is in progress after this window (as detect scored it).
    for (let t = 0; t < TRACKED.length; t++) {
      const d = drift(s, t, null, input.end);
      s.on[t] = d && d.raw > 1 ? 1 : 0;
    }
    if (s.pushed % BLOCK !== 0) return;
    const at = s.blocks % KEPT_BLOCKS;
    for (let t = 0; t < TRACKED.length; t++) {
      s.levels[t * KEPT_BLOCKS + at] = recentLevel(s, t, null);
      s.peaks[t * KEPT_BLOCKS + at] = s.peak[t];
      s.peak[t] = NaN;
    }
    s.ends[at] = input.end;
    s.blocks++;
  },
};
