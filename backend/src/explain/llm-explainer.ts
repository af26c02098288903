import OpenAI from 'openai';
import type { Logger } from '../logger';
import { LlmError, LlmRequestError, LlmTimeoutError, LlmUnavailableError } from './errors';
import { ANSWER_JSON_SCHEMA, parseAnswer, retryMessage, type Answer, type ChatMessage, type Prompt } from './prompt';
import { redactText } from './redact';

/**
 * The OpenAI adapter: the only file that imports `openai`. One plain `chat.completions` call with a JSON
 * answer, which works against OpenAI, Azure OpenAI (v1 API: base URL `https://<resource>.openai.azure.com/
 * openai/v1/`) and OpenAI-compatible servers (Ollama `http://host:11434/v1`, vLLM `http://host:8000/v1`).
 * SDK errors leave as our LlmError subclasses; SDK types never do.
 */

/** How the JSON answer is asked for. Servers that refuse one are stepped down to the next, once. */
export type ResponseFormatMode = 'json_schema' | 'json_object' | 'none';
const STEP_DOWN: Record<ResponseFormatMode, ResponseFormatMode | null> = { json_schema: 'json_object', json_object: 'none', none: null };

/** Options of {@link LlmExplainer}. */
export interface LlmExplainerOptions {
  /** SENTINEL_LLM_BASE_URL. @default "https://api.openai.com/v1" */
  baseUrl?: string;
  /** SENTINEL_LLM_API_KEY; local servers need none. */
  apiKey?: string;
  /** SENTINEL_LLM_MODEL (for Azure: the deployment name). */
  model: string;
  /** Per call, each attempt. @default 20000 (SENTINEL_LLM_TIMEOUT) */
  timeoutMs?: number;
  /** @default "json_schema" */
  responseFormat?: ResponseFormatMode;
  /** Sampling temperature; dropped by itself if the model refuses one. @default 0.2 */
  temperature?: number;
  log: Logger;
}

/** Result of {@link LlmExplainer.explain}: a validated answer, or why the output was unusable after the retry. */
export type ExplainResult =
  | { ok: true; answer: Answer; model: string; attempts: number }
  | { ok: false; problem: string; attempts: number };

const AZURE_HOST = /\.(openai\.azure\.com|cognitiveservices\.azure\.com|services\.ai\.azure\.com)$/i;
/** Largest invalid reply echoed back on the retry (the model only needs to see what it got wrong). */
const MAX_ECHO = 4000;

/** Asks an OpenAI-compatible endpoint to explain one prompt, validating (and retrying once) its answer. */
export class LlmExplainer {
  readonly model: string;
  readonly timeoutMs: number;
  private readonly client: OpenAI;
  private format: ResponseFormatMode;
  private temperature: number | undefined;

  constructor(private readonly opts: LlmExplainerOptions) {
    this.model = opts.model;
    this.timeoutMs = opts.timeoutMs ?? 20_000;
    this.format = opts.responseFormat ?? 'json_schema';
    this.temperature = opts.temperature ?? 0.2;
    const baseURL = opts.baseUrl ?? 'https://api.openai.com/v1';
    let azure = false;
    try {
      azure = AZURE_HOST.test(new URL(baseURL).hostname);
    } catch {
      // config validated it as a URL already; a failure here only means "not Azure"
    }
    this.client = new OpenAI({
      // Explicit values so the SDK never falls back to OPENAI_* variables of the environment.
      baseURL,
      apiKey: opts.apiKey ?? 'none',
      // Azure's v1 API also accepts the key in its own header; sending both covers older gateways.
      defaultHeaders: azure && opts.apiKey ? { 'api-key': opts.apiKey } : undefined,
      timeout: this.timeoutMs,
      // Retries are ours (one on invalid output; the breaker on failures), not the SDK's silent ones.
      maxRetries: 0,
    });
  }

  /**
   * Sends the prompt; an invalid answer (not JSON, wrong shape, unknown evidence refs) gets exactly one retry
   * that says what was wrong. Endpoint failures throw (LlmTimeoutError, LlmUnavailableError, ...).
   */
  async explain(prompt: Prompt, signal?: AbortSignal): Promise<ExplainResult> {
    const messages: ChatMessage[] = [...prompt.messages];
    let problem = '';
    for (let attempt = 1; attempt <= 2; attempt++) {
      const reply = await this.complete(messages, signal);
      const parsed = parseAnswer(reply.content, prompt.refs);
      if (parsed.ok) return { ok: true, answer: parsed.answer, model: reply.model, attempts: attempt };
      problem = parsed.problem;
      this.opts.log.warn({ attempt, problem, model: this.model }, 'LLM answer invalid');
      messages.push({ role: 'assistant', content: (reply.content ?? '').slice(0, MAX_ECHO) }, retryMessage(problem));
    }
    return { ok: false, problem, attempts: 2 };
  }

  /** One chat completion; steps the response format down when the server refuses it. */
  private async complete(messages: ChatMessage[], signal?: AbortSignal): Promise<{ content: string | null; model: string }> {
    for (;;) {
      // Our own deadline over the whole exchange: the SDK's timeout stops at the response headers, so a
      // server that sends headers and then stalls the body would otherwise hang the call.
      const deadline = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        deadline.abort();
      }, this.timeoutMs);
      const onAbort = () => deadline.abort();
      signal?.addEventListener('abort', onAbort, { once: true });
      if (signal?.aborted) deadline.abort();
      try {
        const res = await this.client.chat.completions.create(
          {
            model: this.model,
            messages,
            ...(this.temperature !== undefined ? { temperature: this.temperature } : {}),
            ...this.responseFormat(),
          },
          { signal: deadline.signal, timeout: this.timeoutMs },
        );
        const choice = res.choices?.[0];
        if (!choice) return { content: null, model: res.model ?? this.model };
        if (choice.finish_reason === 'length') return { content: null, model: res.model ?? this.model };
        return { content: choice.message?.content ?? null, model: res.model || this.model };
      } catch (err) {
        if (timedOut) throw new LlmTimeoutError(this.timeoutMs, err);
        if (this.stepDown(err)) continue;
        throw this.mapError(err);
      } finally {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      }
    }
  }

  private responseFormat(): { response_format?: OpenAI.Chat.ChatCompletionCreateParams['response_format'] } {
    if (this.format === 'json_schema') {
      return { response_format: { type: 'json_schema', json_schema: { name: 'anomaly_explanation', strict: true, schema: ANSWER_JSON_SCHEMA as unknown as Record<string, unknown> } } };
    }
    if (this.format === 'json_object') return { response_format: { type: 'json_object' } };
    return {};
  }

  /** A 400 naming an option we sent: drop or weaken that option and ask again (remembered for later calls). */
  private stepDown(err: unknown): boolean {
    if (!(err instanceof OpenAI.APIError) || err.status !== 400) return false;
    const msg = String(err.message).toLowerCase();
    if (this.temperature !== undefined && msg.includes('temperature')) {
      this.temperature = undefined;
      this.opts.log.info({ model: this.model }, 'LLM endpoint refused temperature; sending none from now on');
      return true;
    }
    const next = STEP_DOWN[this.format];
    if (next && (msg.includes('response_format') || msg.includes('json_schema') || msg.includes('json_object') || msg.includes('response format'))) {
      this.opts.log.info({ model: this.model, from: this.format, to: next }, 'LLM endpoint refused the response format; stepping down');
      this.format = next;
      return true;
    }
    return false;
  }

  private mapError(err: unknown): LlmError {
    // SDK messages may quote the server's body; redact in case it echoes a key.
    const message = (e: unknown) => redactText(e instanceof Error ? e.message : String(e));
    if (err instanceof OpenAI.APIConnectionTimeoutError) return new LlmTimeoutError(this.timeoutMs, err);
    if (err instanceof OpenAI.APIUserAbortError) return new LlmError('the LLM call was cancelled', { code: 'llm_cancelled', status: 503, cause: err });
    if (err instanceof OpenAI.APIConnectionError) return new LlmUnavailableError(`cannot reach the LLM endpoint: ${message(err.cause ?? err)}`, { cause: err });
    if (err instanceof OpenAI.APIError) {
      const status = err.status ?? 0;
      if (status === 429 || status >= 500) {
        const ra = Number(err.headers?.get('retry-after'));
        return new LlmUnavailableError(`the LLM endpoint answered ${status}: ${message(err)}`, {
          upstreamStatus: status,
          retryAfterMs: Number.isFinite(ra) && ra > 0 ? ra * 1000 : undefined,
          cause: err,
        });
      }
      return new LlmRequestError(`the LLM endpoint refused the request (${status}): ${message(err)}`, status, err);
    }
    return new LlmError(`LLM call failed: ${message(err)}`, { cause: err });
  }
}
