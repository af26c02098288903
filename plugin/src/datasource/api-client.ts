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
import { SentinelApiError, SentinelCancelledError } from './errors';

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

/**
 * Client of the Sentinel REST API through Grafana's data proxy. `baseUrl` is
 * `<datasource url>/<route path>`; the proxy route adds the API key, so none is handled here.
 */
export class SentinelApiClient {
  constructor(
    private readonly backend: FetchBackend,
    private readonly baseUrl: string
  ) {}

  /** `GET /api/v1/scores`. */
  scores(params: QueryParams, options?: RequestOptions): Promise<ScoresResponse> {
    return this.request<ScoresResponse>('GET', '/api/v1/scores', { params, ...options });
  }

  /**
   * `GET /api/v1/anomalies`, following `nextCursor` until `maxItems` records are collected or the
   * backend has no more, so a limit above the API's page size still returns what was asked for.
   */
  async anomalies(params: QueryParams, maxItems: number, options?: RequestOptions): Promise<AnomalyRecord[]> {
    const items: AnomalyRecord[] = [];
    let cursor: string | undefined;
    do {
      const remaining = maxItems - items.length;
      const page = await this.request<AnomalyList>('GET', '/api/v1/anomalies', {
        params: { ...params, limit: Math.min(remaining, 1000), cursor },
        requestId: options?.requestId,
      });
      items.push(...(page.items ?? []).slice(0, remaining));
      cursor = page.nextCursor ?? undefined;
    } while (cursor && items.length < maxItems);
    return items;
  }

  /** `GET /api/v1/anomalies/:id`. */
  anomaly(id: string): Promise<AnomalyRecord> {
    return this.request<AnomalyRecord>('GET', `/api/v1/anomalies/${encodeURIComponent(id)}`);
  }

  /** `GET /api/v1/series`. */
  series(): Promise<SeriesResponse> {
    return this.request<SeriesResponse>('GET', '/api/v1/series');
  }

  /**
   * `GET /api/v1/health`. A 503 whose body is a health document (store down) is an answer, not a
   * failure: it is returned so the caller can say what is degraded.
   */
  async health(): Promise<HealthResponse> {
    try {
      return await this.request<HealthResponse>('GET', '/api/v1/health');
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
    return this.request<FeedbackResponse>('POST', '/api/v1/feedback', { data: body });
  }

  private async request<T>(
    method: 'GET' | 'POST',
    path: string,
    options: { params?: QueryParams; data?: unknown; requestId?: string } = {}
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
    return response.data;
  }
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
  const data = (e.data ?? {}) as { error?: { code?: unknown; message?: unknown; field?: unknown }; message?: unknown };
  const apiError = data.error && typeof data.error === 'object' ? data.error : undefined;
  const code = typeof apiError?.code === 'string' ? apiError.code : status ? `http_${status}` : 'network_error';
  const detail =
    (typeof apiError?.message === 'string' && apiError.message) ||
    (typeof data.message === 'string' && data.message) ||
    (typeof e.statusText === 'string' && e.statusText) ||
    (typeof e.message === 'string' && e.message) ||
    'no response';
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
