import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ANOMALY_TYPES, SEVERITIES } from './domain/types';

/**
 * Values of the `reason` label of sentinel_events_rejected_total. docs/METRICS.md lists them (a test keeps
 * the two in step); each exists at 0 from the start.
 */
export const REJECTION_REASONS = ['invalid', 'late', 'future', 'series_limit', 'out_of_order'] as const;

/**
 * The service's Prometheus metrics, registered on one Registry created at the composition root (never
 * the prom-client global). Names and labels are a contract (ARCHITECTURE.md); every label has a bounded
 * set of values: no user ids, keys or anomaly ids.
 */
export class SentinelMetrics {
  readonly registry: Registry;
  readonly anomalyScore: Gauge<'service' | 'model' | 'signal'>;
  readonly anomaliesDetected: Counter<'severity' | 'type'>;
  readonly detectionLatency: Histogram;
  readonly falsePositiveRate: Gauge;
  readonly feedback: Counter<'verdict'>;
  readonly eventsIngested: Counter;
  readonly eventsRejected: Counter<'reason'>;
  readonly pointsIngested: Counter;
  readonly expectedValue: Gauge<'service' | 'model' | 'feature'>;
  readonly expectedLower: Gauge<'service' | 'model' | 'feature'>;
  readonly expectedUpper: Gauge<'service' | 'model' | 'feature'>;
  readonly featureValue: Gauge<'service' | 'model' | 'feature'>;
  readonly windowsScored: Counter<'kind'>;
  readonly openIncidents: Gauge;
  readonly detectorErrors: Counter<'detector'>;
  readonly patternsWritten: Counter;
  readonly patternsDropped: Counter;
  readonly activeSeries: Gauge<'kind'>;
  readonly seriesSlept: Counter<'kind'>;
  readonly seriesRevived: Counter<'kind'>;
  readonly seriesForgotten: Counter;
  readonly openWindows: Gauge;
  readonly scoringQueueDepth: Gauge;
  readonly scoringQueueOldest: Gauge;
  readonly alertsSent: Counter<'sink' | 'outcome'>;
  readonly alertsSuppressed: Counter<'reason'>;
  readonly alertsResent: Counter<'outcome'>;
  readonly deadLettersDropped: Counter;
  readonly explanations: Counter<'outcome'>;
  readonly explainQueueDepth: Gauge;
  readonly llmCircuitOpen: Gauge;
  readonly llmDuration: Histogram;
  readonly securityEventsConsumed: Counter<'outcome'>;
  readonly amqpConnected: Gauge<'role'>;
  readonly otlpRequests: Counter<'signal' | 'encoding' | 'compression' | 'code'>;
  readonly otlpReceived: Counter<'signal' | 'outcome'>;
  readonly otlpOpenTraces: Gauge;
  readonly otlpTracesCompleted: Counter<'reason'>;
  /** Where the score gauge reads from at scrape time; set by the pipeline. */
  scoreSource: () => Iterable<{ service: string; model: string; signal: string; score: number }> = () => [];
  /**
   * Fills one band gauge at scrape time (0 value, 1 expected, 2 lower, 3 upper) with what changed since
   * its last scrape, after removing (`remove`) the label sets of series that left memory since; set by the
   * pipeline. Setting 64 labelled gauges per scored window cost more than scoring it.
   */
  bandSource: (
    band: 0 | 1 | 2 | 3,
    set: (labels: { service: string; model: string; feature: string }, value: number) => void,
    remove: (labels: { service: string; model: string; feature: string }) => void,
  ) => void | Promise<void> = () => {};

  constructor(registry = new Registry(), opts: { defaultMetrics?: boolean } = {}) {
    this.registry = registry;
    const r = [registry];
    if (opts.defaultMetrics !== false) {
      collectDefaultMetrics({ register: registry, prefix: 'sentinel_' });
      // prom-client names three gauges `nodejs_active_*_total`; `promtool check metrics` (and Prometheus'
      // naming rules) reserve `_total` for counters. Their values are in `..._active_*` without the suffix.
      for (const m of registry.getMetricsAsArray()) {
        if (m.name.endsWith('_total') && m instanceof Gauge) registry.removeSingleMetric(m.name);
      }
    }
    const self = this;
    this.anomalyScore = new Gauge({
      name: 'sentinel_anomaly_score',
      help: 'Latest calibrated anomaly score (<= 1 normal, > 1 anomalous), max over the series of each service/model; signal is "overall" or a detector',
      labelNames: ['service', 'model', 'signal'],
      registers: r,
      collect() {
        // Computed at scrape time from series state, so label sets of series that went away disappear.
        this.reset();
        for (const s of self.scoreSource()) this.set({ service: s.service, model: s.model, signal: s.signal }, s.score);
      },
    });
    this.anomaliesDetected = new Counter({
      name: 'sentinel_anomalies_detected_total',
      help: 'Anomalies opened (one per incident)',
      labelNames: ['severity', 'type'],
      registers: r,
    });
    this.detectionLatency = new Histogram({
      name: 'sentinel_detection_latency_seconds',
      help: 'Time from a window closing (or a point arriving) to its score being available',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    });
    this.falsePositiveRate = new Gauge({
      name: 'sentinel_false_positive_rate',
      help: 'Share of anomalies with feedback that were marked false positive',
      registers: r,
    });
    this.feedback = new Counter({ name: 'sentinel_feedback_total', help: 'Feedback verdicts given (a verdict repeated on the same anomaly counts once; a changed one counts again)', labelNames: ['verdict'], registers: r });
    // Every label set of these counters exists at 0 from the start, so increase() / rate() see the first
    // anomaly of a kind (a series that appears already at 1 has no increase for Prometheus).
    for (const severity of SEVERITIES) for (const type of ANOMALY_TYPES) this.anomaliesDetected.inc({ severity, type }, 0);
    for (const verdict of ['true_positive', 'false_positive']) this.feedback.inc({ verdict }, 0);
    this.eventsIngested = new Counter({ name: 'sentinel_events_ingested_total', help: 'LLM events accepted into windows', registers: r });
    this.eventsRejected = new Counter({
      name: 'sentinel_events_rejected_total',
      help: `Events and points refused (${REJECTION_REASONS.join(', ')})`,
      labelNames: ['reason'],
      registers: r,
    });
    for (const reason of REJECTION_REASONS) this.eventsRejected.inc({ reason }, 0);
    this.pointsIngested = new Counter({ name: 'sentinel_points_ingested_total', help: 'Metric series points accepted', registers: r });
    const band = (name: string, help: string, which: 0 | 1 | 2 | 3) =>
      new Gauge({
        name,
        help,
        labelNames: ['service', 'model', 'feature'] as const,
        registers: r,
        collect() {
          return self.bandSource(
            which,
            (labels, value) => this.set(labels, value),
            (labels) => this.remove(labels),
          );
        },
      });
    this.expectedValue = band('sentinel_expected_value', 'Expected value of a window feature (robust baseline centre)', 1);
    this.expectedLower = band('sentinel_expected_value_lower', 'Lower edge of the normal band of a window feature', 2);
    this.expectedUpper = band('sentinel_expected_value_upper', 'Upper edge of the normal band of a window feature', 3);
    this.featureValue = band('sentinel_feature_value', 'Actual value of a window feature in the last closed window', 0);
    this.windowsScored = new Counter({ name: 'sentinel_windows_scored_total', help: 'Windows and points scored', labelNames: ['kind'], registers: r });
    this.openIncidents = new Gauge({ name: 'sentinel_open_incidents', help: 'Incidents currently open', registers: r });
    this.detectorErrors = new Counter({ name: 'sentinel_detector_errors_total', help: 'Detector failures (isolated)', labelNames: ['detector'], registers: r });
    this.patternsWritten = new Counter({ name: 'sentinel_patterns_written_total', help: 'Normal patterns written to the vector store', registers: r });
    this.patternsDropped = new Counter({ name: 'sentinel_patterns_dropped_total', help: 'Normal patterns dropped because the write buffer was full', registers: r });
    this.activeSeries = new Gauge({ name: 'sentinel_active_series', help: 'Series with state in memory', labelNames: ['kind'], registers: r });
    this.seriesSlept = new Counter({
      name: 'sentinel_series_dormant_total',
      help: 'Series whose state left memory for series-state.db after they went quiet',
      labelNames: ['kind'],
      registers: r,
    });
    this.seriesRevived = new Counter({
      name: 'sentinel_series_revived_total',
      help: 'Dormant series whose state was read back because they reported again',
      labelNames: ['kind'],
      registers: r,
    });
    this.seriesForgotten = new Counter({
      name: 'sentinel_series_forgotten_total',
      help: 'Dormant series whose saved state and patterns were deleted after SENTINEL_DORMANT_RETENTION_DAYS',
      registers: r,
    });
    this.openWindows = new Gauge({ name: 'sentinel_open_windows', help: 'Windows open (what a hard kill would lose)', registers: r });
    this.scoringQueueDepth = new Gauge({
      name: 'sentinel_scoring_queue_depth',
      help: 'Closed windows and points waiting to be scored (ingest is refused with 503 from SENTINEL_MAX_SCORING_QUEUE)',
      registers: r,
    });
    this.scoringQueueOldest = new Gauge({ name: 'sentinel_scoring_queue_oldest_seconds', help: 'How long the oldest window or point waiting to be scored has waited (0 when none)', registers: r });
    this.alertsSent = new Counter({
      name: 'sentinel_alerts_sent_total',
      help: 'Alert deliveries per sink (webhook, slack, pagerduty, amqp): delivered, failed_attempt (retried), dead_lettered',
      labelNames: ['sink', 'outcome'],
      registers: r,
    });
    this.alertsSuppressed = new Counter({
      name: 'sentinel_alerts_suppressed_total',
      help: 'Incident changes that sent no alert (update, cooldown, below_min_severity, overflow)',
      labelNames: ['reason'],
      registers: r,
    });
    this.alertsResent = new Counter({
      name: 'sentinel_alerts_resent_total',
      help: 'Dead-lettered alerts an operator asked to resend, by outcome (resent, sink_not_configured, busy, shutting_down, not_found, superseded)',
      labelNames: ['outcome'],
      registers: r,
    });
    this.deadLettersDropped = new Counter({
      name: 'sentinel_alerts_dead_letters_dropped_total',
      help: 'Oldest dead letters dropped because the store held more than SENTINEL_DEAD_LETTER_MAX',
      registers: r,
    });
    this.explanations = new Counter({
      name: 'sentinel_explanations_total',
      help: 'LLM explanation jobs by outcome (llm, cached, invalid_output, timeout, error, breaker_open, dropped, not_found, cancelled)',
      labelNames: ['outcome'],
      registers: r,
    });
    this.explainQueueDepth = new Gauge({ name: 'sentinel_explain_queue_depth', help: 'LLM explanation jobs waiting', registers: r });
    this.llmCircuitOpen = new Gauge({ name: 'sentinel_llm_circuit_open', help: '1 while the LLM circuit breaker refuses calls', registers: r });
    this.llmDuration = new Histogram({
      name: 'sentinel_llm_request_duration_seconds',
      help: 'Duration of LLM explanation calls (both attempts when the first answer was invalid)',
      buckets: [0.25, 0.5, 1, 2, 5, 10, 20, 40, 80],
      registers: r,
    });
    this.securityEventsConsumed = new Counter({
      name: 'sentinel_security_events_consumed_total',
      help: 'Security-event messages from AMQP by outcome (accepted, duplicate, rejected, dead_lettered)',
      labelNames: ['outcome'],
      registers: r,
    });
    this.amqpConnected = new Gauge({ name: 'sentinel_amqp_connected', help: '1 while the AMQP connection of a role (consumer, publisher) is up', labelNames: ['role'], registers: r });
    this.otlpRequests = new Counter({
      name: 'sentinel_otlp_requests_total',
      help: 'OTLP/HTTP export requests by signal (traces, metrics), encoding (protobuf, json, unknown), compression (none, gzip, other) and HTTP status code',
      labelNames: ['signal', 'encoding', 'compression', 'code'],
      registers: r,
    });
    this.otlpReceived = new Counter({
      name: 'sentinel_otlp_received_total',
      help: 'OTLP spans (signal=traces) and data points (signal=metrics) by outcome: accepted (used), ignored (not GenAI, a span seen already, a cumulative point with nothing new), rejected (reported in partial_success)',
      labelNames: ['signal', 'outcome'],
      registers: r,
    });
    this.otlpOpenTraces = new Gauge({ name: 'sentinel_otlp_open_traces', help: 'Agent traces held open waiting for their root span or idle timeout', registers: r });
    this.otlpTracesCompleted = new Counter({
      name: 'sentinel_otlp_traces_completed_total',
      help: 'Agent traces completed, by reason (root, idle, evicted, shutdown)',
      labelNames: ['reason'],
      registers: r,
    });
  }
}
