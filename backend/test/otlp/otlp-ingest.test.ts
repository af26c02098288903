/**
 * The OtlpIngestor between decoded batches and the pipeline: which spans become events, which feed the
 * agent-trace features, and what is refused and counted. The pipeline is a stub that records what it gets.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { LlmEvent, SeriesPoint } from '../../src/domain/types';
import { SentinelMetrics } from '../../src/metrics';
import { OtlpIngestor, type IngestTarget } from '../../src/otlp/otlp-ingest';
import { TEMPORALITY_CUMULATIVE, type Attrs, type OtlpHistogramPoint, type OtlpSpan } from '../../src/otlp/model';
import type { IngestResult } from '../../src/pipeline/pipeline';

const T = Date.UTC(2026, 0, 5, 10, 0, 0);

/** A pipeline stand-in: takes everything, except events and points stamped before `lateBefore`. */
class Target implements IngestTarget {
  events: LlmEvent[] = [];
  points: SeriesPoint[] = [];
  lateBefore = 0;

  ingestEvents(events: readonly LlmEvent[], indexes?: readonly number[]): IngestResult {
    const rejected: IngestResult['rejected'] = [];
    events.forEach((e, i) => {
      if (e.timestamp < this.lateBefore) rejected.push({ index: indexes ? indexes[i] : i, field: 'timestamp', message: 'late: its window has already closed' });
      else this.events.push(e);
    });
    return { accepted: events.length - rejected.length, rejected };
  }

  /** Like the pipeline, refuses a point not after the last accepted one of its series. */
  ingestPoints(points: readonly SeriesPoint[]): IngestResult {
    const rejected: IngestResult['rejected'] = [];
    points.forEach((p, index) => {
      const key = `${p.series}${JSON.stringify(p.labels)}`;
      if (p.timestamp <= (this.last.get(key) ?? -Infinity)) rejected.push({ index, field: 'timestamp', message: 'not after the previous point of this series' });
      else {
        this.last.set(key, p.timestamp);
        this.points.push(p);
      }
    });
    return { accepted: points.length - rejected.length, rejected };
  }

  private readonly last = new Map<string, number>();
}

function ingestor(target: Target, metrics?: SentinelMetrics) {
  return new OtlpIngestor({ target, metrics, mapping: { userAttributes: [], apiKeyAttributes: [] } });
}

let nextId = 1;
function span(traceId: string, parent: string, attributes: Attrs, endMs: number, over: Partial<OtlpSpan> = {}): OtlpSpan {
  const spanId = (nextId++).toString(16).padStart(16, '0');
  return { traceId, spanId, parentSpanId: parent, name: 'x', kind: 1, startMs: endMs - 100, endMs, attributes, resource: { 'service.name': 'rag' }, scopeName: 's', status: { code: 0, message: '' }, events: [], ...over };
}
const chat = (input: number) => ({ 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': 10 });

describe('OTLP ingestor', () => {
  test('a LangChain RAG request traced by OpenLIT is one event and no agent trace (QA: it was 3 events, one of model unknown)', () => {
    const target = new Target();
    const ing = ingestor(target);
    // Children end first: the Chroma query, the chat call, then the chain span (the trace's root).
    const out = ing.ingestTraces({
      spans: [
        span('rag1', 'chain', { 'gen_ai.operation.name': 'vectordb', 'gen_ai.system': 'chroma', 'db.system.name': 'chroma', 'db.operation.name': 'query' }, T + 100),
        span('rag1', 'chain', chat(1200), T + 900),
        span('rag1', '', { 'gen_ai.operation.name': 'framework', 'gen_ai.system': 'langchain', 'gen_ai.usage.input_tokens': 1200 }, T + 1000),
      ],
    });
    assert.deepEqual(target.events.map((e) => [e.model, e.inputTokens]), [['gpt-4o', 1200]]);
    assert.equal(out.accepted, 1);
    assert.equal(out.ignored, 2);
    // The chain span completed the trace, and one model call is not an agent run.
    assert.equal(ing.traces.openCount, 0);
    assert.deepEqual(target.points, []);
  });

  test('a Vercel AI SDK generateText with a tool round is two events: its doGenerate spans, not the outer span (QA: all were ignored)', () => {
    const target = new Target();
    const ing = ingestor(target);
    const call = (input: number) => ({ 'ai.operationId': 'ai.generateText.doGenerate', 'gen_ai.system': 'openai.chat', 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': 5 });
    ing.ingestTraces({
      spans: [
        span('v1', 'outer', call(100), T + 300),
        span('v1', 'outer', { 'ai.operationId': 'ai.toolCall', 'ai.toolCall.name': 'weather' }, T + 400),
        span('v1', 'outer', call(180), T + 900),
        // The outer span sums its calls' usage; counted, it would double the tokens.
        span('v1', '', { 'ai.operationId': 'ai.generateText', 'ai.model.id': 'gpt-4o-mini', 'ai.usage.promptTokens': 280, 'ai.usage.completionTokens': 10 }, T + 1000),
      ],
    });
    assert.deepEqual(target.events.map((e) => [e.model, e.inputTokens]), [['gpt-4o-mini', 100], ['gpt-4o-mini', 180]]);
    // Two model calls make an agent run: its token total is the calls' (not doubled by the outer span).
    assert.equal(target.points.find((p) => p.series === 'agent_trace_tokens')?.value, 290);
  });

  test('cumulative metrics of two replicas of a service: no export refused, each replica counted from its own state (QA)', () => {
    const target = new Target();
    const ing = ingestor(target);
    const pod = (id: string, timeMs: number, count: number, sum: number): OtlpHistogramPoint => ({
      metric: 'gen_ai.client.operation.duration',
      unit: 's',
      temporality: TEMPORALITY_CUMULATIVE,
      resource: { 'service.name': 'chat-api', 'service.instance.id': id },
      attributes: { 'gen_ai.request.model': 'gpt-4o', 'gen_ai.operation.name': 'chat' },
      startMs: T,
      timeMs,
      count,
      sum,
    });
    // Pod B's exports are stamped 0.5 s before pod A's and arrive after them.
    const outcomes = [pod('a', T + 60_000, 10, 12), pod('b', T + 59_500, 8, 9), pod('a', T + 120_000, 20, 25), pod('b', T + 119_500, 16, 18)].map((h) =>
      ing.ingestMetrics({ histograms: [h], totalDataPoints: 1 }),
    );
    assert.deepEqual(outcomes.map((o) => [o.accepted, o.rejected]), [[1, 0], [1, 0], [1, 0], [1, 0]]);
    assert.deepEqual(target.points.map((p) => p.value), [1.2, 1.125, 1.3, 1.125]);
  });

  test('a refused model call (late, invalid) feeds no agent-trace feature (QA: it still counted in the trace)', () => {
    const target = new Target();
    const ing = ingestor(target);
    target.lateBefore = T + 500;
    const out = ing.ingestTraces({
      spans: [
        span('r1', 'root', chat(100), T + 100), // late: its window has closed
        span('r1', 'root', { ...chat(200), 'gen_ai.usage.output_tokens': 1e20 }, T + 550), // invalid token count
        span('r1', 'root', chat(300), T + 600),
        span('r1', '', { 'http.route': '/ask' }, T + 700),
      ],
    });
    assert.equal(out.rejected, 2);
    assert.deepEqual(target.events.map((e) => e.inputTokens), [300]);
    // One model call taken: not an agent run (before: three calls, 600 input tokens in the trace).
    assert.equal(ing.traces.openCount, 0);
    assert.deepEqual(target.points, []);
  });

  test('a model-call span without an end (or start) time is refused in OTLP terms and counted as invalid (QA)', async () => {
    const metrics = new SentinelMetrics(undefined, { defaultMetrics: false });
    const ing = ingestor(new Target(), metrics);
    const out = ing.ingestTraces({ spans: [span('e1', 'p', chat(1), 0, { spanId: 'aa01', startMs: T }), span('e1', 'p', chat(1), T + 100, { spanId: 'aa02', startMs: 0 })] });
    assert.equal(out.rejected, 2);
    assert.deepEqual(out.reasons, ['span aa01: no end time (endTimeUnixNano is 0): spans are exported once they have ended', 'span aa02: no start time (startTimeUnixNano is 0)']);
    assert.equal(await rejectedCount(metrics, 'invalid'), 2);
  });

  test('invalid histogram points (no sum, a negative sum) count in sentinel_events_rejected_total{reason="invalid"} like invalid spans (QA)', async () => {
    const metrics = new SentinelMetrics(undefined, { defaultMetrics: false });
    const ing = ingestor(new Target(), metrics);
    const h = (sum: number | undefined): OtlpHistogramPoint => ({ metric: 'gen_ai.client.token.usage', unit: '{token}', temporality: 1, resource: {}, attributes: {}, startMs: T, timeMs: T + 1, count: 2, sum });
    const out = ing.ingestMetrics({ histograms: [h(undefined), h(-5), h(10)], totalDataPoints: 3 });
    assert.deepEqual([out.accepted, out.rejected], [1, 2]);
    assert.equal(await rejectedCount(metrics, 'invalid'), 2);
  });
});

async function rejectedCount(metrics: SentinelMetrics, reason: string): Promise<number> {
  return (await metrics.eventsRejected.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
}
