import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AgentTraceTracker, AGENT_SERIES, maxSimilarCalls } from '../../src/otlp/agent-traces';
import { classifySpan } from '../../src/otlp/genai-mapping';
import type { Attrs, OtlpSpan } from '../../src/otlp/model';

const T = Date.UTC(2026, 0, 5, 10, 0, 0);
const opts = { userAttributes: [], apiKeyAttributes: [] };

function span(traceId: string, parent: string, attributes: Attrs, endMs: number): OtlpSpan {
  return { traceId, spanId: `${endMs}`, parentSpanId: parent, name: 'x', kind: 1, startMs: endMs - 100, endMs, attributes, resource: { 'service.name': 'agents' }, scopeName: 's', status: { code: 0, message: '' }, events: [] };
}
const chat = (input: number) => ({ 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': input, 'gen_ai.usage.output_tokens': 10 });
const tool = { 'gen_ai.operation.name': 'execute_tool' };

function feed(tr: AgentTraceTracker, s: OtlpSpan) {
  tr.observe(s, classifySpan(s, opts));
}
const byName = (points: { series: string; value: number }[]) => Object.fromEntries(points.map((p) => [p.series, p.value]));

describe('agent trace tracker', () => {
  test('a trace completes when its root arrives and yields one point per feature', () => {
    const tr = new AgentTraceTracker();
    feed(tr, span('t1', 'r', chat(100), T + 1));
    feed(tr, span('t1', 'r', tool, T + 2));
    feed(tr, span('t1', 'r', chat(500), T + 3));
    assert.equal(tr.collect().points.length, 0);
    feed(tr, span('t1', '', { 'http.route': '/run' }, T + 10));
    const c = tr.collect();
    assert.deepEqual(c.traces, { root: 1 });
    assert.deepEqual(byName(c.points), { [AGENT_SERIES.llmCalls]: 2, [AGENT_SERIES.tokens]: 620, [AGENT_SERIES.toolCalls]: 1, [AGENT_SERIES.maxSimilarCalls]: 1 });
    assert.deepEqual(c.points[0].labels, { service: 'agents' });
    assert.equal(c.points[0].timestamp, T + 10);
    assert.equal(tr.openCount, 0);
  });

  test('spans after the root in the same request still count; later ones do not reopen the trace', () => {
    const tr = new AgentTraceTracker();
    feed(tr, span('t4', '', { 'gen_ai.operation.name': 'invoke_agent' }, T + 10));
    feed(tr, span('t4', 'r', chat(100), T + 5));
    feed(tr, span('t4', 'r', chat(300), T + 6));
    const c = tr.collect();
    assert.deepEqual(c.traces, { root: 1 });
    assert.equal(byName(c.points)[AGENT_SERIES.llmCalls], 2);
    feed(tr, span('t4', 'r', chat(100), T + 7));
    assert.equal(tr.openCount, 0);
    assert.equal(tr.collect().points.length, 0);
  });

  test('idle traces complete after the timeout; a straggler of a completed trace does not reopen it', () => {
    let now = 0;
    const tr = new AgentTraceTracker({ idleMs: 1000, now: () => now });
    feed(tr, span('t2', 'r', chat(100), T + 1));
    feed(tr, span('t2', 'r', chat(100), T + 2));
    now = 999;
    assert.equal(tr.collect().points.length, 0);
    now = 1000;
    const c = tr.collect();
    assert.deepEqual(c.traces, { idle: 1 });
    assert.equal(byName(c.points)[AGENT_SERIES.maxSimilarCalls], 2);
    feed(tr, span('t2', 'r', chat(100), T + 3));
    assert.equal(tr.openCount, 0);
  });

  test('a single model call per trace is not an agent run and emits nothing', () => {
    const tr = new AgentTraceTracker();
    feed(tr, span('t3', 'r', chat(100), T + 1));
    feed(tr, span('t3', '', {}, T + 2));
    const c = tr.collect();
    assert.deepEqual(c.traces, { root: 1 });
    assert.equal(c.points.length, 0);
  });

  test('open traces are bounded: the oldest completes early, not lost', () => {
    const tr = new AgentTraceTracker({ maxOpenTraces: 2 });
    for (const id of ['a', 'b', 'c']) {
      feed(tr, span(id, 'r', chat(10), T + 1));
      feed(tr, span(id, 'r', chat(10), T + 2));
    }
    assert.equal(tr.openCount, 2);
    const c = tr.collect();
    assert.deepEqual(c.traces, { evicted: 1 });
    assert.equal(c.points.length, 4);
    assert.deepEqual(tr.flushAll().traces, { shutdown: 2 });
  });

  test('points of one series strictly increase even when traces end out of order', () => {
    const tr = new AgentTraceTracker();
    for (const [id, end] of [['x', T + 5000], ['y', T + 1000], ['z', T + 1000]] as const) {
      feed(tr, span(id, 'r', chat(10), end - 2));
      feed(tr, span(id, 'r', chat(10), end - 1));
      feed(tr, span(id, '', {}, end));
    }
    const ts = tr.collect().points.filter((p) => p.series === AGENT_SERIES.llmCalls).map((p) => p.timestamp);
    assert.deepEqual(ts, [T + 5000, T + 5001, T + 5002]);
  });

  test('max similar calls: same operation and model, input tokens within 10 % (at least 16)', () => {
    const c = (group: string, inputTokens: number) => ({ group, inputTokens });
    assert.equal(maxSimilarCalls([]), 0);
    assert.equal(maxSimilarCalls([c('a', 1000), c('a', 1090), c('a', 1101), c('a', 2000)]), 2);
    assert.equal(maxSimilarCalls([c('a', 1000), c('a', 1050), c('a', 1100)]), 3);
    assert.equal(maxSimilarCalls([c('a', 5), c('a', 20), c('b', 5), c('b', 6), c('b', 7)]), 3);
    assert.equal(maxSimilarCalls([c('a', 5), c('a', 22)]), 1);
  });
});
