/**
 * Span -> LlmEvent mapping after the OpenTelemetry GenAI semantic conventions (gen_ai.*), with the older
 * names still emitted by instrumentations pinned to semconv <= 1.36 and the OpenInference names as
 * fallbacks. Pure functions: no I/O, no state.
 */
import type { LlmEvent } from '../domain/types';
import { STATUS_ERROR, attrNumber, attrString, type Attrs, type OtlpSpan } from './model';

/**
 * Attribute names, in order of preference (first present wins). Exported so docs/OTEL.md and the tests
 * can show the exact table.
 */
export const GENAI_ATTRIBUTES = {
  /** What the span does; a span is a GenAI span when one of these is present. */
  operation: ['gen_ai.operation.name', 'llm.request.type'],
  /** OpenInference marks its spans with a kind instead of an operation name. */
  openInferenceKind: ['openinference.span.kind'],
  /** OpenLLMetry's decorators (workflow, task, agent, tool) mark their spans with a kind. */
  traceloopKind: ['traceloop.span.kind'],
  /** The request model keeps one series per configured model; the response model is often a dated variant. */
  model: ['gen_ai.request.model', 'gen_ai.response.model', 'llm.model_name'],
  /** gen_ai.system was renamed gen_ai.provider.name in semconv 1.37. */
  provider: ['gen_ai.provider.name', 'gen_ai.system', 'llm.provider', 'llm.system'],
  inputTokens: ['gen_ai.usage.input_tokens', 'gen_ai.usage.prompt_tokens', 'llm.token_count.prompt'],
  outputTokens: ['gen_ai.usage.output_tokens', 'gen_ai.usage.completion_tokens', 'llm.token_count.completion'],
  errorType: ['error.type'],
  /** Not in semconv; OpenLIT and others report cost in USD under this name. */
  costUsd: ['gen_ai.usage.cost'],
  /** Seconds from request to first streamed chunk (`gen_ai.server.ttft`: older OpenLIT). */
  ttftSeconds: ['gen_ai.response.time_to_first_chunk', 'gen_ai.response.time_to_first_token', 'gen_ai.server.time_to_first_token', 'gen_ai.server.ttft'],
  /** The same in milliseconds (Vercel AI SDK doStream spans). */
  ttftMs: ['ai.response.msToFirstChunk'],
  /**
   * Without an attribute, span events of streamed chunks: the first one's time after the span start.
   * OpenInference adds `First Token Stream Event` once; OpenLLMetry an `llm.content.completion.chunk` per
   * chunk; Vercel `ai.stream.firstChunk`.
   */
  firstChunkEvents: ['First Token Stream Event', 'llm.content.completion.chunk', 'ai.stream.firstChunk'],
  /** Resource attribute naming the service. */
  service: ['service.name'],
} as const;

/**
 * Operation names that are a call to a model: semconv (`chat`, `text_completion`, `generate_content`,
 * `embeddings`), OpenLLMetry's `llm.request.type` (`completion`, `embedding`, `rerank`) and OpenLIT's
 * (`image`, `audio`). An allow-list: instrumentations name many operations that call no model (OpenLIT's
 * `vectordb`, `framework`, `workflow`, `memory`, ...), and each counted as a request of model `unknown`.
 */
export const MODEL_OPERATIONS: ReadonlySet<string> = new Set([
  'chat',
  'text_completion',
  'generate_content',
  'embeddings',
  'completion',
  'embedding',
  'rerank',
  'image',
  'audio',
]);

/**
 * Operations of agent runs: tool calls and agents (OpenLIT's older `agent` and `execute_task` included).
 * They feed the agent-trace features but are not requests of their own: agent spans often carry the
 * tokens of the model calls inside them, and counting them would count those tokens twice.
 */
export const AGENT_OPERATIONS: ReadonlySet<string> = new Set(['execute_tool', 'invoke_agent', 'create_agent', 'agent', 'execute_task']);

/** Tool-call operation (counted per agent trace). */
export const TOOL_OPERATION = 'execute_tool';

/**
 * Vercel AI SDK spans (`ai.operationId`) that are one provider call. Its outer spans (`ai.generateText`,
 * `ai.streamText`, ...) wrap one or more of these and carry their summed usage.
 */
const VERCEL_MODEL_CALL = /\.do(Generate|Stream)$/;

/** Options of {@link classifySpan}. */
export interface GenAiMappingOptions {
  /** Span (then resource) attributes naming the end user, first present wins. */
  userAttributes: readonly string[];
  /** Span (then resource) attributes naming the API key, first present wins. */
  apiKeyAttributes: readonly string[];
}

/** What a span is to the receiver. */
export type SpanClass =
  /** A call to a model: becomes an LlmEvent. */
  | { kind: 'model'; operation: string; event: LlmEvent }
  /** A tool or agent span: only feeds per-trace features. */
  | { kind: 'genai'; operation: string }
  /**
   * Not used, except as a trace's root: not a GenAI span (HTTP, DB, ...), or a GenAI span that is neither
   * a model call nor a tool / agent (workflow, chain, retrieval, vector DB query, ...).
   */
  | { kind: 'other' };

/** Value used when a GenAI span names no model (the event contract needs one). */
export const UNKNOWN_MODEL = 'unknown';
/** Value used when the resource has no service.name (what the SDKs themselves default to). */
export const UNKNOWN_SERVICE = 'unknown_service';

const MAX_LABEL = 256;
const MAX_ERROR_TYPE = 128;

/** Classifies one span and, for model calls, builds the event (not yet validated against the schema). */
export function classifySpan(span: OtlpSpan, opts: GenAiMappingOptions): SpanClass {
  const operation = operationOf(span.attributes) ?? untypedModelCall(span.attributes);
  if (operation === undefined) return { kind: 'other' };
  if (MODEL_OPERATIONS.has(operation)) return { kind: 'model', operation, event: spanToEvent(span, opts) };
  if (AGENT_OPERATIONS.has(operation)) return { kind: 'genai', operation };
  return { kind: 'other' };
}

/**
 * The operation a span names (lower case), or undefined when it names none. OpenInference and OpenLLMetry
 * decorator kinds count as names: a CHAIN, RETRIEVER or workflow span is known not to be a model call.
 */
export function operationOf(a: Attrs): string | undefined {
  const op = attrString(a, GENAI_ATTRIBUTES.operation)?.toLowerCase();
  // OpenLLMetry's llm.request.type "unknown" is a model call of a kind it could not tell.
  if (op !== undefined && op !== 'unknown') return op;
  const kind = attrString(a, GENAI_ATTRIBUTES.openInferenceKind)?.toUpperCase();
  if (kind === 'LLM') return 'chat';
  if (kind === 'EMBEDDING') return 'embeddings';
  if (kind === 'TOOL') return TOOL_OPERATION;
  if (kind === 'AGENT') return 'invoke_agent';
  if (kind !== undefined) return kind.toLowerCase();
  const decorator = attrString(a, GENAI_ATTRIBUTES.traceloopKind)?.toLowerCase();
  if (decorator === 'tool') return TOOL_OPERATION;
  if (decorator === 'agent') return 'invoke_agent';
  return decorator;
}

/**
 * `chat` for a span that names no operation but is a model call: a Vercel AI SDK provider call
 * (`ai.*.doGenerate`, `ai.*.doStream`; errors included), or any span with a model and token usage (gen_ai.*
 * attributes without gen_ai.operation.name). Vercel's outer spans are not: they repeat their calls' usage.
 */
function untypedModelCall(a: Attrs): 'chat' | undefined {
  const vercel = attrString(a, ['ai.operationId']);
  if (vercel !== undefined) return VERCEL_MODEL_CALL.test(vercel) ? 'chat' : undefined;
  const model = attrString(a, GENAI_ATTRIBUTES.model);
  const usage = attrNumber(a, [...GENAI_ATTRIBUTES.inputTokens, ...GENAI_ATTRIBUTES.outputTokens]);
  return model !== undefined && usage !== undefined ? 'chat' : undefined;
}

/**
 * Builds the event of a model-call span. The timestamp is the span's END: exporters send spans as they
 * end, so end times arrive nearly in order and a long call does not eat the windower's lateness budget.
 */
export function spanToEvent(span: OtlpSpan, opts: GenAiMappingOptions): LlmEvent {
  const a = span.attributes;
  const r = span.resource;
  const declaredError = attrString(a, GENAI_ATTRIBUTES.errorType);
  const isError = span.status.code === STATUS_ERROR || declaredError !== undefined;
  // A handled exception on a successful span is not an error of the request.
  const errorType = declaredError ?? (isError ? exceptionType(span) : undefined);
  const provider = attrString(a, GENAI_ATTRIBUTES.provider);
  const user = attrString(a, opts.userAttributes) ?? attrString(r, opts.userAttributes);
  const apiKeyId = attrString(a, opts.apiKeyAttributes) ?? attrString(r, opts.apiKeyAttributes);
  const cost = attrNumber(a, GENAI_ATTRIBUTES.costUsd);
  const ttft = ttftMs(span);
  const event: LlmEvent = {
    timestamp: Math.round(span.endMs),
    service: clip(attrString(r, GENAI_ATTRIBUTES.service) ?? UNKNOWN_SERVICE, MAX_LABEL),
    model: clip(attrString(a, GENAI_ATTRIBUTES.model) ?? UNKNOWN_MODEL, MAX_LABEL),
    inputTokens: tokens(attrNumber(a, GENAI_ATTRIBUTES.inputTokens)),
    outputTokens: tokens(attrNumber(a, GENAI_ATTRIBUTES.outputTokens)),
    latencyMs: Math.max(0, span.endMs - span.startMs),
    status: isError ? 'error' : 'ok',
    costUsd: cost !== undefined && cost >= 0 ? cost : 0,
  };
  if (provider !== undefined) event.provider = clip(provider, MAX_LABEL);
  if (user !== undefined) event.user = clip(user, MAX_LABEL);
  if (apiKeyId !== undefined) event.apiKeyId = clip(apiKeyId, MAX_LABEL);
  if (isError) event.errorType = clip(errorType ?? '_OTHER', MAX_ERROR_TYPE);
  if (ttft !== undefined) event.ttftMs = ttft;
  return event;
}

/** Time to first token in ms: from an attribute, else from the first streamed-chunk event. */
function ttftMs(span: OtlpSpan): number | undefined {
  const seconds = attrNumber(span.attributes, GENAI_ATTRIBUTES.ttftSeconds);
  if (seconds !== undefined && seconds >= 0) return seconds * 1000;
  const ms = attrNumber(span.attributes, GENAI_ATTRIBUTES.ttftMs);
  if (ms !== undefined && ms >= 0) return ms;
  if (!(span.startMs > 0)) return undefined;
  let first = Infinity;
  for (const e of span.events) {
    if (e.timeMs >= span.startMs && e.timeMs < first && (GENAI_ATTRIBUTES.firstChunkEvents as readonly string[]).includes(e.name)) first = e.timeMs;
  }
  return first === Infinity ? undefined : first - span.startMs;
}

/** Token counts are integers >= 0; anything else (negative, NaN) counts as not reported. */
function tokens(v: number | undefined): number {
  return v !== undefined && v >= 0 ? Math.round(v) : 0;
}

/** An error status without error.type still has a type when the span recorded an exception event. */
function exceptionType(span: OtlpSpan): string | undefined {
  for (const e of span.events) if (e.name === 'exception') return attrString(e.attributes, ['exception.type']);
  return undefined;
}

function clip(s: string, n: number): string {
  return s.length > n ? s.slice(0, n) : s;
}
