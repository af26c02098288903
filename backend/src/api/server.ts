import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyError, type FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Config } from '../config';
import { SentinelError, ValidationError, RateLimitedError, UnavailableError } from '../errors';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { Pipeline } from '../pipeline/pipeline';
import { KeyChecker, RateLimiter, presentedKey } from './auth';
import { registerRoutes } from './routes';
import { inflate } from '../otlp/receiver';
import { jsonSyntaxMessage } from '../ingest/parse';
import { OtlpDecodeError, OtlpPayloadTooLargeError, OtlpUnsupportedMediaTypeError } from '../otlp/errors';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Decodes a body as strict UTF-8: invalid bytes are a 400 naming the body, not silent U+FFFD. */
function decodeUtf8(buf: Buffer): string {
  try {
    return utf8.decode(buf);
  } catch {
    throw new ValidationError('request body is not valid UTF-8', { field: '(body)' });
  }
}

/** Paths reachable without a key even when keys are configured: probes and the Prometheus scrape. */
const OPEN_PATHS = new Set(['/api/v1/health', '/metrics']);

/** Retry-After of a request refused because the service is shutting down (a restart takes seconds). */
const SHUTDOWN_RETRY_AFTER_MS = 5_000;

/** Request line and headers, in bytes: room for the longest series key in a query (see buildServer). */
const MAX_HEADER_BYTES = 64 * 1024;

/**
 * Answers a request Node's HTTP parser refused (Fastify's clientErrorHandler), as Fastify's default does but
 * in the API's error shape, then closes the connection.
 */
function clientError(this: FastifyInstance, err: Error & { code?: string }, socket: Duplex): void {
  // A reset connection has nothing left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message, field] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', `the request line and headers exceed ${MAX_HEADER_BYTES / 1024} KB`, '(headers)']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request did not arrive in time', '(request)']
        : [400, 'bad_request', 'the request is not valid HTTP', '(request)'];
  // The code only: the parser's error carries the raw request (rawPacket), Authorization header included.
  this.log.debug({ code: err.code }, 'client error refused');
  const body = JSON.stringify({ error: { code, message, field } });
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}

/** Options of {@link buildServer}. */
export interface ServerOptions {
  config: Readonly<Config>;
  log: Logger;
  pipeline: Pipeline;
  metrics: SentinelMetrics;
  version: string;
  /** What is wrong with the data directory (deleted, replaced, read-only), or null; for health. */
  dataDirProblem?: () => string | null;
  /** Extra routes (e.g. OTLP receivers, explain) registered by other modules. */
  plugins?: ((app: FastifyInstance) => void | Promise<void>)[];
}

/**
 * The HTTP server: strict body parsing (JSON, NDJSON; strict UTF-8; size limit), API keys and per-key
 * rate limits, the v1 routes, and one error handler that maps every error to `{error: {...}}`.
 */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const { config, log } = opts;
  const app = Fastify({
    loggerInstance: log.child({ component: 'http' }) as FastifyBaseLogger,
    bodyLimit: config.bodyLimitBytes,
    // Per-request logs would dominate at ingest rates; errors are logged by the error handler.
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    // `/api/v1/health/` is the same resource: probes written either way must work. Path parameters (ids)
    // up to 1,000 characters reach the route (an unknown id is a 404, not the router's 414).
    routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 },
    // A series key is a query parameter (`?series=`), and the largest one ingest accepts (16 labels of
    // 128-character names and 256-character values) is ~10 K characters, up to ~45 KB URL-encoded: past
    // Node's 16 KB header limit such a series was accepted but could not be read back (431).
    http: { maxHeaderSize: MAX_HEADER_BYTES },
    // Errors the router raises before any route (a URL that does not decode, a longer parameter) get the
    // same error shape as every other error.
    frameworkErrors: (err, _req, reply) => {
      const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 400;
      const r = reply as unknown as { code(n: number): { send(body: unknown): void } };
      r.code(status).send({ error: { code: status === 414 ? 'uri_too_long' : 'bad_url', message: err.message, field: '(url)' } });
    },
    // What Node's HTTP parser refuses before Fastify sees a request (headers past MAX_HEADER_BYTES, a
    // malformed request line, a request that took too long to arrive) also gets the API's error shape.
    clientErrorHandler: clientError,
    // Requests that arrive while the server closes (on a kept-alive connection) are refused by the hook
    // below, in the API's error shape; Fastify's own 503 has a body of its own shape.
    return503OnClosing: false,
  });

  app.removeAllContentTypeParsers();
  // Bodies may be gzip-compressed (Content-Encoding: gzip, inflated up to the body limit, as OTLP bodies);
  // any other encoding is a 415 rather than bytes misread as text.
  const text = async (req: FastifyRequest, body: Buffer) => decodeUtf8(await inflate(body, req.headers['content-encoding'], config.bodyLimitBytes).catch(restError));
  app.addContentTypeParser(['application/json'], { parseAs: 'buffer' }, async (req: FastifyRequest, body: Buffer) => {
    const t = await text(req, body);
    try {
      return t.trim() === '' ? undefined : JSON.parse(t);
    } catch (err) {
      throw new ValidationError(`body is not valid JSON: ${jsonSyntaxMessage(err)}`, { field: '(body)' });
    }
  });
  // NDJSON only under its own names: text/plain (what a fetch of a bare string sends) was read as NDJSON,
  // though the API and the 415 name only application/json and application/x-ndjson (QA).
  app.addContentTypeParser(['application/x-ndjson', 'application/jsonl'], { parseAs: 'buffer' }, async (req: FastifyRequest, body: Buffer) => text(req, body));

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async () => {
    if (closing) throw new UnavailableError('the service is shutting down', { code: 'shutting_down', retryAfterMs: SHUTDOWN_RETRY_AFTER_MS });
  });

  const keys = new KeyChecker(config.apiKeys);
  const limiter = new RateLimiter(config.rateLimitPerSec);
  app.addHook('onRequest', async (req) => {
    const path = req.url.split('?')[0].replace(/(.)\/+$/, '$1');
    if (OPEN_PATHS.has(path)) return;
    const write = req.method !== 'GET' && req.method !== 'HEAD' && `${req.method} ${path}`;
    let principal: { id: string };
    try {
      principal = keys.enabled ? keys.check(presentedKey(req.headers), write) : { id: `ip:${req.ip}` };
    } catch (err) {
      // Refused keys count against their address's rate, so guessing keys is throttled like any traffic.
      limiter.take(`ip:${req.ip}`);
      throw err;
    }
    limiter.take(principal.id);
  });

  app.setErrorHandler((err: FastifyError | SentinelError | Error, req, reply) => {
    if (err instanceof SentinelError) {
      if (err instanceof RateLimitedError || err instanceof UnavailableError) reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
      // A 503 is a state the service is in (no LLM configured, the store down), reported as such; other
      // 5xx are faults worth a stack. Refusals while shutting down or behind on scoring come in floods: that
      // state is logged where it begins, not per request.
      if (err instanceof UnavailableError) req.log.debug({ code: err.code }, 'request refused: unavailable');
      else if (err.status === 503) req.log.warn({ code: err.code, reason: err.message }, 'request refused: unavailable');
      else if (err.status >= 500) req.log.error({ err }, 'request failed');
      const v = err instanceof ValidationError ? err : undefined;
      const details = v?.details;
      return reply.code(err.status).send({
        error: { code: err.code, message: err.message, ...(v?.field ? { field: v.field } : {}), ...(v?.index !== undefined ? { index: v.index } : {}), ...(details ? { details } : {}) },
        // Partial-ingest bodies keep their shape so clients can read `rejected` either way.
        ...(details && typeof details === 'object' && 'rejected' in details ? (details as object) : {}),
      });
    }
    const fe = err as FastifyError;
    const status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
    if (status === 413) {
      return reply.code(413).send({ error: { code: 'body_too_large', message: `request body exceeds ${config.bodyLimitBytes} bytes (SENTINEL_BODY_LIMIT)`, field: '(body)' } });
    }
    if (status === 415) {
      return reply.code(415).send({ error: { code: 'unsupported_media_type', message: 'use application/json or application/x-ndjson (application/jsonl)', field: 'content-type' } });
    }
    if (status < 500) return reply.code(status).send({ error: { code: fe.code ?? 'bad_request', message: fe.message } });
    req.log.error({ err }, 'unexpected error');
    return reply.code(500).send({ error: { code: 'internal', message: 'internal error' } });
  });
  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url.split('?')[0]}` } }));

  registerRoutes(app, opts.pipeline, opts.metrics, opts.version, opts.dataDirProblem);
  for (const p of opts.plugins ?? []) await p(app);
  return app;
}

/**
 * The REST form of a body-decoding error (inflate speaks OTLP's): the error shape of docs/API.md, with the
 * field named, instead of `otlp_decode` without one.
 */
function restError(err: unknown): never {
  if (err instanceof OtlpDecodeError) throw new ValidationError(err.message, { field: '(body)', cause: err });
  if (err instanceof OtlpPayloadTooLargeError) throw new ValidationError(err.message, { field: '(body)', cause: err, status: 413, code: 'body_too_large' });
  if (err instanceof OtlpUnsupportedMediaTypeError) throw new ValidationError(err.message, { field: 'content-encoding', cause: err, status: 415, code: 'unsupported_media_type' });
  throw err;
}
