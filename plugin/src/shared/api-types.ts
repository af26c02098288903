/**
 * Wire types of the LLM-Sentinel REST API v1 (docs/API.md). Only what the plugins read is typed;
 * everything else passes through untouched.
 */

/** Anomaly severity, most severe first in {@link SEVERITIES}. */
export type Severity = 'critical' | 'high' | 'medium' | 'low';

/** Severities ordered from most to least severe. */
export const SEVERITIES: readonly Severity[] = ['critical', 'high', 'medium', 'low'];

/** Anomaly types the backend emits. */
export type AnomalyType =
  | 'latency_spike'
  | 'error_rate'
  | 'token_abuse'
  | 'cost_spike'
  | 'traffic_spike'
  | 'output_blowup'
  | 'security_pattern'
  | 'other';

/** Every anomaly type, in the order the docs list them. */
export const ANOMALY_TYPES: readonly AnomalyType[] = [
  'latency_spike',
  'error_rate',
  'token_abuse',
  'cost_spike',
  'traffic_spike',
  'output_blowup',
  'security_pattern',
  'other',
];

/** Feedback verdict accepted by `POST /api/v1/feedback`. */
export type Verdict = 'true_positive' | 'false_positive';

/** Entity labels of a series: service, model, user, apiKeyId, route (those present) or point-series labels. */
export type Labels = Record<string, string>;

/** One feature that moved: actual value against the expected value and band. */
export interface Attribution {
  feature: string;
  actual: number;
  expected: number;
  lower?: number;
  upper?: number;
  z?: number;
}

/** A normal pattern close to the anomalous window. */
export interface NearestNormal {
  id: string;
  distance: number;
  timestamp?: string;
}

/** A past incident similar to this one ("seen before"). */
export interface SimilarIncident {
  anomalyId: string;
  distance: number;
  type?: string;
  cause?: string;
  timestamp?: string;
}

/** Explanation attached to an anomaly: evidence always, LLM text when configured. */
export interface Explanation {
  summary: string;
  source: 'evidence' | 'llm';
  /** Plain markdown, never HTML: the panel renders it through a safe renderer anyway. */
  markdown?: string;
  evidence?: {
    features?: Attribution[];
    nearestNormal?: NearestNormal[];
    similarIncidents?: SimilarIncident[];
  };
  rootCause?: string;
  immediateFix?: string;
  longTermFix?: string;
  confidence?: number;
}

/** Feedback stored on an anomaly. */
export interface Feedback {
  verdict: Verdict;
  note?: string;
  at?: string;
}

/** `AnomalyRecord` of `GET /api/v1/anomalies` and `GET /api/v1/anomalies/:id`. */
export interface AnomalyRecord {
  id: string;
  seriesKey: string;
  labels: Labels;
  start: string;
  end: string;
  score: number;
  severity: Severity;
  type: AnomalyType | string;
  status?: 'open' | 'resolved';
  /** Why a resolved incident resolved (absent while open, and from servers before 0.1 that did not say). */
  resolution?: 'recovered' | 'stale' | 'state_lost';
  windows?: number;
  attributions?: Attribution[];
  detectors?: Record<string, number>;
  explanation?: Explanation;
  incidentId?: string;
  feedback?: Feedback | null;
}

/** Response of `GET /api/v1/anomalies`. */
export interface AnomalyList {
  items: AnomalyRecord[];
  nextCursor: string | null;
}

/** One point of `GET /api/v1/scores`. */
export interface ScorePoint {
  timestamp: string;
  score: number | null;
  value: number | null;
  expected?: number | null;
  lower?: number | null;
  upper?: number | null;
  isAnomaly?: boolean;
}

/** One series of `GET /api/v1/scores`. */
export interface ScoreSeries {
  seriesKey: string;
  labels: Labels;
  feature: string;
  points: ScorePoint[];
}

/** Response of `GET /api/v1/scores`. */
export interface ScoresResponse {
  items: ScoreSeries[];
}

/** One entry of `GET /api/v1/series`. */
export interface SeriesInfo {
  seriesKey: string;
  labels: Labels;
  kind: 'events' | 'points';
  features: string[];
  windows?: number;
  lastSeen?: string;
  lastScore?: number | null;
  /** The score as Sentinel's alerting sees it (0 inside a plain series' re-alert hold-off). */
  alertScore?: number | null;
  warm?: boolean;
  /** Quiet: its state is on disk until it reports again (it still has scores and anomalies to chart). */
  dormant?: boolean;
}

/** Response of `GET /api/v1/series`. */
export interface SeriesResponse {
  items: SeriesInfo[];
}

/** Response of `GET /api/v1/health` (200 ok, 503 degraded). */
export interface HealthResponse {
  status: 'ok' | 'degraded';
  /** Why it is degraded (store, data directory, scoring backlog), from backends that say. */
  reason?: string;
  version?: string;
  uptimeSeconds?: number;
  store?: { kind: string; ok: boolean; latencyMs?: number };
  series?: number;
}

/** Body of `POST /api/v1/feedback`. */
export interface FeedbackRequest {
  anomalyId: string;
  verdict: Verdict;
  note?: string;
}

/** Response of `POST /api/v1/feedback`. */
export interface FeedbackResponse {
  anomalyId: string;
  verdict: Verdict;
  patternsAdded?: number;
}

/** Error body every 4xx/5xx response carries. */
export interface ApiErrorBody {
  error: { code: string; message: string; field?: string; details?: unknown };
}
