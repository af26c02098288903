import type { BackendSrv, BackendSrvRequest } from '@grafana/runtime';
import { lastValueFrom } from 'rxjs';

import type {
  AnomalyList,
  AnomalyRecord,
  FeedbackRequest,
  FeedbackResponse,
  HealthResponse,
  ScoresResponse,
  SeriesResponse,
} from '../shared/api-types';
import { SentinelApiError, SentinelCancelledError, SentinelResponseError } from './errors';

/**
 * The one part of Grafana's BackendSrv the datasource uses. Outside Grafana (the browser test page) a
 * small fetch-based implementation stands in through the datasource constructor.
 */
export type FetchBackend = Pick<BackendSrv, 'fetch'>;

/** Query-string parameters; empty values are dropped before sending. */
export type QueryParams = Record<string, string | number | undefined>;

/** Options of a single request. */
export interface RequestOptions {
  /** Grafana cancels an in-flight request when a new one with the same id starts. */
  requestId?: string;
}

/** Options of {@link SentinelApiClient.anomalies}. */
export interface AnomaliesOptions extends RequestOptions {
  /** Keeps only the records it accepts (filters the backend cannot apply, e.g. model). */
  keep?: (record: AnomalyRecord) => boolean;
}

/** Anomalies read by {@link SentinelApiClient.anomalies}. */
export interface AnomaliesResult {
  /** Newest first, at most the requested number. */
  items: AnomalyRecord[];
  /** Whether the backend has more records than were returned (the result is cut off). */
  more: boolean;
  /** Records read from the backend, before `keep`. */
  scanned: number;
}

/** The API's largest page of anomalies. */
export const MAX_PAGE_SIZE = 1000;

/**
 * Pages read at most when a local filter (`keep`) rejects records: a rare model among many anomalies
 * must not read the whole store. The result then says `more`.
 */
export const MAX_SCAN_PAGES = 10;

/**
 * Client of the Sentinel REST API through Grafana's data proxy. `baseUrl` is
 * `<datasource url>/<route path>`; the proxy route adds the API key, so none is handled here.
 */
export class SentinelApiClient {
  /**
   * @param displayUrl the Sentinel URL as configured (jsonData.url), named in errors about answers
   *   that do not come from Sentinel; the browser never calls it directly.
   */
  constructor(
    private readonly backend: FetchBackend,
    private readonly baseUrl: string,
    private readonly displayUrl?: string
  ) {}

  /** `GET /api/v1/scores`. */
  scores(params: QueryParams, options?: RequestOptions): Promise<ScoresResponse> {
    return this.request<ScoresResponse>('GET', '/api/v1/scores', { params, ...options, shape: SHAPES.scores });
  }

  /**
   * `GET /api/v1/anomalies`, following `nextCursor` until `maxItems` records are collected or the
   * backend has no more, so a limit above the API's page size still returns what was asked for. With
   * `keep`, full pages are read and filtered, up to {@link MAX_SCAN_PAGES}.
   */
  async anomalies(params: QueryParams, maxItems: number, options: AnomaliesOptions = {}): Promise<AnomaliesResult> {
    const { keep, requestId } = options;
    const items: AnomalyRecord[] = [];
    let cursor: string | undefined;
    let overflow = false;
    let scanned = 0;
    let pages = 0;
    do {
      const remaining = maxItems - items.length;
      const page = await this.request<AnomalyList>('GET', '/api/v1/anomalies', {
        params: { ...params, limit: keep ? MAX_PAGE_SIZE : Math.min(remaining, MAX_PAGE_SIZE), cursor },
        requestId,
        shape: SHAPES.anomalies,
      });
      pages++;
      scanned += page.items.length;
      const kept = keep ? page.items.filter(keep) : page.items;
      overflow = kept.length > remaining;
      items.push(...kept.slice(0, remaining));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && items.length < maxItems && (!keep || pages < MAX_SCAN_PAGES));
    return { items, more: overflow || Boolean(cursor), scanned };
  }

  /** `GET /api/v1/anomalies/:id`. */
  anomaly(id: string): Promise<AnomalyRecord> {
    return this.request<AnomalyRecord>('GET', `/api/v1/anomalies/${encodeURIComponent(id)}`, { shape: SHAPES.anomaly });
  }

  /** `GET /api/v1/series`. */
  series(): Promise<SeriesResponse> {
    return this.request<SeriesResponse>('GET', '/api/v1/series', { shape: SHAPES.series });
  }

  /**
   * `GET /api/v1/health`. A 503 whose body is a health document (store down) is an answer, not a
   * failure: it is returned so the caller can say what is degraded.
   */
  async health(): Promise<HealthResponse> {
    try {
      return await this.request<HealthResponse>('GET', '/api/v1/health', { shape: SHAPES.health });
    } catch (err) {
      const body = err instanceof SentinelApiError ? (err.cause as { data?: unknown } | undefined)?.data : undefined;
      if (err instanceof SentinelApiError && err.status === 503 && isHealthBody(body)) {
        return body;
      }
      throw err;
    }
  }

  /** `POST /api/v1/feedback`. */
  feedback(body: FeedbackRequest): Promise<FeedbackResponse> {
    return this.request<FeedbackResponse>('POST', '/api/v1/feedback', { data: body, shape: SHAPES.feedback });
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    options: { params?: QueryParams; data?: unknown; requestId?: string; shape: Shape }
  ): Promise<T> {
    const req: BackendSrvRequest = {
      method,
      url: `${this.baseUrl}${path}`,
      params: options.params ? compactParams(options.params) : undefined,
      data: options.data,
      requestId: options.requestId,
      headers: options.data === undefined ? undefined : { 'Content-Type': 'application/json' },
      // Errors are shown where they happen (query error, health message, panel pane), not as toasts.
      showErrorAlert: false,
      showSuccessAlert: false,
    };
    let response;
    try {
      response = await lastValueFrom(this.backend.fetch<T>(req), { defaultValue: undefined });
    } catch (err) {
      throw toApiError(err, path);
    }
    if (response === undefined) {
      throw new SentinelCancelledError(path);
    }
    // Any server answers 200 to something (an nginx page, Grafana itself): check it is Sentinel's answer
    // before reading it, or a wrong URL looks like an empty result.
    if (!options.shape.test(response.data)) {
      throw new SentinelResponseError(
        `Not an LLM-Sentinel API at ${this.displayUrl || 'the configured URL'}: ${method} ${path} answered with ${describeBody(
          response.data
        )}, expected ${options.shape.expected}. Check the datasource URL: it should be the Sentinel service root, e.g. http://sentinel:8080.`,
        path
      );
    }
    return response.data;
  }
}

/** What an endpoint's answer must look like, and how to say so. */
interface Shape {
  test: (body: unknown) => boolean;
  expected: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isArrayOf = (v: unknown, item: (x: unknown) => boolean) => Array.isArray(v) && v.every(item);
const hasString = (key: string) => (v: unknown) => isObject(v) && typeof v[key] === 'string';
const isAnomaly = (v: unknown) => hasString('id')(v) && hasString('start')(v);

/** The top-level shape of each answer (docs/API.md): enough to tell Sentinel from any other server. */
const SHAPES = {
  scores: {
    test: (b: unknown) => isObject(b) && isArrayOf(b.items, (i) => hasString('seriesKey')(i) && Array.isArray((i as { points?: unknown }).points)),
    expected: 'JSON {"items": [{"seriesKey", "points"}]}',
  },
  anomalies: {
    test: (b: unknown) =>
      isObject(b) && isArrayOf(b.items, isAnomaly) && (b.nextCursor === undefined || b.nextCursor === null || typeof b.nextCursor === 'string'),
    expected: 'JSON {"items": [AnomalyRecord], "nextCursor"}',
  },
  anomaly: { test: isAnomaly, expected: 'a JSON AnomalyRecord' },
  series: { test: (b: unknown) => isObject(b) && isArrayOf(b.items, hasString('seriesKey')), expected: 'JSON {"items": [{"seriesKey"}]}' },
  health: { test: (b: unknown) => isHealthBody(b), expected: 'JSON {"status": "ok" | "degraded"}' },
  feedback: { test: hasString('anomalyId'), expected: 'JSON {"anomalyId", "verdict"}' },
} satisfies Record<string, Shape>;

/** A few words on what came back instead of the expected JSON. */
function describeBody(body: unknown): string {
  if (body === undefined || body === null || body === '') {
    return 'an empty body';
  }
  if (typeof body === 'string') {
    return /^\s*</.test(body) ? 'an HTML page' : `text "${body.trim().slice(0, 60)}"`;
  }
  if (Array.isArray(body)) {
    return 'a JSON array';
  }
  if (isObject(body)) {
    const keys = Object.keys(body).slice(0, 5);
    return keys.length ? `JSON with keys ${keys.join(', ')}` : 'an empty JSON object';
  }
  return `JSON ${typeof body}`;
}

/** Drops undefined and empty-string parameters and stringifies the rest. */
export function compactParams(params: QueryParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === '') {
      continue;
    }
    out[key] = String(value);
  }
  return out;
}

/**
 * Turns whatever backendSrv threw into a {@link SentinelApiError}. Grafana's FetchError carries
 * `status` and `data`; the Sentinel API puts `{error: {code, message, field}}` in `data`, Grafana's data
 * proxy puts `{message}` there (e.g. 502 when the Sentinel URL is unreachable).
 */
export function toApiError(err: unknown, path: string): SentinelApiError {
  if (err instanceof SentinelApiError) {
    return err;
  }
  const e = (err ?? {}) as { status?: unknown; statusText?: unknown; data?: unknown; message?: unknown };
  const status = typeof e.status === 'number' && e.status > 0 ? e.status : 0;
  // A text body (not JSON) reads as its message, unless it is an HTML error page.
  const body = typeof e.data === 'string' ? (/^\s*</.test(e.data) ? {} : { message: e.data.trim().slice(0, 200) }) : e.data;
  const data = (body ?? {}) as { error?: { code?: unknown; message?: unknown; field?: unknown }; message?: unknown };
  const apiError = data.error && typeof data.error === 'object' ? data.error : undefined;
  const code = typeof apiError?.code === 'string' ? apiError.code : status ? `http_${status}` : 'network_error';
  const detail =
    (typeof apiError?.message === 'string' && apiError.message) ||
    (typeof data.message === 'string' && data.message) ||
    (typeof e.statusText === 'string' && e.statusText) ||
    (typeof e.message === 'string' && e.message) ||
    'no response';
  if (status === 400 && !apiError && /authentication to data source failed/i.test(detail)) {
    // Grafana's data proxy turns the backend's 401 into this 400 (pkg/api/pluginproxy/ds_proxy.go).
    return new SentinelApiError(
      `Sentinel API rejected the API key, or none is set (Grafana's data proxy: "${detail}"). Check the API key in the datasource settings.`,
      { status, code: SentinelApiError.PROXY_AUTH_FAILED, path },
      { cause: err }
    );
  }
  const prefix = status ? `Sentinel API ${status}` : 'Sentinel API unreachable';
  return new SentinelApiError(
    `${prefix}: ${detail}`,
    { status, code, path, field: typeof apiError?.field === 'string' ? apiError.field : undefined },
    { cause: err }
  );
}

function isHealthBody(body: unknown): body is HealthResponse {
  return typeof body === 'object' && body !== null && typeof (body as { status?: unknown }).status === 'string';
}
