import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { ANOMALY_TYPES, SEVERITIES, type AnomalyRecord, type AnomalyType, type Severity } from '../domain/types';
import { NotFoundError, ValidationError } from '../errors';
import { evidenceExplanation } from '../explain/evidence';
import { eventSchema, pointSchema, timestampSchema } from '../ingest/schema';
import { validateBatch } from '../ingest/parse';
import type { IngestResult, Pipeline } from '../pipeline/pipeline';
import type { Detection } from '../pipeline/scorer';
import { isWarm, type SeriesState } from '../pipeline/series-state';
import { summaryOf, type DormantSummary } from '../pipeline/state-store';
import type { SentinelMetrics } from '../metrics';
import { parseOr400 } from './validate';
import { EVENT_FEATURE_NAMES } from '../windowing/features';

/** Largest number of records in one ingest request. */
export const MAX_BATCH = 100_000;

const optionalTime = timestampSchema.optional();
/** A time range whose `to` is before its `from` is a mistake (swapped parameters), not an empty answer. */
function rangeInOrder(q: { from?: number; to?: number }, ctx: z.RefinementCtx): void {
  if (q.from !== undefined && q.to !== undefined && q.to < q.from) ctx.addIssue({ code: 'custom', path: ['to'], message: 'is before from' });
}

const anomaliesQuery = z
  .object({
    from: optionalTime,
    to: optionalTime,
    // A comma-separated list, checked here so that an error names the parameter (`severity`), not the
    // position in the list (`severity.1`).
    severity: z
      .string()
      .transform((s, ctx) => {
        const list = s.split(',').map((x) => x.trim());
        const bad = list.find((x) => !(SEVERITIES as readonly string[]).includes(x));
        if (bad === undefined) return list as Severity[];
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(bad)} is not a severity (${SEVERITIES.join(', ')})` });
        return z.NEVER;
      })
      .optional(),
    service: z.string().min(1).optional(),
    type: z.enum(ANOMALY_TYPES).optional(),
    series: z.string().min(1).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
    cursor: z.string().min(1).max(512).optional(),
  })
  .strict()
  .superRefine(rangeInOrder);

const scoresQuery = z
  .object({
    series: z.string().min(1).optional(),
    service: z.string().min(1).optional(),
    model: z.string().min(1).optional(),
    feature: z.string().min(1).optional(),
    from: optionalTime,
    to: optionalTime,
    limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  })
  .strict()
  .superRefine(rangeInOrder);

/** GET /api/v1/series takes no parameters. */
const seriesQuery = z.object({}).strict();

const feedbackBody = z
  .object({
    anomalyId: z.string().min(1).max(200),
    verdict: z.enum(['true_positive', 'false_positive']),
    note: z.string().max(2000).optional(),
  })
  .strict();

/** POST /detect with events; any other body is one point (pointSchema). */
const detectEventsBody = z.object({ events: z.array(eventSchema).min(1).max(MAX_BATCH) }).strict();

const iso = (t: number) => new Date(t).toISOString();

/** The detection response of POST /detect (snake_case `is_anomaly` is fixed by the seed schema). */
function detectionBody(d: Detection) {
  const labels = { ...d.state.labels, ...(d.culprit ?? {}) };
  return {
    is_anomaly: d.score > 1,
    score: Math.round(d.score * 1000) / 1000,
    severity: d.score > 1 ? d.severity : null,
    type: d.score > 1 ? d.type : null,
    seriesKey: d.state.key,
    labels,
    warm: d.warm,
    start: iso(d.observation.start),
    end: iso(d.observation.end),
    attributions: d.attributions,
    detectors: d.detectors,
    ...(d.dismissedBy ? { dismissedBy: d.dismissedBy } : {}),
    ...(d.usualAtThisHour ? { usualAtThisHour: true } : {}),
    explanation: evidenceExplanation(d, labels),
  };
}

/** A record as clients see it: the stored embedding is for feedback only. */
const withoutVector = (rec: AnomalyRecord): Omit<AnomalyRecord, 'vector'> => {
  const { vector: _vector, ...rest } = rec;
  return rest;
};

/** Every feature a series can have: an event window's, or a plain series' value. */
const KNOWN_FEATURES = new Set([...EVENT_FEATURE_NAMES, 'value']);

/** Registers the /api/v1 routes and /metrics. */
export function registerRoutes(app: FastifyInstance, pipeline: Pipeline, metrics: SentinelMetrics, version: string, dataDirProblem: () => string | null = () => null): void {
  const started = Date.now();

  const ingestReply = (accepted: number, rejected: { index: number; field: string; message: string }[], total: number) => {
    if (total > 0 && accepted === 0) {
      throw new ValidationError(`all ${total} records were rejected; first: ${rejected[0]?.field}: ${rejected[0]?.message}`, {
        field: rejected[0]?.field,
        index: rejected[0]?.index,
        details: { accepted, rejected: rejected.slice(0, 1000), ...(rejected.length > 1000 ? { rejectedTotal: rejected.length } : {}) },
      });
    }
    return { accepted, rejected: rejected.slice(0, 1000), ...(rejected.length > 1000 ? { rejectedTotal: rejected.length } : {}) };
  };

  /** Both ingest routes: validate every record, keep the good ones, report the bad ones by index. */
  const ingestRoute = <T>(path: string, schema: z.ZodType<T, unknown>, ingest: (records: T[], indexes: number[]) => IngestResult) =>
    // Refused before the body is read while scoring is behind (503, Retry-After; see Pipeline.admitIngest).
    app.post(path, { onRequest: async () => pipeline.admitIngest() }, async (req, reply) => {
      const batch = validateBatch(schema, req.body, MAX_BATCH);
      metrics.eventsRejected.inc({ reason: 'invalid' }, batch.rejected.length);
      const r = ingest(batch.records, batch.indexes);
      const rejected = [...batch.rejected, ...r.rejected].sort((x, y) => x.index - y.index);
      // NDJSON: also the line, which is what an editor shows (blank lines are not records, so index differs).
      if (batch.lines) for (const x of rejected) x.line ??= batch.lines[x.index];
      const body = ingestReply(r.accepted, rejected, batch.records.length + batch.rejected.length);
      return reply.code(rejected.length ? 200 : 202).send(body);
    });
  ingestRoute('/api/v1/events', eventSchema, (records, indexes) => pipeline.ingestEvents(records, indexes));
  ingestRoute('/api/v1/series', pointSchema, (records, indexes) => pipeline.ingestPoints(records, indexes));

  // Scored once the queue before it is (Pipeline.idle): with scoring behind, refused like ingest rather than
  // held for minutes.
  app.post('/api/v1/detect', { onRequest: async () => pipeline.admitIngest() }, async (req) => {
    // Chosen by shape, not as a union: a union's error names neither alternative's field.
    const raw = req.body;
    const withEvents = typeof raw === 'object' && raw !== null && !Array.isArray(raw) && 'events' in raw;
    const t0 = performance.now();
    const d = withEvents
      ? await pipeline.detectEvents(parseOr400(detectEventsBody, raw, 'detect').events)
      : await pipeline.detectPoint(parseOr400(pointSchema, raw, 'detect'));
    return { ...detectionBody(d), latencyMs: Math.round((performance.now() - t0) * 1000) / 1000 };
  });

  app.get('/api/v1/anomalies', async (req) => {
    const q = parseOr400(anomaliesQuery, req.query, 'query');
    const page = await pipeline.store.listAnomalies({
      from: q.from,
      to: q.to,
      severity: q.severity,
      service: q.service,
      type: q.type as AnomalyType | undefined,
      seriesKey: q.series,
      limit: q.limit,
      cursor: q.cursor,
    });
    // The stored embedding is for feedback, not for clients (48+ floats per item).
    return { ...page, items: page.items.map(withoutVector) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/anomalies/:id', async (req) => {
    const rec = await pipeline.store.getAnomaly(req.params.id);
    if (!rec) throw new NotFoundError(`no anomaly with id ${req.params.id}`);
    return withoutVector(rec);
  });

  app.post('/api/v1/feedback', async (req) => {
    const body = parseOr400(feedbackBody, req.body, 'feedback');
    const { record, patternsAdded, changed } = await pipeline.feedback(body.anomalyId, body.verdict, body.note);
    if (changed) metrics.feedback.inc({ verdict: body.verdict });
    return { anomalyId: record.id, verdict: body.verdict, patternsAdded };
  });

  app.get('/api/v1/scores', async (req) => {
    const q = parseOr400(scoresQuery, req.query, 'query');
    if (q.feature !== undefined && !KNOWN_FEATURES.has(q.feature)) {
      throw new ValidationError(`no feature ${q.feature}; features are ${[...KNOWN_FEATURES].join(', ')}`, { field: 'feature' });
    }
    const from = q.from ?? -Infinity;
    const to = q.to ?? Infinity;
    const items = [];
    const wanted = (labels: SeriesState['labels']) => (q.service === undefined || labels.service === q.service) && (q.model === undefined || labels.model === q.model);
    for (const s of scoredSeries(pipeline, q.series, from, wanted)) {
      const feature = q.feature ?? s.featureNames[0];
      const j = s.featureNames.indexOf(feature);
      if (j < 0) {
        if (q.series !== undefined) throw new ValidationError(`series has no feature ${feature}; it has ${s.featureNames.join(', ')}`, { field: 'feature' });
        continue;
      }
      const points = s
        .timelineBetween(from, to)
        .slice(-q.limit)
        .map((p) => ({
          timestamp: iso(p.t),
          score: round(p.score),
          // Kept at float32 precision (7 significant digits) in the timeline; past its range it is unknown, not 0.
          value: roundOrNull(p.bands[j * 4]),
          expected: roundOrNull(p.bands[j * 4 + 1]),
          lower: roundOrNull(p.bands[j * 4 + 2]),
          upper: roundOrNull(p.bands[j * 4 + 3]),
          isAnomaly: p.anomalous,
        }));
      items.push({ seriesKey: s.key, labels: s.labels, feature, points });
    }
    if (q.series !== undefined && items.length === 0) throw new NotFoundError(`no series ${q.series}`);
    return { items };
  });

  app.get('/api/v1/series', async (req) => {
    // No parameters: one the client thinks filters the list (service=...) is a mistake, as on the other reads.
    parseOr400(seriesQuery, req.query, 'query');
    const item = (s: DormantSummary, alertScore: number, dormant: boolean) => ({
      seriesKey: s.key,
      labels: s.labels,
      kind: s.kind,
      features: s.features,
      windows: s.windowsSeen,
      lastSeen: s.lastSeen ? iso(s.lastSeen) : null,
      lastScore: round(s.lastScore),
      alertScore: round(alertScore),
      warm: isWarm(s, pipeline.warmupWindows),
      dormant,
    });
    return {
      items: [
        ...[...pipeline.scorer.states.values()].map((s) => item(summaryOf(s), s.alertScore, false)),
        // Quiet series whose state is on disk (Pipeline.persistTo): listed, most recently seen first.
        ...pipeline.dormantSeries(-Infinity, DORMANT_LISTED).map((s) => item(s, 0, true)),
      ],
    };
  });

  let lastDataDirProblem: string | null = null;
  app.get('/api/v1/health', async (req, reply) => {
    const probe = await pipeline.store.health();
    // A store that answers reads but refuses writes (a full disk) is not ok: patterns are not being learnt.
    const writeError = pipeline.storeWriteError;
    const store = writeError ? { ...probe, ok: false, detail: `writes failing: ${writeError}` } : probe;
    // The store answers `SELECT 1` from files deleted or replaced under it, or on a read-only disk.
    const dataDir = dataDirProblem();
    if (dataDir !== lastDataDirProblem) {
      if (dataDir) req.log.error({ problem: dataDir }, 'data directory unusable; health is degraded');
      else req.log.info('data directory usable again');
      lastDataDirProblem = dataDir;
    }
    const queue = pipeline.scoringQueue;
    const limit = pipeline.maxScoringQueue;
    const backlog = queue.queued >= limit ? `scoring is behind: ${queue.queued} windows and points wait to be scored (SENTINEL_MAX_SCORING_QUEUE ${limit}); ingest is refused until it drains` : null;
    const problems = [...(store.ok ? [] : [`store: ${store.detail ?? 'unavailable'}`]), ...(dataDir ? [dataDir] : []), ...(backlog ? [backlog] : [])];
    return reply.code(problems.length ? 503 : 200).send({
      status: problems.length ? 'degraded' : 'ok',
      ...(problems.length ? { reason: problems.join('; ') } : {}),
      version,
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
      store: { ...store, latencyMs: round(store.latencyMs) },
      dataDir: dataDir ? { ok: false, detail: dataDir } : { ok: true },
      scoringQueue: { ok: !backlog, queued: queue.queued, oldestSeconds: round(queue.oldestAgeMs / 1000), limit },
      series: pipeline.scorer.states.size,
      openWindows: pipeline.windower.openWindowCount,
      scoringFailures: pipeline.failureCount,
    });
  });

  let feedbackUnreadable = false;
  app.get('/metrics', async (req, reply) => {
    // The scrape must answer while the store is down (detection goes on, and Prometheus would call the
    // service down): the false-positive rate keeps its last value until the store answers again.
    try {
      const fb = await pipeline.store.feedbackCounts();
      const total = fb.true_positive + fb.false_positive;
      metrics.falsePositiveRate.set(total ? fb.false_positive / total : 0);
      feedbackUnreadable = false;
    } catch (err) {
      if (!feedbackUnreadable) req.log.warn({ err }, 'feedback counts unreadable; sentinel_false_positive_rate keeps its last value');
      feedbackUnreadable = true;
    }
    let events = 0;
    let points = 0;
    for (const s of pipeline.scorer.states.values()) s.kind === 'events' ? events++ : points++;
    metrics.activeSeries.set({ kind: 'events' }, events);
    metrics.activeSeries.set({ kind: 'points' }, points);
    metrics.openWindows.set(pipeline.windower.openWindowCount);
    const queue = pipeline.scoringQueue;
    metrics.scoringQueueDepth.set(queue.queued);
    metrics.scoringQueueOldest.set(queue.oldestAgeMs / 1000);
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}

/** Dormant series listed by GET /api/v1/series at most (the most recently seen). */
const DORMANT_LISTED = 10_000;
/** Dormant series whose saved timelines one GET /api/v1/scores reads at most (the most recently seen). */
const DORMANT_SCORED = 1_000;

/**
 * The series a score query reads (`series` alone, else those whose labels are `wanted`): those in memory,
 * then the dormant ones (state on disk) last seen in the range, so a dashboard still charts a user or key
 * that has gone quiet. A dormant state is read from disk only when its summary's labels are wanted.
 */
function* scoredSeries(pipeline: Pipeline, series: string | undefined, from: number, wanted: (labels: SeriesState['labels']) => boolean): Iterable<SeriesState> {
  if (series !== undefined) {
    const s = pipeline.peekState(series);
    if (s && wanted(s.labels)) yield s;
    return;
  }
  for (const s of pipeline.scorer.states.values()) if (wanted(s.labels)) yield s;
  for (const d of pipeline.dormantSeries(from, DORMANT_SCORED)) {
    const s = wanted(d.labels) ? pipeline.peekState(d.key) : null;
    if (s) yield s;
  }
}

const round = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : 0);
/** Bands before a series has any history are unknown: null, not a fake 0. */
const roundOrNull = (x: number) => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);
