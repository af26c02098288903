/**
 * Grafana's backendSrv.fetch, reduced to what the datasource uses, over window.fetch. Outside Grafana
 * there is no backendSrv; the page passes this one through the datasource constructor. It behaves like
 * Grafana's: query params from `params`, JSON bodies, a FetchError-shaped error (`status`, `data`,
 * `statusText`) for non-2xx answers, and the request aborted on unsubscribe.
 */
import type { BackendSrvRequest, FetchResponse } from '@grafana/runtime';
import { Observable } from 'rxjs';

import type { FetchBackend } from '../../../src/datasource/api-client';

export class FetchBackendSrv implements FetchBackend {
  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const abort = new AbortController();
      const url = new URL(options.url, window.location.href);
      for (const [key, value] of Object.entries((options.params ?? {}) as Record<string, unknown>)) {
        if (value !== undefined && value !== null) {
          url.searchParams.set(key, String(value));
        }
      }
      const body = options.data === undefined ? undefined : JSON.stringify(options.data);
      const headers: Record<string, string> = { Accept: 'application/json', ...(options.headers ?? {}) };
      if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
        headers['Content-Type'] = 'application/json';
      }
      window
        .fetch(url, { method: options.method ?? 'GET', headers, body, signal: abort.signal })
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          try {
            data = text ? JSON.parse(text) : undefined;
          } catch {
            // not JSON: keep the text, as Grafana does
          }
          if (!res.ok) {
            // Like Grafana's backendSrv, a text error body becomes {message, error, response}.
            if (typeof data === 'string') {
              data = { message: data, error: res.statusText, response: data };
            }
            subscriber.error({ status: res.status, statusText: res.statusText, data, config: options });
            return;
          }
          subscriber.next({
            data: data as T,
            status: res.status,
            statusText: res.statusText,
            ok: true,
            headers: res.headers,
            redirected: res.redirected,
            type: res.type,
            url: res.url,
            config: options,
          });
          subscriber.complete();
        })
        .catch((err: unknown) => {
          if (!abort.signal.aborted) {
            subscriber.error(err);
          }
        });
      return () => abort.abort();
    });
  }
}
