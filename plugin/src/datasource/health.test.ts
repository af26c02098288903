import { describe, expect, it } from '@jest/globals';

import { healthOk } from '../../test/fixtures/api-responses';
import { SentinelApiError } from './errors';
import { healthErrorToTestResult, healthToTestResult } from './health';

const apiError = (status: number, message = 'x') => new SentinelApiError(message, { status, code: `http_${status}`, path: '/api/v1/health' });

describe('healthToTestResult', () => {
  it('reports success with version, store and series count', () => {
    expect(healthToTestResult(healthOk)).toEqual({
      status: 'success',
      message: 'Connected to LLM-Sentinel 0.1.0: sqlite store ok (0.4 ms), 4 active series.',
    });
  });

  it('reports a degraded backend as an error naming the store', () => {
    const result = healthToTestResult({ ...healthOk, status: 'degraded', store: { kind: 'qdrant', ok: false } });
    expect(result.status).toBe('error');
    expect(result.message).toBe('LLM-Sentinel 0.1.0 is reachable but degraded: qdrant store DOWN, 4 active series.');
  });

  it("adds the backend's reason when it gives one (degraded with the store ok)", () => {
    const reason = 'the data directory (SENTINEL_DATA_DIR) was deleted while the service runs: what it writes is lost at the next start';
    const result = healthToTestResult({ ...healthOk, status: 'degraded', reason });
    expect(result.status).toBe('error');
    expect(result.message).toBe(`LLM-Sentinel 0.1.0 is reachable but degraded: sqlite store ok (0.4 ms), 4 active series. ${reason}.`);
  });
});

describe('healthErrorToTestResult', () => {
  it('tells the user what to fix for each kind of failure', () => {
    expect(healthErrorToTestResult(apiError(401)).message).toMatch(/rejected the API key \(401\)/);
    const viaProxy = new SentinelApiError('x', { status: 400, code: SentinelApiError.PROXY_AUTH_FAILED, path: '/api/v1/anomalies' });
    expect(healthErrorToTestResult(viaProxy).message).toMatch(/^LLM-Sentinel rejected the API key \(401, reported by Grafana's data proxy as 400 .*\): the key is wrong or missing/);
    expect(healthErrorToTestResult(apiError(400, 'Sentinel API 400: limit too big')).message).toBe('LLM-Sentinel health check failed: Sentinel API 400: limit too big');
    expect(healthErrorToTestResult(apiError(403, 'read-only')).message).toMatch(/refused the API key \(403\)/);
    expect(healthErrorToTestResult(apiError(404)).message).toMatch(/No LLM-Sentinel API at the configured URL/);
    expect(healthErrorToTestResult(apiError(502, 'Sentinel API 502: Bad Gateway')).message).toBe(
      'Cannot reach LLM-Sentinel at the configured URL (Sentinel API 502: Bad Gateway).'
    );
    expect(healthErrorToTestResult(apiError(0, 'Sentinel API unreachable: fetch failed')).message).toMatch(/Cannot reach/);
    expect(healthErrorToTestResult(apiError(500, 'Sentinel API 500: boom')).message).toBe(
      'LLM-Sentinel health check failed: Sentinel API 500: boom'
    );
    expect(healthErrorToTestResult(new Error('odd')).status).toBe('error');
  });
});
