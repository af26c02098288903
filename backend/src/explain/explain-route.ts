import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../errors';
import type { VectorStore } from '../store/vector-store';
import { parseOr400 } from '../api/validate';
import { ExplainQueueFullError, LlmCircuitOpenError, LlmError, LlmNotConfiguredError, LlmUnavailableError } from './errors';
import type { ExplainQueue } from './explain-queue';

const explainBody = z
  .object({
    /** Ask again even when the anomaly already has an LLM explanation. @default true */
    force: z.boolean().default(true),
  })
  .strict()
  .default({ force: true });

/**
 * `POST /api/v1/anomalies/:id/explain`: (re)asks the LLM about one anomaly and waits for the answer.
 * 200 `{anomalyId, outcome: "llm" | "cached", explanation}`; 404 unknown id; 503 when no LLM is configured,
 * the breaker is open, the queue is full or the call timed out / failed (Retry-After when known); 502 when
 * the endpoint refused the request or answered twice with unusable output (the evidence explanation stands).
 */
export function explainRoutes(store: VectorStore, queue: ExplainQueue | null): (app: FastifyInstance) => void {
  return (app) => {
    app.post<{ Params: { id: string } }>('/api/v1/anomalies/:id/explain', async (req, reply) => {
      const { force } = parseOr400(explainBody, req.body ?? undefined, 'explain');
      const record = await store.getAnomaly(req.params.id);
      if (!record) throw new NotFoundError(`no anomaly with id ${req.params.id}`);
      if (!queue) throw new LlmNotConfiguredError();
      let report;
      try {
        report = await queue.request(record.id, { force });
      } catch (err) {
        throw withRetryAfter(reply, err);
      }
      switch (report.outcome) {
        case 'llm':
        case 'cached': {
          const explanation = report.explanation ?? (await store.getAnomaly(record.id))?.explanation ?? record.explanation;
          return { anomalyId: record.id, outcome: report.outcome, explanation };
        }
        case 'not_found':
          throw new NotFoundError(`no anomaly with id ${record.id}`);
        case 'invalid_output':
          throw new LlmError(`the LLM answered twice with unusable output (${report.problem}); the evidence explanation stands`, {
            code: 'llm_invalid_output',
            status: 502,
          });
        case 'dropped':
          throw withRetryAfter(reply, new ExplainQueueFullError(0));
        default:
          throw withRetryAfter(reply, report.error ?? new LlmUnavailableError(`explanation ended with ${report.outcome}`));
      }
    });
  };
}

/** Sets Retry-After for errors that know when trying again makes sense; returns the error to throw. */
function withRetryAfter(reply: { header(name: string, value: unknown): unknown }, err: unknown): unknown {
  const ms =
    err instanceof LlmCircuitOpenError || err instanceof ExplainQueueFullError
      ? err.retryAfterMs
      : err instanceof LlmUnavailableError
        ? err.retryAfterMs
        : undefined;
  if (ms !== undefined && ms > 0) reply.header('retry-after', Math.max(1, Math.ceil(ms / 1000)));
  return err;
}
