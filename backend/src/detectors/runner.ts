import type { Logger } from '../logger';
import type { AnomalyType } from '../domain/types';
import { YOUNG_OWN_SAMPLES, calibratedThreshold, featureKey, type ScoreReservoir } from './calibration';
import type { Detector, DetectionInput, DetectorOutput } from './types';

/**
 * Deviations beyond this many standard deviations are all "off the scale": capping keeps one degenerate
 * series from outranking every real anomaly elsewhere.
 */
const MAX_Z = 1000;

/** Own samples below which a series' threshold is no lower than the pooled one (event series only). */
const youngUntil = (kind: 'events' | 'points') => (kind === 'events' ? YOUNG_OWN_SAMPLES : 0);

/** One detector's contribution after calibration. */
export interface DetectorScore {
  name: string;
  output: DetectorOutput;
  /** Raw score divided by the calibrated threshold: 1 is the boundary of normal; 0 while uncalibrated. */
  score: number;
  /** NaN while the detector is not calibrated yet; 1 for per-feature and rule detectors. */
  threshold: number;
  /** Per-feature detectors: the calibrated |z| threshold of each feature (NaN where not calibrated). */
  featureThresholds?: Float64Array;
}

/** Pooled score reservoirs per detector and series kind, the calibration prior of young series. */
export type PooledCalibration = Map<string, ScoreReservoir>;

/**
 * Runs every applicable detector on one window. Each is isolated: one that throws or returns garbage is
 * logged (at most once a minute per detector) and contributes nothing; the others still score.
 */
export class DetectorRunner {
  private readonly lastError = new Map<string, number>();

  constructor(
    readonly detectors: readonly Detector[],
    private readonly log: Logger,
    private readonly sensitivity: number,
    private readonly pooled: PooledCalibration,
    private readonly onError: (detector: string) => void = () => {},
  ) {}

  async run(input: DetectionInput): Promise<DetectorScore[]> {
    const out: DetectorScore[] = [];
    for (const d of this.detectors) {
      if (!d.appliesTo(input.state.kind)) continue;
      let output: DetectorOutput | null;
      try {
        output = await d.detect(input);
      } catch (err) {
        this.fail(d.name, err);
        continue;
      }
      if (!output || !Number.isFinite(output.raw) || output.raw < 0) continue;
      if (!output.calibrated && output.featureZ) {
        out.push(this.perFeature(d, output, input));
        continue;
      }
      const threshold = output.calibrated
        ? 1
        : calibratedThreshold(input.state.calibration.get(d.name), this.pooled.get(`${input.state.kind}:${d.name}`), d.floor, this.sensitivity, youngUntil(input.state.kind));
      // Uncalibrated: keep the raw score (it feeds calibration) but give no opinion (score 0).
      out.push({ name: d.name, output, score: threshold === undefined ? 0 : output.raw / threshold, threshold: threshold ?? NaN });
    }
    return out;
  }

  /** Score of a per-feature detector: the largest |z_j| / T_j over features calibrated so far. */
  private perFeature(d: Detector, output: DetectorOutput, input: DetectionInput): DetectorScore {
    const z = output.featureZ!;
    const thresholds = new Float64Array(z.length);
    const { state } = input;
    let best = 0;
    let calibrated = false;
    for (let j = 0; j < z.length; j++) {
      const key = featureKey(d.name, j);
      const t = calibratedThreshold(state.calibration.get(key), this.pooled.get(`${state.kind}:${key}`), d.floor, this.sensitivity, youngUntil(state.kind));
      thresholds[j] = t ?? NaN;
      if (t === undefined) continue;
      calibrated = true;
      const s = Math.min(Math.abs(z[j]), MAX_Z) / t;
      if (s > best) best = s;
    }
    return { name: d.name, output, score: best, threshold: calibrated ? 1 : NaN, featureThresholds: thresholds };
  }

  /** Lets stateful detectors learn from the verdict; isolated like `run`. */
  update(input: DetectionInput, anomalous: boolean): void {
    for (const d of this.detectors) {
      if (!d.update || !d.appliesTo(input.state.kind)) continue;
      try {
        d.update(input, anomalous);
      } catch (err) {
        this.fail(d.name, err);
      }
    }
  }

  private fail(name: string, err: unknown): void {
    this.onError(name);
    const now = Date.now();
    if (now - (this.lastError.get(name) ?? 0) < 60_000) return;
    this.lastError.set(name, now);
    this.log.warn({ detector: name, err }, 'detector failed; its score is left out');
  }
}

/** Feature name -> anomaly type, for statistical detectors that only know which features moved. */
export function typeForFeature(feature: string): AnomalyType {
  if (feature.startsWith('latency') || feature.startsWith('ttft')) return 'latency_spike';
  if (feature.startsWith('error')) return 'error_rate';
  if (feature === 'top_key_token_share') return 'token_abuse';
  if (feature.startsWith('cost')) return 'cost_spike';
  if (feature === 'request_count' || feature === 'distinct_users' || feature.endsWith('_sum')) return 'traffic_spike';
  if (feature.startsWith('output')) return 'output_blowup';
  if (feature.startsWith('security')) return 'security_pattern';
  return 'other';
}
