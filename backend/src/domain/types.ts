/**
 * Domain types shared across the backend. Wire formats live in docs/API.md; these are their in-process
 * shapes. Times are epoch milliseconds inside the process and ISO 8601 strings on the wire.
 */

/** One LLM request as ingested (the event contract of ARCHITECTURE.md, after validation). */
export interface LlmEvent {
  timestamp: number;
  service: string;
  model: string;
  provider?: string;
  user?: string;
  apiKeyId?: string;
  route?: string;
  inputTokens: number;
  outputTokens: number;
  /** Absent when the client did not measure it: the window's latency quantiles are over the events that have one. */
  latencyMs?: number;
  ttftMs?: number;
  status: 'ok' | 'error';
  errorType?: string;
  costUsd: number;
  cacheHit?: boolean;
  securityEvents?: string[];
}

/**
 * A verdict from a security guard (prompt-injection / jailbreak classifier) about one request, arriving
 * on its own (e.g. from RabbitMQ `security.events`) rather than inside an LLM event. It counts towards its
 * window's security features without counting as a request.
 */
export interface SecurityEvent {
  timestamp: number;
  /** e.g. "prompt_injection", "jailbreak", "pii_leak". */
  type: string;
  severity?: 'low' | 'medium' | 'high' | 'critical';
  service: string;
  model?: string;
  provider?: string;
  user?: string;
  apiKeyId?: string;
  route?: string;
  /** Producer's id of the verdict, for idempotent handling of redeliveries. */
  id?: string;
}

/** One point of a plain metric series. */
export interface SeriesPoint {
  series: string;
  labels: Record<string, string>;
  timestamp: number;
  value: number;
}

/** Labels that identify an entity; only the ones present are set. */
export type SeriesLabels = Record<string, string>;

/** Anomaly types (contract). */
export const ANOMALY_TYPES = [
  'latency_spike',
  'error_rate',
  'token_abuse',
  'cost_spike',
  'traffic_spike',
  'output_blowup',
  'security_pattern',
  'other',
] as const;
export type AnomalyType = (typeof ANOMALY_TYPES)[number];

/** Severities (contract), most severe first. */
export const SEVERITIES = ['critical', 'high', 'medium', 'low'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** Which features deviate, by how much, against their expected band. */
export interface Attribution {
  feature: string;
  actual: number;
  expected: number;
  lower: number;
  upper: number;
  /** Robust z-score of `actual` against the series' recent history. */
  z: number;
}

/** A stored pattern returned by a nearest-neighbour search. */
export interface Neighbour {
  id: string;
  distance: number;
  timestamp: number;
  kind: PatternKind;
  /** For incident patterns: what was confirmed about it. */
  meta?: PatternMeta;
}

export interface NeighbourRef {
  id: string;
  distance: number;
  timestamp: string;
}

export interface SimilarIncident {
  anomalyId: string;
  distance: number;
  type: AnomalyType | string;
  cause?: string;
  timestamp: string;
}

/** Evidence-based (and optionally LLM-written) explanation of an anomaly. */
export interface Explanation {
  summary: string;
  source: 'evidence' | 'llm';
  /** Plain markdown, never HTML. */
  markdown: string;
  evidence: {
    features: Attribution[];
    nearestNormal: NeighbourRef[];
    similarIncidents: SimilarIncident[];
  };
  rootCause?: string;
  immediateFix?: string;
  longTermFix?: string;
  confidence?: number;
  evidenceRefs?: string[];
  model?: string;
  generatedAt?: string;
}

export interface Feedback {
  verdict: 'true_positive' | 'false_positive';
  note?: string;
  at: string;
}

/** Why an incident resolved. */
export type Resolution = 'recovered' | 'stale' | 'state_lost';

/** Anomaly record (contract): API, replay output and store share it. */
export interface AnomalyRecord {
  id: string;
  seriesKey: string;
  labels: SeriesLabels;
  start: string;
  end: string;
  score: number;
  severity: Severity;
  type: AnomalyType;
  status: 'open' | 'resolved';
  /**
   * Why a resolved incident resolved (absent while open): `recovered` (normal again for the cooldown),
   * `stale` (a plain series stopped reporting, SENTINEL_STALE_SECONDS), `state_lost` (its series' state was
   * not restored after a restart, so nothing would have resolved it).
   */
  resolution?: Resolution;
  windows: number;
  attributions: Attribution[];
  detectors: Record<string, number>;
  explanation: Explanation;
  incidentId: string;
  feedback: Feedback | null;
  /** Embedding of the window that scored highest; kept so feedback can turn it into a pattern. */
  vector?: number[];
}

export type PatternKind = 'normal' | 'incident';

export interface PatternMeta {
  anomalyId?: string;
  type?: string;
  cause?: string;
  /** Set on the pattern a feedback verdict stored (one per anomaly: a changed verdict replaces it). */
  verdict?: 'true_positive' | 'false_positive';
  /** The anomaly's score when the verdict was given. */
  score?: number;
  /** Its features that moved (feature, robust z), from its attributions. */
  moved?: { feature: string; z: number }[];
}

/** A window embedding kept in the vector store. */
export interface Pattern {
  id: string;
  seriesKey: string;
  kind: PatternKind;
  timestamp: number;
  vector: Float32Array;
  meta?: PatternMeta;
}

/** Filters of GET /api/v1/anomalies. */
export interface AnomalyQuery {
  /** Incidents that end at or after this (epoch ms): one still running counts, wherever it began. */
  from?: number;
  /** Incidents that start at or before this (epoch ms). */
  to?: number;
  severity?: Severity[];
  service?: string;
  type?: AnomalyType;
  seriesKey?: string;
  limit: number;
  cursor?: string;
}

export interface AnomalyPage {
  items: AnomalyRecord[];
  nextCursor: string | null;
}
