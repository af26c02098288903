import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { DeliveryError, TargetNotAllowedError } from './errors';
import type { UrlGuard } from './url-guard';

/** Answer of a receiver. */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  /** The first 4 KiB of the body (for error messages). */
  text: string;
}

/** Options of {@link postJson}. */
export interface PostOptions {
  guard: UrlGuard;
  /** Whole exchange, connect to last byte. @default 10000 */
  timeoutMs?: number;
  signal?: AbortSignal;
}

const MAX_BODY = 4096;

/**
 * POSTs a JSON body through the URL guard. Redirects are not followed (a 3xx is a failed delivery), so a
 * receiver cannot bounce us to an internal address. Network failures and timeouts throw a retryable
 * DeliveryError; a refused target throws TargetNotAllowedError. The URL is never put into an error message
 * (webhook URLs often carry a secret in their path).
 */
export function postJson(url: URL, body: string, headers: Record<string, string>, opts: PostOptions): Promise<HttpAnswer> {
  opts.guard.assertAllowed(url);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      reject(err);
    };
    const req = request(
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'user-agent': 'llm-sentinel', ...headers },
        lookup: opts.guard.lookupFor(url.hostname),
        signal: opts.signal,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_BODY) chunks.push(c);
          size += c.length;
        });
        res.on('error', (err) => fail(new DeliveryError(`reading the answer of ${url.host} failed: ${err.message}`, { retryable: true, cause: err })));
        res.on('end', () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString('utf8').slice(0, MAX_BODY) });
        });
      },
    );
    const timer = setTimeout(() => fail(new DeliveryError(`${url.host} did not answer within ${timeoutMs} ms`, { retryable: true })), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof TargetNotAllowedError) return fail(err);
      const cause = (err as { cause?: unknown }).cause;
      if (cause instanceof TargetNotAllowedError) return fail(cause);
      // Cancelled by the shutdown, not refused by the receiver: retryable, so the dispatcher keeps the alert for
      // the next start (it was dead-lettered when the abort caught a request in flight, QA).
      if (err.name === 'AbortError') return fail(new DeliveryError(`sending to ${url.host} was cancelled`, { retryable: true, cause: err }));
      fail(new DeliveryError(`cannot reach ${url.host}: ${err.code ?? err.message}`, { retryable: true, cause: err }));
    });
    req.end(body);
  });
}

/**
 * Turns an answer into success or a DeliveryError: 2xx is delivered; 408, 425, 429 and 5xx are retryable
 * (honouring Retry-After); anything else (4xx, 3xx) is permanent. The error quotes the start of the answer,
 * with the sink's own `secrets` (its routing key, signing secret, the token in its URL) taken out first: a
 * receiver that echoes the request put them in the log and the dead letters (QA: a 32-character PagerDuty
 * routing key, which no token pattern of the redaction recognises).
 */
export function checkAnswer(what: string, a: HttpAnswer, secrets: readonly (string | undefined)[] = []): void {
  if (a.status >= 200 && a.status < 300) return;
  const retryable = a.status === 408 || a.status === 425 || a.status === 429 || a.status >= 500;
  const ra = retryAfterMs(a.headers['retry-after']);
  let text = a.text;
  for (const s of secrets) if (s && s.length >= 8) text = text.split(s).join('[secret]');
  throw new DeliveryError(`${what} answered ${a.status}${text ? `: ${text.slice(0, 200)}` : ''}`, { retryable, upstreamStatus: a.status, retryAfterMs: ra });
}

/** The parts of a receiver's URL that may carry a token (path and query), for {@link checkAnswer}. */
export function urlSecrets(url: URL): string[] {
  return [url.pathname.length > 1 ? url.pathname : '', url.search.slice(1), url.password].filter((s) => s.length >= 8);
}

function retryAfterMs(h: string | string[] | undefined): number | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const t = Date.parse(v);
  return Number.isFinite(t) ? Math.max(0, t - Date.now()) : undefined;
}
