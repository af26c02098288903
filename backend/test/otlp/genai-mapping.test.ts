import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifySpan, spanToEvent, type GenAiMappingOptions } from '../../src/otlp/genai-mapping';
import { STATUS_ERROR, STATUS_OK, type Attrs, type OtlpSpan } from '../../src/otlp/model';

const opts: GenAiMappingOptions = { userAttributes: ['user.id', 'enduser.id'], apiKeyAttributes: ['app.api_key_id'] };
const T = Date.UTC(2026, 0, 5, 10, 0, 0);

function span(attributes: Attrs, over: Partial<OtlpSpan> = {}): OtlpSpan {
  return {
    traceId: 'aa',
    spanId: 'bb',
    parentSpanId: 'cc',
    name: 'chat',
    kind: 3,
    startMs: T,
    endMs: T + 1234.5,
    attributes,
    resource: { 'service.name': 'svc' },
    scopeName: 'x',
    status: { code: 0, message: '' },
    events: [],
    ...over,
  };
}

describe('GenAI span mapping', () => {
  test('current semconv names map onto the event contract; the timestamp is the span end', () => {
    const e = spanToEvent(
      span({
        'gen_ai.operation.name': 'chat',
        'gen_ai.provider.name': 'openai',
        'gen_ai.system': 'ignored-when-provider-present',
        'gen_ai.request.model': 'gpt-4o',
        'gen_ai.response.model': 'gpt-4o-2024-08-06',
        'gen_ai.usage.input_tokens': 120,
        'gen_ai.usage.output_tokens': 30,
        'gen_ai.usage.cost': 0.0012,
        'gen_ai.response.time_to_first_chunk': 0.25,
        'user.id': 'u-1',
        'app.api_key_id': 'key-9',
      }),
      opts,
    );
    assert.deepEqual(e, {
      timestamp: T + 1235,
      service: 'svc',
      model: 'gpt-4o',
      provider: 'openai',
      user: 'u-1',
      apiKeyId: 'key-9',
      inputTokens: 120,
      outputTokens: 30,
      latencyMs: 1234.5,
      ttftMs: 250,
      status: 'ok',
      costUsd: 0.0012,
    });
  });

  test('older names (gen_ai.system, prompt/completion tokens) and OpenInference names are fallbacks', () => {
    const old = spanToEvent(span({ 'gen_ai.operation.name': 'chat', 'gen_ai.system': 'anthropic', 'gen_ai.response.model': 'claude-x', 'gen_ai.usage.prompt_tokens': 7, 'gen_ai.usage.completion_tokens': 3 }), opts);
    assert.equal(old.provider, 'anthropic');
    assert.equal(old.model, 'claude-x');
    assert.equal(old.inputTokens, 7);
    assert.equal(old.outputTokens, 3);
    const oi = classifySpan(span({ 'openinference.span.kind': 'LLM', 'llm.model_name': 'mistral-large', 'llm.provider': 'mistralai', 'llm.token_count.prompt': 11, 'llm.token_count.completion': 4 }), opts);
    assert.equal(oi.kind, 'model');
    if (oi.kind !== 'model') return;
    assert.equal(oi.operation, 'chat');
    assert.deepEqual([oi.event.model, oi.event.provider, oi.event.inputTokens, oi.event.outputTokens], ['mistral-large', 'mistralai', 11, 4]);
  });

  test('error status and error.type make an error event; an exception event gives the type when error.type is missing', () => {
    const typed = spanToEvent(span({ 'gen_ai.operation.name': 'chat', 'error.type': 'rate_limit_exceeded' }, { status: { code: STATUS_ERROR, message: '429' } }), opts);
    assert.deepEqual([typed.status, typed.errorType], ['error', 'rate_limit_exceeded']);
    const exc = spanToEvent(
      span({ 'gen_ai.operation.name': 'chat' }, { status: { code: STATUS_ERROR, message: '' }, events: [{ name: 'exception', timeMs: T, attributes: { 'exception.type': 'TimeoutError' } }] }),
      opts,
    );
    assert.deepEqual([exc.status, exc.errorType], ['error', 'TimeoutError']);
    const bare = spanToEvent(span({ 'gen_ai.operation.name': 'chat' }, { status: { code: STATUS_ERROR, message: '' } }), opts);
    assert.deepEqual([bare.status, bare.errorType], ['error', '_OTHER']);
    // A handled exception on a successful call is not an error of the request.
    const handled = spanToEvent(span({ 'gen_ai.operation.name': 'chat' }, { status: { code: STATUS_OK, message: '' }, events: [{ name: 'exception', timeMs: T, attributes: { 'exception.type': 'Retry' } }] }), opts);
    assert.deepEqual([handled.status, handled.errorType], ['ok', undefined]);
  });

  test('user and API key come from the configured attributes, span first, then resource', () => {
    const fromResource = spanToEvent(span({ 'gen_ai.operation.name': 'chat' }, { resource: { 'service.name': 'svc', 'enduser.id': 'r-user' } }), opts);
    assert.equal(fromResource.user, 'r-user');
    const custom = spanToEvent(span({ 'gen_ai.operation.name': 'chat', 'tenant.user': 'x', 'user.id': 'y' }), { userAttributes: ['tenant.user'], apiKeyAttributes: [] });
    assert.equal(custom.user, 'x');
    assert.equal(custom.apiKeyId, undefined);
  });

  test('missing service and model get the SDK-style placeholders; junk numbers count as not reported', () => {
    const e = spanToEvent(span({ 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': -4, 'gen_ai.usage.output_tokens': 'many', 'gen_ai.usage.cost': -1 }, { resource: {} }), opts);
    assert.deepEqual([e.service, e.model, e.inputTokens, e.outputTokens, e.costUsd], ['unknown_service', 'unknown', 0, 0, 0]);
    const str = spanToEvent(span({ 'gen_ai.operation.name': 'chat', 'gen_ai.usage.input_tokens': '42' }), opts);
    assert.equal(str.inputTokens, 42);
  });

  test('tool and agent spans are GenAI but not model calls; other spans are not GenAI', () => {
    assert.deepEqual(classifySpan(span({ 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' }), opts), { kind: 'genai', operation: 'execute_tool' });
    assert.deepEqual(classifySpan(span({ 'gen_ai.operation.name': 'invoke_agent' }), opts), { kind: 'genai', operation: 'invoke_agent' });
    assert.deepEqual(classifySpan(span({ 'http.route': '/chat' }), opts), { kind: 'other' });
    assert.equal(classifySpan(span({ 'gen_ai.operation.name': 'embeddings', 'gen_ai.request.model': 'text-embedding-3-small' }), opts).kind, 'model');
  });

  test('only model operations are model calls: OpenLIT names many that call no model (QA: one RAG request was 3 events)', () => {
    const kind = (a: Attrs) => classifySpan(span(a), opts).kind;
    for (const op of ['chat', 'text_completion', 'generate_content', 'embeddings', 'Chat']) assert.equal(kind({ 'gen_ai.operation.name': op, 'gen_ai.request.model': 'm' }), 'model', op);
    for (const type of ['chat', 'completion', 'embedding']) assert.equal(kind({ 'llm.request.type': type, 'gen_ai.request.model': 'm' }), 'model', type);
    // OpenLIT's chain, vector DB, memory and workflow spans are neither requests nor agent spans.
    for (const op of ['vectordb', 'framework', 'workflow', 'invoke_workflow', 'memory', 'retrieval', 'fine_tuning', 'something_new']) {
      assert.deepEqual(classifySpan(span({ 'gen_ai.operation.name': op, 'gen_ai.system': 'langchain', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 10 }), opts), { kind: 'other' }, op);
    }
    // Its agent spans (which carry the tokens of the calls inside them) are agent spans, as invoke_agent is.
    assert.deepEqual(classifySpan(span({ 'gen_ai.operation.name': 'agent', 'gen_ai.request.model': 'gpt-4o' }), opts), { kind: 'genai', operation: 'agent' });
    assert.deepEqual(classifySpan(span({ 'gen_ai.operation.name': 'execute_task', 'gen_ai.usage.input_tokens': 900 }), opts), { kind: 'genai', operation: 'execute_task' });
    assert.deepEqual(classifySpan(span({ 'gen_ai.operation.name': 'create_agent' }), opts), { kind: 'genai', operation: 'create_agent' });
    // OpenInference kinds other than LLM / EMBEDDING / TOOL / AGENT, and OpenLLMetry's decorators.
    assert.equal(kind({ 'openinference.span.kind': 'RETRIEVER' }), 'other');
    assert.equal(kind({ 'openinference.span.kind': 'EMBEDDING', 'embedding.model_name': 'e' }), 'model');
    assert.equal(kind({ 'traceloop.span.kind': 'workflow' }), 'other');
    assert.deepEqual(classifySpan(span({ 'traceloop.span.kind': 'tool' }), opts), { kind: 'genai', operation: 'execute_tool' });
    assert.deepEqual(classifySpan(span({ 'traceloop.span.kind': 'agent' }), opts), { kind: 'genai', operation: 'invoke_agent' });
  });

  test('a span with a model and token usage but no operation name is a chat call (Vercel AI SDK), unless a known non-model kind', () => {
    // Vercel AI SDK: the provider call carries gen_ai.* without gen_ai.operation.name ...
    const doGenerate = {
      'ai.operationId': 'ai.generateText.doGenerate',
      'gen_ai.system': 'openai.chat',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
      'gen_ai.usage.input_tokens': 42,
      'gen_ai.usage.output_tokens': 7,
    };
    const c = classifySpan(span(doGenerate), opts);
    assert.equal(c.kind, 'model');
    if (c.kind !== 'model') return;
    assert.equal(c.operation, 'chat');
    assert.deepEqual([c.event.model, c.event.provider, c.event.inputTokens, c.event.outputTokens], ['gpt-4o-mini', 'openai.chat', 42, 7]);
    // ... also when it failed and reports no usage, or when it streamed.
    assert.equal(classifySpan(span({ 'ai.operationId': 'ai.streamText.doStream', 'gen_ai.request.model': 'gpt-4o-mini' }, { status: { code: STATUS_ERROR, message: '' } }), opts).kind, 'model');
    // ... while the outer span around it, which repeats the usage, is not a second request.
    const outer = { 'ai.operationId': 'ai.generateText', 'ai.model.id': 'gpt-4o-mini', 'ai.usage.promptTokens': 42, 'ai.usage.completionTokens': 7 };
    assert.deepEqual(classifySpan(span(outer), opts), { kind: 'other' });
    assert.deepEqual(classifySpan(span({ ...outer, 'gen_ai.request.model': 'gpt-4o-mini', 'gen_ai.usage.input_tokens': 42 }), opts), { kind: 'other' });
    // Any other span with a model and usage is a call; a model alone, or usage alone, is not enough.
    assert.equal(classifySpan(span({ 'gen_ai.system': 'x', 'gen_ai.response.model': 'm', 'gen_ai.usage.prompt_tokens': 3 }), opts).kind, 'model');
    assert.equal(classifySpan(span({ 'gen_ai.request.model': 'm' }), opts).kind, 'other');
    assert.equal(classifySpan(span({ 'gen_ai.usage.input_tokens': 3 }), opts).kind, 'other');
    // OpenLLMetry's llm.request.type "unknown" names no operation.
    assert.equal(classifySpan(span({ 'llm.request.type': 'unknown', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 3 }), opts).kind, 'model');
    // Known non-model kinds stay what they are, even with a model and usage.
    assert.equal(classifySpan(span({ 'openinference.span.kind': 'CHAIN', 'llm.model_name': 'm', 'llm.token_count.prompt': 3 }), opts).kind, 'other');
    assert.equal(classifySpan(span({ 'traceloop.span.kind': 'workflow', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 3 }), opts).kind, 'other');
    assert.equal(classifySpan(span({ 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.request.model': 'm', 'gen_ai.usage.input_tokens': 3 }), opts).kind, 'genai');
  });

  test('time to first token of streamed calls: attributes, else the first streamed-chunk event (QA: lost)', () => {
    const ttft = (a: Attrs, events: OtlpSpan['events'] = []) => spanToEvent(span({ 'gen_ai.operation.name': 'chat', ...a }, { events }), opts).ttftMs;
    // Older OpenLIT: gen_ai.server.ttft, in seconds. Vercel AI SDK doStream: milliseconds.
    assert.equal(ttft({ 'gen_ai.server.ttft': 0.3 }), 300);
    assert.equal(ttft({ 'ai.response.msToFirstChunk': 412.5 }), 412.5);
    // OpenInference adds one "First Token Stream Event" when the first chunk arrives.
    assert.equal(ttft({}, [{ name: 'First Token Stream Event', timeMs: T + 220, attributes: {} }]), 220);
    // OpenLLMetry adds an event per chunk: the first one counts, whatever the order of the list.
    const chunks = [T + 700, T + 180, T + 450].map((timeMs) => ({ name: 'llm.content.completion.chunk', timeMs, attributes: {} }));
    assert.equal(ttft({}, [{ name: 'gen_ai.content.prompt', timeMs: T + 1, attributes: {} }, ...chunks]), 180);
    // An attribute wins over events; an event before the span start (clock trouble) or without a time is not used.
    assert.equal(ttft({ 'gen_ai.response.time_to_first_chunk': 0.1 }, chunks), 100);
    assert.equal(ttft({}, [{ name: 'First Token Stream Event', timeMs: T - 5, attributes: {} }]), undefined);
    assert.equal(ttft({}, [{ name: 'First Token Stream Event', timeMs: 0, attributes: {} }]), undefined);
    assert.equal(ttft({}), undefined);
  });
});
