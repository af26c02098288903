/**
 * OTLP/HTTP receiver: `POST /v1/traces` and `POST /v1/metrics`, binary protobuf and JSON, gzip or not, as
 * the OTLP specification describes them (https://opentelemetry.io/docs/specs/otlp/#otlphttp):
 *
 * - 200 with an Export*ServiceResponse in the request's encoding; `partial_success` carries the number of
 *   spans / data points refused and why (per-item problems are never a 4xx);
 * - 400 for a body that cannot be decoded, 413 when it is too large (compressed or decompressed), 415 for
 *   an unsupported Content-Type or Content-Encoding, each with a google.rpc.Status body in the request's
 *   encoding (JSON when the encoding is unknown); 401 / 429 from the server's key and rate-limit checks
 *   get the same treatment, with Retry-After on 429.
 *
 * The routes live in their own encapsulated context with their own body parsers, so the strict JSON parsing
 * of the REST API is untouched and the REST API never sees protobuf.
 */
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config';
import { RateLimitedError, SentinelError, UnavailableError } from '../errors';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import { OtlpDecodeError, OtlpPayloadTooLargeError, OtlpUnsupportedMediaTypeError } from './errors';
import { OtlpIngestor, type ExportOutcome, type IngestTarget } from './otlp-ingest';
import { CONTENT_TYPE, decodeMetrics, decodeTraces, encodeExportResponse, encodeStatus, type OtlpEncoding } from './otlp-codec';

const gunzipAsync = promisify(gunzip);

/** OTLP/HTTP paths (the default paths of every OTLP exporter). */
export const OTLP_PATHS = { traces: '/v1/traces', metrics: '/v1/metrics' } as const;

type Signal = keyof typeof OTLP_PATHS;

/** Options of {@link otlpReceiver}. */
export interface OtlpReceiverOptions {
  config: Readonly<Config>;
  /** Where mapped events and points go (the pipeline). */
  target: IngestTarget;
  log: Logger;
  metrics?: SentinelMetrics;
  /** How often idle agent traces are looked for. @default 1000 */
  tickMs?: number;
  /** Called before a request's body is read; throws (e.g. UnavailableError) to refuse it. The server passes the pipeline's admitIngest. */
  admit?: () => void;
  /** Wall clock for the agent-trace idle timeout. @default Date.now */
  now?: () => number;
}

/**
 * A server plugin (for `ServerOptions.plugins`) that registers the OTLP/HTTP receiver. On server close it
 * completes every open agent trace, so their points reach the pipeline before it shuts down.
 */
export function otlpReceiver(opts: OtlpReceiverOptions): (app: FastifyInstance) => void {
  return (app) => {
    const { config, log } = opts;
    const ingestor = new OtlpIngestor({
      target: opts.target,
      metrics: opts.metrics,
      log,
      mapping: { userAttributes: config.otelUserAttributes, apiKeyAttributes: config.otelApiKeyAttributes },
      traces: { idleMs: config.otelTraceIdleMs, maxOpenTraces: config.otelMaxOpenTraces, now: opts.now },
    });
    const limit = config.bodyLimitBytes;

    app.register(async (sub) => {
      sub.removeAllContentTypeParsers();
      // Bodies stay raw here: decompression (with its own limit) and decoding happen in the handler.
      sub.addContentTypeParser([CONTENT_TYPE.protobuf, CONTENT_TYPE.json], { parseAs: 'buffer', bodyLimit: limit }, (_req, body, done) => done(null, body));
      sub.setErrorHandler((err: FastifyError | Error, req, reply) => replyError(err, req, reply, opts));

      const handle = (signal: Signal) => async (req: FastifyRequest, reply: FastifyReply) => {
        const encoding = encodingOf(req.headers['content-type']) ?? 'json';
        const raw = await inflate(req.body as Buffer | undefined, req.headers['content-encoding'], limit);
        const outcome = signal === 'traces' ? ingestor.ingestTraces(decodeTraces(raw, encoding)) : ingestor.ingestMetrics(decodeMetrics(raw, encoding));
        opts.metrics?.otlpRequests.inc({ signal, encoding, compression: compressionOf(req), code: '200' });
        return reply.code(200).header('content-type', CONTENT_TYPE[encoding]).send(encodeExportResponse(signal, encoding, partialSuccess(outcome)));
      };
      // Refused before the body is read while the pipeline's scoring is behind (503, Retry-After: retryable in OTLP).
      const onRequest = async () => opts.admit?.();
      sub.post(OTLP_PATHS.traces, { onRequest }, handle('traces'));
      sub.post(OTLP_PATHS.metrics, { onRequest }, handle('metrics'));
    });

    const timer = setInterval(() => {
      try {
        ingestor.tick();
      } catch (err) {
        log.error({ err }, 'completing idle agent traces failed');
      }
    }, opts.tickMs ?? 1000);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      ingestor.flush();
    });
  };
}

/** The partial success to report, if anything was refused. */
function partialSuccess(o: ExportOutcome): { rejected: number; errorMessage: string } | undefined {
  if (o.rejected === 0) return undefined;
  const more = o.rejected - o.reasons.length;
  return { rejected: o.rejected, errorMessage: o.reasons.join('; ') + (more > 0 ? `; and ${more} more` : '') };
}

/** Content-Encoding as a bounded metric label. */
function compressionOf(req: FastifyRequest): 'none' | 'gzip' | 'other' {
  const enc = (req.headers['content-encoding'] ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return 'none';
  return enc === 'gzip' || enc === 'x-gzip' ? 'gzip' : 'other';
}

/** The OTLP encoding of a Content-Type header, or undefined when it is neither. */
function encodingOf(contentType: string | undefined): OtlpEncoding | undefined {
  const media = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (media === CONTENT_TYPE.protobuf) return 'protobuf';
  if (media === CONTENT_TYPE.json) return 'json';
  return undefined;
}

/**
 * Undoes Content-Encoding. gzip output is capped at `limit` bytes (zlib stops inflating there), so a small
 * compressed body cannot expand into gigabytes of memory.
 */
export async function inflate(body: Buffer | undefined, contentEncoding: string | undefined, limit: number): Promise<Buffer> {
  const raw = body ?? Buffer.alloc(0);
  const enc = (contentEncoding ?? '').trim().toLowerCase();
  if (enc === '' || enc === 'identity') return raw;
  if (enc !== 'gzip' && enc !== 'x-gzip') throw new OtlpUnsupportedMediaTypeError(enc, 'content-encoding');
  try {
    return await gunzipAsync(raw, { maxOutputLength: limit });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new OtlpPayloadTooLargeError(limit, true, err);
    throw new OtlpDecodeError(`body is not valid gzip: ${(err as Error).message}`, err);
  }
}

/** gRPC status codes for google.rpc.Status.code, by HTTP status (the mapping of the gRPC-HTTP spec). */
function grpcCode(status: number): number {
  switch (status) {
    case 400:
    case 413:
    case 415:
      return 3; // INVALID_ARGUMENT
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 5; // NOT_FOUND
    case 429:
      return 8; // RESOURCE_EXHAUSTED
    case 503:
      return 14; // UNAVAILABLE
    default:
      return status >= 500 ? 13 /* INTERNAL */ : 2 /* UNKNOWN */;
  }
}

/** Every error of the OTLP routes, hook errors (401, 429) included, as a google.rpc.Status. */
function replyError(err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply, opts: OtlpReceiverOptions): FastifyReply {
  const known = encodingOf(req.headers['content-type']);
  const encoding = known ?? 'json';
  let status: number;
  let message: string;
  if (err instanceof SentinelError) {
    status = err.status;
    message = err.message;
    if (err instanceof RateLimitedError || err instanceof UnavailableError) reply.header('retry-after', Math.ceil(err.retryAfterMs / 1000));
  } else {
    const fe = err as FastifyError;
    status = fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500 ? fe.statusCode : 500;
    if (status === 413) message = new OtlpPayloadTooLargeError(opts.config.bodyLimitBytes, false).message;
    else if (status === 415) message = new OtlpUnsupportedMediaTypeError(req.headers['content-type'] ?? '(none)', 'content-type').message;
    else if (status < 500) message = fe.message;
    else message = 'internal error';
  }
  if (status >= 500 && !(err instanceof UnavailableError)) req.log.error({ err }, 'OTLP request failed');
  const signal: Signal = (req.url.split('?')[0] === OTLP_PATHS.metrics ? 'metrics' : 'traces');
  opts.metrics?.otlpRequests.inc({ signal, encoding: known ?? 'unknown', compression: compressionOf(req), code: String(status) });
  return reply.code(status).header('content-type', CONTENT_TYPE[encoding]).send(encodeStatus(encoding, grpcCode(status), message));
}
