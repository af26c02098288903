import type { AnomalyRecord, AnomalyType, Resolution, Severity } from '../domain/types';
import { fingerprint, redactDeep } from '../explain/redact';

/**
 * The alert payload (the seed schema of ARCHITECTURE.md) and what it is derived from. Pure: the same
 * record, event and time give the same payload.
 */

/** What happened to the incident that the alert reports. */
export type AlertEvent = 'opened' | 'escalated' | 'resolved';

/**
 * The alert sent to webhooks and the queue. The seed fields (`alert_id`, `timestamp`, `severity`,
 * `anomaly_type`, `affected_services`, `metrics {baseline, current, deviation}`, `context {time_window,
 * affected_users, model_version}`, `recommendations`) are a contract; the others are additions.
 */
export interface AlertPayload {
  /** The anomaly id: stable for the whole incident, so opened / escalated / resolved share it. */
  alert_id: string;
  event: AlertEvent;
  status: 'open' | 'resolved';
  /**
   * With `resolved`: why (`recovered`: normal again; `stale`: the series stopped reporting, so nothing says it
   * recovered; `state_lost`: its state was not restored after a restart). Null otherwise.
   */
  resolution: Resolution | null;
  /** When the alert was produced (ISO 8601). */
  timestamp: string;
  severity: Severity;
  anomaly_type: AnomalyType;
  affected_services: string[];
  metrics: {
    /** The feature that moved most (top attribution); null when there is none. */
    feature: string | null;
    /** Expected value of that feature. */
    baseline: number | null;
    /** Its value in the anomalous window. */
    current: number | null;
    /** Robust z-score: how many robust standard deviations `current` is from `baseline`. */
    deviation: number | null;
    /** (current - baseline) / |baseline| in percent; null when the baseline is 0. */
    deviation_pct: number | null;
    /** Normal band of the feature. */
    expected_range: [number, number] | null;
  };
  context: {
    /** ISO 8601 interval `start/end` of the incident so far. */
    time_window: string;
    /** Principals named by the series labels (user / API key), at most 1 per kind. */
    affected_users: number;
    /** Those principals: user ids (PII-redacted) and API key ids as `key#<hash>` fingerprints, never in clear. */
    affected_user_ids: string[];
    model_version: string | null;
    series_key: string;
    labels: Record<string, string>;
  };
  score: number;
  summary: string;
  explanation_source: 'evidence' | 'llm';
  recommendations: string[];
}

const RECOMMENDATIONS: Record<AnomalyType, string[]> = {
  latency_spike: [
    'Check the provider status page and the latency of the upstream model endpoint.',
    'Look for a shift to longer prompts or outputs in the affected window.',
    'If it persists, fail over to a secondary region or model.',
  ],
  error_rate: [
    'Inspect the error types of the affected window (rate limits, timeouts, auth).',
    'Check provider quota, rate limits and the validity of the API key in use.',
    'Make sure clients retry with backoff and have a fallback model.',
  ],
  token_abuse: [
    'Review token usage of the principal named in the labels; rate-limit or revoke its API key if it is abuse.',
    'Enforce input size and max_tokens limits on the route.',
  ],
  cost_spike: [
    'Compare spend by user, route and model for the window; check for a switch to a more expensive model.',
    'Set or lower budget caps for the affected keys.',
  ],
  traffic_spike: [
    'Check for retry storms, bots or a launch that explains the change in traffic.',
    'Apply per-key rate limits if the traffic is unwanted.',
  ],
  output_blowup: [
    'Look for looping or runaway generations (prompt injection, missing stop sequences).',
    'Enforce max_tokens on the affected route.',
  ],
  security_pattern: [
    'Review the guard verdicts (prompt injection, jailbreak) of the principal named in the labels.',
    'Block or challenge the user or API key if the attempts continue.',
  ],
  other: ['Review the features that moved in the anomaly explanation.'],
};

const round = (x: number, d = 3) => (Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : null);

/**
 * Builds the payload of one alert from the anomaly record: the top attribution gives baseline / current /
 * deviation, labels give services, model and principals. Every string is PII-redacted; API key ids are
 * only ever fingerprints.
 */
export function buildAlertPayload(record: AnomalyRecord, event: AlertEvent, now: number): AlertPayload {
  const top = record.attributions[0] ?? record.explanation.evidence.features[0];
  const labels = record.labels;
  const ids: string[] = [];
  if (labels.user) ids.push(labels.user);
  if (labels.apiKeyId) ids.push(fingerprint('key', labels.apiKeyId));
  const shownLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) shownLabels[k] = k === 'apiKeyId' ? fingerprint('key', v) : v;
  const service = labels.service ?? labels.series;
  const recommendations = [...(RECOMMENDATIONS[record.type] ?? RECOMMENDATIONS.other)];
  if (record.explanation.source === 'llm' && record.explanation.immediateFix) {
    recommendations.unshift(`LLM suggestion (advisory): ${record.explanation.immediateFix}`);
  }
  const payload: AlertPayload = {
    alert_id: record.id,
    event,
    status: event === 'resolved' ? 'resolved' : 'open',
    // Records resolved before resolutions were recorded read as recovered.
    resolution: event === 'resolved' ? (record.resolution ?? 'recovered') : null,
    timestamp: new Date(now).toISOString(),
    severity: record.severity,
    anomaly_type: record.type,
    affected_services: service ? [service] : [],
    metrics: {
      feature: top?.feature ?? null,
      baseline: top ? round(top.expected) : null,
      current: top ? round(top.actual) : null,
      deviation: top ? round(top.z, 2) : null,
      deviation_pct: top && top.expected !== 0 ? round(((top.actual - top.expected) / Math.abs(top.expected)) * 100, 1) : null,
      expected_range: top ? [round(top.lower) ?? 0, round(top.upper) ?? 0] : null,
    },
    context: {
      time_window: `${record.start}/${record.end}`,
      // One series names at most one user and one key; both name the same principal when present together.
      affected_users: labels.user || labels.apiKeyId ? 1 : 0,
      affected_user_ids: ids,
      model_version: labels.model ?? null,
      series_key: record.seriesKey,
      labels: shownLabels,
    },
    score: record.score,
    summary: record.explanation.summary,
    explanation_source: record.explanation.source,
    recommendations,
  };
  // The raw key id also appears inside the series key and the summary: replace it everywhere.
  const key = labels.apiKeyId;
  return redactDeep(key && key.length >= 3 ? replaceInStrings(payload, key, fingerprint('key', key)) : payload);
}

/** Replaces `raw` by `by` inside every string value (never in keys, numbers or structure). */
function replaceInStrings<T>(v: T, raw: string, by: string): T {
  if (typeof v === 'string') return v.split(raw).join(by) as T;
  if (Array.isArray(v)) return v.map((x) => replaceInStrings(x, raw, by)) as T;
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceInStrings(x, raw, by)])) as T;
  }
  return v;
}

/** Severity order, most severe first (index = rank). */
export const SEVERITY_RANK: Record<Severity, number> = { critical: 0, high: 1, medium: 2, low: 3 };

/**
 * A stand-in record for an alert known only by its payload (a dead letter handed back): sinks read the
 * payload; the dispatcher keys delivery order by the record's id and saves it with the outbox. Built from
 * the redacted payload, so it carries nothing the payload does not.
 */
export function recordFromPayload(p: AlertPayload): AnomalyRecord {
  const [start = p.timestamp, end = p.timestamp] = (p.context?.time_window ?? '').split('/');
  return {
    id: p.alert_id,
    seriesKey: p.context?.series_key ?? '',
    labels: { ...(p.context?.labels ?? {}) },
    start,
    end,
    score: p.score,
    severity: p.severity,
    type: p.anomaly_type,
    status: p.status,
    ...(p.resolution ? { resolution: p.resolution } : {}),
    windows: 1,
    attributions: [],
    detectors: {},
    explanation: { summary: p.summary, source: p.explanation_source, markdown: p.summary, evidence: { features: [], nearestNormal: [], similarIncidents: [] } },
    incidentId: p.alert_id,
    feedback: null,
  };
}
