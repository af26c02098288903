import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { LlmRequestError, LlmUnavailableError } from '../../src/explain/errors';
import { LlmExplainer } from '../../src/explain/llm-explainer';
import type { Prompt } from '../../src/explain/prompt';
import { createLogger } from '../../src/logger';
import { FakeLlm, validAnswer } from './helpers';

const log = createLogger('silent');
const prompt: Prompt = {
  messages: [
    { role: 'system', content: 'sys' },
    { role: 'user', content: 'evidence' },
  ],
  refs: new Set(['F1']),
  evidence: { anomaly: {}, featuresThatMoved: [], nearestNormalWindows: [], similarPastIncidents: [] },
};

describe('LlmExplainer (OpenAI adapter) against a loopback server', () => {
  const llm = new FakeLlm();
  before(() => llm.start());
  after(() => llm.stop());

  test('a server that refuses json_schema and temperature is stepped down once, and remembered', async () => {
    llm.requests.length = 0;
    llm.reply = (r) => {
      if (r.body.response_format?.type === 'json_schema') return { status: 400, raw: JSON.stringify({ error: { message: "response_format type 'json_schema' is not supported" } }) };
      if ('temperature' in r.body) return { status: 400, raw: JSON.stringify({ error: { message: 'Unsupported value: temperature' } }) };
      return { content: validAnswer() };
    };
    const x = new LlmExplainer({ baseUrl: llm.baseUrl, apiKey: 'k-0123456789', model: 'local', log });
    const r = await x.explain(prompt);
    assert.ok(r.ok);
    assert.deepEqual(
      llm.requests.map((q) => [q.body.response_format?.type ?? 'none', 'temperature' in q.body]),
      [
        ['json_schema', true],
        ['json_object', true],
        ['json_object', false],
      ],
    );
    await x.explain(prompt);
    assert.equal(llm.requests.length, 4, 'the next call goes straight to what works');
  });

  test('errors map onto our types: 401 refused (not retried), 429 unavailable with Retry-After', async () => {
    const x = new LlmExplainer({ baseUrl: llm.baseUrl, apiKey: 'k-0123456789', model: 'm', log });
    llm.reply = () => ({ status: 401, raw: JSON.stringify({ error: { message: 'invalid api key' } }) });
    const n = llm.requests.length;
    await assert.rejects(x.explain(prompt), (err: unknown) => err instanceof LlmRequestError && err.upstreamStatus === 401);
    assert.equal(llm.requests.length, n + 1, 'no SDK retries');
    llm.reply = () => ({ status: 429, headers: { 'retry-after': '7' }, raw: JSON.stringify({ error: { message: 'slow down' } }) });
    await assert.rejects(x.explain(prompt), (err: unknown) => err instanceof LlmUnavailableError && err.retryAfterMs === 7_000);
  });

  test('an unreachable endpoint is LlmUnavailableError', async () => {
    const x = new LlmExplainer({ baseUrl: 'http://127.0.0.1:9/v1', model: 'm', log, timeoutMs: 2_000 });
    await assert.rejects(x.explain(prompt), LlmUnavailableError);
  });
});
