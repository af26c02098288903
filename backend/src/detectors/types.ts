import type { AnomalyType, Neighbour } from '../domain/types';
import type { WindowExtras } from '../windowing/features';
import type { SeriesState } from '../pipeline/series-state';
import type { VectorStore } from '../store/vector-store';
import type { MstlPool } from './augurs';

/** Robust reference of each feature, computed once per window from the series history. */
export interface FeatureBaseline {
  center: Float64Array;
  scale: Float64Array;
  /** How many past windows the baseline rests on (the most of any feature). */
  samples: number;
  /**
   * How many past windows each feature's center and scale rest on (event series): a per-request feature is
   * observed only in windows with requests (with latency, TTFT, cacheHit for those), so a sparse series has
   * fewer of them than `samples`.
   */
  counts?: Float64Array;
  /** Mean of each feature over the same windows (event series; a rate's usual level where its median is 0). */
  mean?: Float64Array;
}

/** What a detector sees for one window (or point) of one series. Read-only by convention. */
export interface DetectionInput {
  state: SeriesState;
  /** Window start/end (epoch ms); for points both are the point's time. */
  start: number;
  end: number;
  features: Float64Array;
  /**
   * The window's own features, NaN where it observed none (an event window without requests, latency
   * without latencies); `features` reads those as their expected value. Absent: all observed.
   */
  observed?: Float64Array;
  extras?: WindowExtras;
  /** Embedding of the window with its recent past. */
  vector: Float32Array;
  baseline: FeatureBaseline;
  store: VectorStore;
  /** Where seasonal model fits run: a worker in the server; absent, on the calling thread (replay, bench). */
  fits?: MstlPool;
}

/** One detector's verdict on one window. */
export interface DetectorOutput {
  /**
   * Raw score (higher = more anomalous) on the detector's own scale; calibrated per series by the runner
   * unless `calibrated` is set.
   */
  raw: number;
  /** Set by rule-based detectors whose raw score is already relative to their rule (1 = the boundary). */
  calibrated?: boolean;
  /** The anomaly type this detector would assign, when it knows. */
  type?: AnomalyType;
  /** Per-feature deviation (signed robust z), when the detector works per feature. */
  featureZ?: Float64Array;
  /** Nearest normal patterns compared (kNN). */
  neighbours?: Neighbour[];
  /** Similar confirmed incidents (kNN over incident patterns). */
  similarIncidents?: Neighbour[];
  /** Extra labels that identify the culprit (e.g. the API key abusing tokens). */
  culprit?: Record<string, string>;
  /** Human-readable reason, for the evidence explanation. */
  reason?: string;
  /**
   * What a rule found, the same string whenever it finds the same thing (the range rule: `above` or
   * `below`). Inside a plain series' re-alert hold-off, a rule alerts again only with a finding the alert
   * that opened the hold-off did not have (see IncidentTracker).
   */
  finding?: string;
}

/**
 * A pluggable detector: one file each, listed once in the registry (detectors/index.ts). It must not
 * throw for bad data (the runner isolates it anyway) and must keep per-series state in
 * `state.state(name, init)`.
 */
export interface Detector {
  readonly name: string;
  /** Raw scores below this are never anomalous, whatever the calibration says. */
  readonly floor: number;
  appliesTo(kind: 'events' | 'points'): boolean;
  detect(input: DetectionInput): DetectorOutput | null | Promise<DetectorOutput | null>;
  /**
   * Called after the ensemble verdict, so stateful detectors can learn (e.g. EWMA moments). `held`: the
   * window's learning waits in quarantine (a plain series' anomalous point; an event series' anomalous
   * window or any window of its open incident, see Detection.held).
   */
  update?(input: DetectionInput, held: boolean): void;
}
