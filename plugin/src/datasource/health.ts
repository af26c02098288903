import type { TestDataSourceResponse } from '@grafana/data';

import type { HealthResponse } from '../shared/api-types';
import { SentinelApiError, SentinelError, SentinelResponseError } from './errors';

/** `testDatasource` result for a health document: success only when the backend and its store are ok. */
export function healthToTestResult(health: HealthResponse): TestDataSourceResponse {
  const version = health.version ? ` ${health.version}` : '';
  const store = health.store
    ? `${health.store.kind} store ${health.store.ok ? 'ok' : 'DOWN'}${
        typeof health.store.latencyMs === 'number' ? ` (${health.store.latencyMs.toFixed(1)} ms)` : ''
      }`
    : 'store status unknown';
  const series = typeof health.series === 'number' ? `, ${health.series} active series` : '';
  if (health.status === 'ok' && health.store?.ok !== false) {
    return { status: 'success', message: `Connected to LLM-Sentinel${version}: ${store}${series}.` };
  }
  // The backend's own account (a deleted data directory, a scoring backlog) when it gives one: the store line
  // alone read "sqlite store ok" for a service degraded for another reason.
  const reason = typeof health.reason === 'string' && health.reason ? ` ${health.reason}.` : '';
  return {
    status: 'error',
    message: `LLM-Sentinel${version} is reachable but ${health.status === 'ok' ? 'unhealthy' : health.status}: ${store}${series}.${reason}`,
  };
}

/** `testDatasource` result for a failed health call, saying what to fix rather than just the status. */
export function healthErrorToTestResult(err: unknown): TestDataSourceResponse {
  if (err instanceof SentinelResponseError) {
    return { status: 'error', message: err.message };
  }
  if (err instanceof SentinelApiError) {
    switch (true) {
      case err.isAuthFailure:
        // Inside Grafana a 401 arrives as the data proxy's 400 "Authentication to data source failed".
        return {
          status: 'error',
          message: `LLM-Sentinel rejected the API key (401${
            err.status === 401 ? '' : `, reported by Grafana's data proxy as ${err.status} "Authentication to data source failed"`
          }): the key is wrong or missing. Check the API key in the datasource settings: it must be one of Sentinel's SENTINEL_API_KEYS.`,
        };
      case err.status === 403:
        return { status: 'error', message: `LLM-Sentinel refused the API key (403): ${err.message}` };
      case err.status === 404:
        return {
          status: 'error',
          message: `No LLM-Sentinel API at the configured URL (404 on /api/v1/health). Check the URL: it should be the service root, e.g. http://sentinel:8080.`,
        };
      case err.status === 0 || err.status === 502 || err.status === 504:
        return { status: 'error', message: `Cannot reach LLM-Sentinel at the configured URL (${err.message}).` };
      default:
        return { status: 'error', message: `LLM-Sentinel health check failed: ${err.message}` };
    }
  }
  const message = err instanceof SentinelError || err instanceof Error ? err.message : String(err);
  return { status: 'error', message: `LLM-Sentinel health check failed: ${message}` };
}
