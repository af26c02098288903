import type { AnomalyType, Attribution, Severity } from '../domain/types';
import { typeForFeature, type DetectorScore } from '../detectors/runner';
import type { FeatureBaseline } from '../detectors/types';
import { knnDetector } from '../detectors/knn';
import type { SeriesKind } from './series-state';

/** The detector that judges a point's recent shape rather than its value. */
const SHAPE_DETECTOR = knnDetector.name;
/**
 * A point of a plain series alerts on its own only when its recent shape is at least this close to kNN's
 * boundary (calibrated kNN score): a high value in a shape the series has shown before (the daily peak, the
 * spike it has every few hours) is what it normally does. Measured on NAB, offline on step 10's scores with
 * the lagged range: 0.7 / 0.8 / 0.9 / 1.0 gave 67.2 / 67.8 / 67.7 / 67.0 (ungated 64.7).
 */
const SHAPE_GATE = 0.8;
/**
 * The shape gate stays open when every value detector puts the point at least this far past its boundary:
 * a value six times past what robust z, the EWMA and the seasonal forecast each call normal is news in any
 * shape (NAB's rogue_agent_key_updown, first window: 50.9 among values of 0-15, robust z 10.5, EWMA 10.8,
 * seasonal 9.9, in a shape kNN scored 0.18, so capped at 0.99 and missed). One value detector far out is its
 * own blind spot, hence the lowest of them, not the highest (the shape gate waived for the highest value
 * score, 4-20, lost on NAB: step 15a). Measured on NAB (docs/BENCHMARKS.md, step 33): floor 4 / 6 / 8 / 10
 * offline +0.36 / +0.51 / +0.51 / -0.09; real run at 6 73.98 -> 74.49, one window more, one false row more.
 */
const VALUE_GATE = 6;
/** Where a gated point's (or a dismissed window's) score is capped: just below the boundary of normal. */
export const BELOW_BOUNDARY = 0.99;

/** The combined verdict of all detectors on one window. */
export interface EnsembleResult {
  /** Calibrated: <= 1 normal, > 1 anomalous. */
  score: number;
  type: AnomalyType;
  severity: Severity;
  attributions: Attribution[];
  /** Calibrated score per detector. */
  detectors: Record<string, number>;
}

/**
 * Combines calibrated detector scores. Statistical detectors look at the same window through different
 * lenses (robust baseline, EWMA, seasonal forecast, nearest normal patterns), and one of them alone past
 * its boundary is mostly that detector's own blind spot (a bimodal series fools the median, a new shape
 * fools kNN). So the statistical score is the SECOND highest calibrated score: a window is anomalous only
 * when at least two detectors independently put it past their boundary (the single score when only one
 * detector has an opinion yet). Measured: NAB 12-file subset 28.5 (mean of top two) -> 39.6; demo clean
 * hour 2 -> 1 false alarm, all 5 incidents still found. Rule-based detectors encode a specific LLM failure
 * and count on their own. The ensemble score is the larger of the two.
 */
export function combine(
  scores: readonly DetectorScore[],
  kind: SeriesKind = 'events',
): { score: number; level: number; winner: DetectorScore | undefined } {
  let top1: DetectorScore | undefined;
  let top2: DetectorScore | undefined;
  let rule: DetectorScore | undefined;
  let value: DetectorScore | undefined;
  let shape: DetectorScore | undefined;
  /** The lowest value detector's score: how far past its boundary every view of the value is. */
  let valueFloor = Infinity;
  for (const s of scores) {
    if (Number.isNaN(s.threshold)) continue;
    if (s.output.calibrated) {
      if (!rule || s.score > rule.score) rule = s;
      continue;
    }
    if (s.name === SHAPE_DETECTOR) shape = s;
    else {
      if (!value || s.score > value.score) value = s;
      if (s.score < valueFloor) valueFloor = s.score;
    }
    if (!top1 || s.score > top1.score) {
      top2 = top1;
      top1 = s;
    } else if (!top2 || s.score > top2.score) top2 = s;
  }
  let stat = top1 ? (top2 ? top2.score : top1.score) : 0;
  let level = stat;
  let statWinner = top1;
  if (kind === 'points' && value && shape) {
    // A plain series has one value per point, so robust z, EWMA and the seasonal forecast all judge the
    // same number and fail together (a sharp but daily edge fools all three); the kNN distance of the
    // recent subsequence is the only view of its shape. A point is anomalous when its value is unusual
    // AND its recent shape is new: the geometric mean of the most deviating value detector and kNN, and
    // not past the boundary at all unless kNN itself is near its own (SHAPE_GATE). The ungated mean is
    // the point's level, which the sustained score averages: a run of unusual values in familiar shapes
    // still adds up to a sustained anomaly.
    level = Math.sqrt(value.score * shape.score);
    stat = shape.score >= SHAPE_GATE || valueFloor >= VALUE_GATE ? level : Math.min(level, BELOW_BOUNDARY);
    statWinner = value.score >= shape.score ? value : shape;
  }
  const ruleScore = rule?.score ?? 0;
  level = Math.max(level, ruleScore);
  return ruleScore >= stat ? { score: ruleScore, level, winner: rule ?? statWinner } : { score: stat, level, winner: statWinner };
}

/** Severity bands of the calibrated score. */
export function severityFor(score: number, type: AnomalyType): Severity {
  const s = score > 4 ? 'critical' : score > 2.5 ? 'high' : score > 1.5 ? 'medium' : 'low';
  // A burst of jailbreak / injection attempts is never "low": someone is probing the application.
  if (type === 'security_pattern' && (s === 'low' || s === 'medium')) return 'high';
  return s;
}

/**
 * Per-feature attributions: the features whose robust z is largest, with the expected value (baseline
 * centre) and the band within which the robust-z detector would call the window normal.
 */
export function attributions(
  featureNames: readonly string[],
  features: Float64Array,
  baseline: FeatureBaseline,
  z: Float64Array | undefined,
  zThresholds: Float64Array,
  max = 5,
  nonNegative = false,
): Attribution[] {
  if (!z) return [];
  // Rank by how far past its own band each feature is, not by raw z: features differ in tail weight.
  const rel = (j: number) => Math.abs(z[j]) / zThresholds[j];
  const order = Array.from(z.keys()).sort((a, b) => rel(b) - rel(a));
  const out: Attribution[] = [];
  for (const j of order) {
    if (out.length >= max) break;
    if (out.length > 0 && rel(j) < 0.5) break;
    const expected = baseline.center[j];
    const half = zThresholds[j] * baseline.scale[j];
    out.push({
      feature: featureNames[j],
      actual: round(features[j]),
      expected: round(expected),
      lower: round(nonNegative ? Math.max(0, expected - half) : expected - half),
      upper: round(expected + half),
      z: round(z[j]),
    });
  }
  return out;
}

/** Whether an attributed feature is outside the band within which robust z calls it normal. */
export function outsideBand(a: Attribution): boolean {
  return a.actual < a.lower || a.actual > a.upper;
}

/** The strongest rule past its boundary that names a type (a specific LLM failure), if any. */
export function typedRule(scores: readonly DetectorScore[]): DetectorScore | undefined {
  let top: DetectorScore | undefined;
  for (const s of scores) if (s.output.calibrated && s.output.type && s.score > 1 && (!top || s.score > top.score)) top = s;
  return top;
}

/** Type from the winning detector, or from the most deviating feature. */
export function typeFor(winner: DetectorScore | undefined, attrs: readonly Attribution[], scores: readonly DetectorScore[] = []): AnomalyType {
  // A rule past its boundary names a specific LLM failure: more precise than the top-moving feature.
  const rule = typedRule(scores);
  if (rule) return rule.output.type!;
  if (winner?.output.type) return winner.output.type;
  if (!attrs.length) return 'other';
  const lead = typeForFeature(attrs[0].feature);
  // Latency that dropped (requests failing fast, cache hits) is no spike: `other`, the evidence says
  // "latency_p95_ms down to ...". Before, a drop was typed latency_spike and routed as one.
  if (lead === 'latency_spike' && attrs[0].z < 0) return 'other';
  return FOLLOWS_OUTPUT.has(lead) && outputBlowup(attrs) ? 'output_blowup' : lead;
}

/** Types whose lead feature can be a consequence of longer answers: more output tokens take longer and cost more. */
const FOLLOWS_OUTPUT = new Set<AnomalyType>(['traffic_spike', 'latency_spike', 'cost_spike', 'output_blowup']);

/**
 * Each request answers with more tokens than usual (output_tokens_mean past its band, upwards) while the
 * number of requests is not: the model rambles. Its token sums, latency and cost follow and often move
 * further in z, so the lead feature alone typed it a traffic or latency spike (QA: 0 of 12 output-token
 * blow-ups typed output_blowup; the rule's 2,000-token mean is out of reach for models answering in 30-200).
 */
function outputBlowup(attrs: readonly Attribution[]): boolean {
  const out = attrs.find((a) => a.feature === 'output_tokens_mean');
  const requests = attrs.find((a) => a.feature === 'request_count');
  return out !== undefined && out.z > 0 && outsideBand(out) && !(requests && outsideBand(requests));
}

function round(x: number): number {
  return Math.abs(x) >= 1000 ? Math.round(x) : Math.round(x * 1000) / 1000;
}
