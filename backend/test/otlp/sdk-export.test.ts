/**
 * End to end with the OpenTelemetry JS SDK's own OTLP exporters (protobuf and JSON, gzip and not) against
 * the real service on loopback: the windows, per-trace points and metric points it builds, and an incident
 * found in event time.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { minutesAgo, startServer, type TestServer } from '../helpers';
import { genAiSpan, sdkMeter, sdkTracer, seeded, startSpan } from './otel-sdk';

interface SeriesItem {
  seriesKey: string;
  labels: Record<string, string>;
  kind: string;
  windows: number;
}
interface ScorePoint {
  timestamp: string;
  value: number;
  isAnomaly: boolean;
}

const MIN = 60_000;
const iso = (t: number) => new Date(t).toISOString();

async function series(s: TestServer): Promise<SeriesItem[]> {
  return (await (await fetch(`${s.url}/api/v1/series`)).json()).items;
}

async function findSeries(s: TestServer, labels: Record<string, string>): Promise<SeriesItem> {
  const all = await series(s);
  const hit = all.find((x) => Object.keys(labels).length === Object.keys(x.labels).length && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  assert.ok(hit, `no series with labels ${JSON.stringify(labels)}; have ${JSON.stringify(all.map((x) => x.labels))}`);
  return hit;
}

async function scores(s: TestServer, key: string, feature: string): Promise<ScorePoint[]> {
  const r = await fetch(`${s.url}/api/v1/scores?series=${encodeURIComponent(key)}&feature=${feature}&limit=10000`);
  assert.equal(r.status, 200, await r.clone().text());
  return (await r.json()).items[0].points;
}

describe('OTLP traces from the SDK exporters: windows and an error burst (protobuf + gzip)', () => {
  let s: TestServer;
  const base = minutesAgo(45);
  const normalMinutes = 30;
  const incident = base + normalMinutes * MIN;
  /** Expected per window start: requests, input token sum, error count, users. */
  const expected = new Map<number, { n: number; input: number; errors: number; users: Set<string> }>();

  before(async () => {
    s = await startServer({ SENTINEL_WARMUP_WINDOWS: '10' });
    const { tracer, flush, shutdown } = sdkTracer(s.url, 'chat-svc', { encoding: 'protobuf', gzip: true });
    const rnd = seeded(7);
    const minute = (m: number, n: number, errors: number) => {
      const w = base + m * MIN;
      const e = { n: 0, input: 0, errors: 0, users: new Set<string>() };
      for (let i = 0; i < n; i++) {
        const input = 400 + Math.floor(rnd() * 100);
        const user = `user-${i % 3}`;
        const error = i < errors ? 'rate_limit_exceeded' : undefined;
        // Spans end within the minute: the event time of a span is its end.
        genAiSpan(tracer, {
          start: w + 500 + Math.floor((i * 45_000) / n),
          durationMs: 700 + Math.floor(rnd() * 300),
          model: 'gpt-4o',
          provider: 'openai',
          inputTokens: input,
          outputTokens: 100 + Math.floor(rnd() * 40),
          error,
          attributes: { 'user.id': user },
        });
        e.n++;
        e.input += input;
        if (error) e.errors++;
        e.users.add(user);
      }
      expected.set(w, e);
    };
    for (let m = 0; m < normalMinutes; m++) minute(m, 6, 0);
    await flush();
    minute(normalMinutes, 24, 18); // the incident: 4x the traffic, 75 % errors
    minute(normalMinutes + 1, 6, 0);
    minute(normalMinutes + 2, 6, 0); // moves event time past the end of the minute before it
    await flush();
    await shutdown();
    await s.app.pipeline.idle();
  });
  after(() => s.close());

  test('the exporter really spoke protobuf with gzip, and every request was a 200', async () => {
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /^sentinel_otlp_requests_total\{signal="traces",encoding="protobuf",compression="gzip",code="200"\} 2$/m);
    assert.doesNotMatch(text, /^sentinel_otlp_requests_total\{[^}]*code="[45]\d\d"/m);
    assert.match(text, /^sentinel_otlp_received_total\{signal="traces",outcome="accepted"\} 216$/m);
  });

  test('one event series per service and model, with the windows that closed', async () => {
    const item = await findSeries(s, { service: 'chat-svc', model: 'gpt-4o' });
    assert.equal(item.kind, 'events');
    // All but the last window closed (it waits for later events or the idle tick).
    assert.equal(item.windows, normalMinutes + 2);
  });

  test('per-window request counts, token sums, error rate and distinct users match what was sent', async () => {
    const key = (await findSeries(s, { service: 'chat-svc', model: 'gpt-4o' })).seriesKey;
    const byFeature = async (f: string) => new Map((await scores(s, key, f)).map((p) => [p.timestamp, p.value]));
    const [count, input, errorRate, users] = await Promise.all(['request_count', 'input_tokens_sum', 'error_rate', 'distinct_users'].map(byFeature));
    let checked = 0;
    for (const [w, e] of expected) {
      if (w >= base + (normalMinutes + 2) * MIN) continue; // still open
      assert.equal(count.get(iso(w)), e.n, `request_count of ${iso(w)}`);
      assert.equal(input.get(iso(w)), e.input, `input_tokens_sum of ${iso(w)}`);
      assert.equal(errorRate.get(iso(w)), Math.round((e.errors / e.n) * 1000) / 1000, `error_rate of ${iso(w)}`);
      assert.equal(users.get(iso(w)), e.users.size, `distinct_users of ${iso(w)}`);
      checked++;
    }
    assert.equal(checked, normalMinutes + 2);
  });

  test('the error burst is an anomaly at the incident window, and the normal period is not', async () => {
    const r = await fetch(`${s.url}/api/v1/anomalies?service=chat-svc`);
    const { items } = await r.json();
    assert.ok(items.length >= 1, 'no anomaly found');
    const hit = items.find((a: { start: string }) => a.start === iso(incident));
    assert.ok(hit, `no anomaly starting at ${iso(incident)}: ${JSON.stringify(items.map((a: { start: string; type: string }) => [a.start, a.type]))}`);
    assert.ok(hit.score > 1);
    assert.deepEqual(hit.labels, { service: 'chat-svc', model: 'gpt-4o' });
    assert.ok(
      hit.attributions.some((x: { feature: string }) => x.feature === 'error_rate'),
      `error_rate not among attributions: ${JSON.stringify(hit.attributions.map((x: { feature: string }) => x.feature))}`,
    );
    for (const a of items) assert.ok(Date.parse(a.start) >= incident, `false positive in the normal period at ${a.start}`);
  });
});

describe('OTLP agent traces from the SDK exporters: per-trace points and loop detection (JSON)', () => {
  let s: TestServer;
  const base = minutesAgo(40);
  const normalTraces = 25;

  before(async () => {
    s = await startServer({ SENTINEL_WARMUP_WINDOWS: '10', SENTINEL_OTEL_TRACE_IDLE: '200ms' });
    const { tracer, flush, shutdown } = sdkTracer(s.url, 'agent-svc', { encoding: 'json', gzip: false });
    const agentRun = (start: number, inputs: number[], tools: number, endRoot = true) => {
      const root = startSpan(tracer, 'invoke_agent planner', start, { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'planner' });
      let t = start + 100;
      for (const input of inputs) {
        genAiSpan(tracer, { start: t, durationMs: 800, model: 'gpt-4o-mini', inputTokens: input, outputTokens: 50, parent: root });
        t += 900;
        for (let k = 0; k < tools; k++) {
          genAiSpan(tracer, { start: t, durationMs: 50, operation: 'execute_tool', attributes: { 'gen_ai.tool.name': 'search' }, parent: root });
          t += 60;
        }
        tools = 0; // one tool round after the first call
      }
      if (endRoot) root.end(t + 50);
    };
    for (let k = 0; k < normalTraces; k++) agentRun(base + k * MIN + 1000, [300, 800, 1500], 1);
    // The loop: twelve calls with the same prompt size, no tool in between.
    agentRun(base + normalTraces * MIN + 1000, Array.from({ length: 12 }, (_, i) => 1000 + (i % 3) * 10), 0);
    // A run whose root span never arrives: completed by the idle timeout.
    agentRun(base + (normalTraces + 1) * MIN + 1000, [200, 200], 0, false);
    // Later traffic so the windows above close.
    agentRun(base + (normalTraces + 3) * MIN + 1000, [300, 800, 1500], 1);
    await flush();
    await shutdown();
    // Past the idle timeout (200 ms) and the receiver's 1 s idle check.
    await new Promise((r) => setTimeout(r, 1500));
    await s.app.pipeline.idle();
  });
  after(() => s.close());

  test('per-trace points: model calls, tokens, tool calls and the loop indicator', async () => {
    const values = async (name: string) => {
      const item = await findSeries(s, { series: name, service: 'agent-svc' });
      assert.equal(item.kind, 'points');
      return (await scores(s, item.seriesKey, 'value')).map((p) => p.value);
    };
    const normal = (v: number) => Array(normalTraces).fill(v);
    // Order: the normal runs, the loop, the later normal run (root arrived), then the idle one.
    assert.deepEqual(await values('agent_trace_llm_calls'), [...normal(3), 12, 3, 2]);
    assert.deepEqual(await values('agent_trace_tool_calls'), [...normal(1), 0, 1, 0]);
    assert.deepEqual(await values('agent_trace_tokens'), [...normal(300 + 800 + 1500 + 150), 12 * 1010 + 12 * 50, 2750, 500]);
    assert.deepEqual(await values('agent_trace_max_similar_calls'), [...normal(1), 12, 1, 2]);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    assert.match(text, /^sentinel_otlp_requests_total\{signal="traces",encoding="json",compression="none",code="200"\} 1$/m);
    assert.match(text, /^sentinel_otlp_traces_completed_total\{reason="root"\} 27$/m);
    assert.match(text, /^sentinel_otlp_traces_completed_total\{reason="idle"\} 1$/m);
    assert.match(text, /^sentinel_otlp_open_traces 0$/m);
  });

  test('the loop is an anomaly of the per-trace series at the looping trace, and nothing before it is', async () => {
    const { items } = await (await fetch(`${s.url}/api/v1/anomalies?service=agent-svc`)).json();
    // The loop trace's root ends 1 s + 12 calls x 0.9 s + 0.15 s into its minute.
    const loopEnd = iso(base + normalTraces * MIN + 1000 + 100 + 12 * 900 + 50);
    const at = (series: string) => items.find((a: { labels: Record<string, string>; start: string }) => a.labels.series === series && a.start === loopEnd);
    assert.ok(at('agent_trace_max_similar_calls'), `no loop anomaly: ${JSON.stringify(items.map((a: { seriesKey: string; start: string }) => [a.seriesKey, a.start]))}`);
    assert.ok(at('agent_trace_llm_calls'));
    for (const a of items) assert.ok(a.start >= iso(base + normalTraces * MIN), `anomaly before the loop: ${a.seriesKey} at ${a.start}`);
  });

  test('the model calls of the agent runs are events of their own series; agent and tool spans are not', async () => {
    const item = await findSeries(s, { service: 'agent-svc', model: 'gpt-4o-mini' });
    const counts = await scores(s, item.seriesKey, 'request_count');
    assert.equal(counts[0].timestamp, iso(base));
    assert.deepEqual(counts.slice(0, normalTraces).map((p) => p.value), Array(normalTraces).fill(3));
    assert.equal(counts[normalTraces].value, 12);
    const all = await series(s);
    assert.ok(!all.some((x) => x.labels.model === 'unknown'), 'tool / agent spans became events');
  });
});

describe('OTLP metrics from the SDK exporters: GenAI histograms become mean-per-export points', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  for (const kind of [
    { encoding: 'protobuf', gzip: false },
    { encoding: 'json', gzip: true },
  ] as const) {
    test(`${kind.encoding}${kind.gzip ? ' + gzip' : ''}: token usage and duration, cumulative turned into deltas`, async () => {
      const service = `metrics-${kind.encoding}`;
      const m = sdkMeter(s.url, service, kind);
      const meter = m.provider.getMeter('genai-test');
      const tokens = meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}' });
      const duration = meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' });
      const attrs = (type: string, op = 'chat') => ({ 'gen_ai.operation.name': op, 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.token.type': type });
      for (const v of [100, 200, 300]) tokens.record(v, attrs('input'));
      tokens.record(50, attrs('output'));
      // Another operation of the same model: a separate stream that lands in the same series.
      tokens.record(400, attrs('input', 'text_completion'));
      for (const v of [0.5, 1.5]) duration.record(v, { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' });
      await m.flush();
      await new Promise((r) => setTimeout(r, 5)); // the next export gets a later timestamp
      for (const v of [1000, 3000]) tokens.record(v, attrs('input'));
      await m.flush();
      await m.shutdown();
      await s.app.pipeline.idle();

      const input = await findSeries(s, { series: 'gen_ai.client.token.usage', service, model: 'gpt-4o', token_type: 'input' });
      assert.deepEqual((await scores(s, input.seriesKey, 'value')).map((p) => p.value), [250, 2000]);
      // No output measurement after the first export: no second point (a mean of nothing is not 0).
      const output = await findSeries(s, { series: 'gen_ai.client.token.usage', service, model: 'gpt-4o', token_type: 'output' });
      assert.deepEqual((await scores(s, output.seriesKey, 'value')).map((p) => p.value), [50]);
      const dur = await findSeries(s, { series: 'gen_ai.client.operation.duration', service, model: 'gpt-4o' });
      assert.deepEqual((await scores(s, dur.seriesKey, 'value')).map((p) => p.value), [1]);
      const text = await (await fetch(`${s.url}/metrics`)).text();
      const enc = kind.gzip ? 'gzip' : 'none';
      // Two flushes and the final export of shutdown (nothing new in it, so no third point above).
      assert.match(text, new RegExp(`^sentinel_otlp_requests_total\\{signal="metrics",encoding="${kind.encoding}",compression="${enc}",code="200"\\} 3$`, 'm'));
    });
  }
});
