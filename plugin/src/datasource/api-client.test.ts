import { describe, expect, it } from '@jest/globals';
import { EMPTY } from 'rxjs';

import { healthOk, latencyAnomaly, tokenAnomaly } from '../../test/fixtures/api-responses';
import { FakeBackend, FakeHttpError, INSTANCE_URL } from '../../test/fixtures/fake-backend';
import { compactParams, MAX_PAGE_SIZE, MAX_SCAN_PAGES, SentinelApiClient, toApiError } from './api-client';
import { SentinelApiError, SentinelCancelledError, SentinelResponseError } from './errors';

const client = (backend: FakeBackend) => new SentinelApiClient(backend, `${INSTANCE_URL}/sentinel`);

describe('SentinelApiClient', () => {
  it('calls the API through the proxy route without toasts', async () => {
    const backend = new FakeBackend().on('GET /api/v1/anomalies/an_5f3c01', () => latencyAnomaly);
    await expect(client(backend).anomaly('an_5f3c01')).resolves.toEqual(latencyAnomaly);
    expect(backend.requests[0]).toMatchObject({
      method: 'GET',
      url: `${INSTANCE_URL}/sentinel/api/v1/anomalies/an_5f3c01`,
      showErrorAlert: false,
    });
  });

  it('follows nextCursor until the limit is reached', async () => {
    const pages: Record<string, unknown> = {
      first: { items: [latencyAnomaly], nextCursor: 'c2' },
      c2: { items: [tokenAnomaly, latencyAnomaly], nextCursor: 'c3' },
    };
    const backend = new FakeBackend().on('GET /api/v1/anomalies', (r) => pages[(r.params?.cursor as string) ?? 'first']);
    const { items, more } = await client(backend).anomalies({ service: 'chat' }, 2);
    expect(items.map((a) => a.id)).toEqual(['an_5f3c01', 'an_77aa02']);
    expect(more).toBe(true);
    expect(backend.requests.map((r) => r.params)).toEqual([
      { service: 'chat', limit: '2' },
      { service: 'chat', limit: '1', cursor: 'c2' },
    ]);
  });

  it('stops paging when the backend has no more', async () => {
    const backend = new FakeBackend().on('GET /api/v1/anomalies', () => ({ items: [tokenAnomaly], nextCursor: null }));
    expect(await client(backend).anomalies({}, 100)).toEqual({ items: [tokenAnomaly], more: false, scanned: 1 });
    expect(backend.requests).toHaveLength(1);
  });

  it('with a local filter reads full pages and keeps what it accepts, up to the scan bound', async () => {
    let page = 0;
    const backend = new FakeBackend().on('GET /api/v1/anomalies', () => ({
      items: [latencyAnomaly, tokenAnomaly].map((a) => ({ ...a, id: `${a.id}-${page}` })),
      nextCursor: `c${++page}`,
    }));
    const result = await client(backend).anomalies({}, 100, { keep: (a) => a.labels.model === 'gpt-4o' });
    expect(result.items).toHaveLength(MAX_SCAN_PAGES);
    expect(result.items.every((a) => a.labels.model === 'gpt-4o')).toBe(true);
    expect(result).toMatchObject({ more: true, scanned: 2 * MAX_SCAN_PAGES });
    expect(backend.requests[0].params).toEqual({ limit: String(MAX_PAGE_SIZE) });
    expect(backend.requests).toHaveLength(MAX_SCAN_PAGES);
  });

  it.each([
    ['an HTML page', '<!doctype html><html><body>nginx</body></html>', /answered with an HTML page/],
    ['another JSON API', { database: 'ok', version: '12.4.0' }, /answered with JSON with keys database, version/],
    ['an empty body', '', /answered with an empty body/],
  ])('refuses %s answering 200 as not an LLM-Sentinel API, naming the URL', async (_what, body, detail) => {
    const backend = new FakeBackend()
      .on('GET /api/v1/scores', () => body)
      .on('GET /api/v1/anomalies', () => body)
      .on('GET /api/v1/series', () => body)
      .on('GET /api/v1/health', () => body);
    const api = new SentinelApiClient(backend, `${INSTANCE_URL}/sentinel`, 'http://grafana:3000');
    for (const call of [() => api.scores({}), () => api.anomalies({}, 10), () => api.series(), () => api.health()]) {
      const err = (await call().catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(SentinelResponseError);
      expect(err.message).toMatch(/^Not an LLM-Sentinel API at http:\/\/grafana:3000: GET \/api\/v1\/\w+ answered with /);
      expect(err.message).toMatch(detail);
    }
  });

  it('posts feedback as JSON', async () => {
    const backend = new FakeBackend().on('POST /api/v1/feedback', (r) => ({ ...(r.data as object), patternsAdded: 1 }));
    const res = await client(backend).feedback({ anomalyId: 'an_1', verdict: 'false_positive' });
    expect(res).toEqual({ anomalyId: 'an_1', verdict: 'false_positive', patternsAdded: 1 });
    expect(backend.requests[0].headers).toEqual({ 'Content-Type': 'application/json' });
  });

  it('maps API errors to SentinelApiError with status, code and field', async () => {
    const backend = new FakeBackend().on('GET /api/v1/scores', () => {
      throw new FakeHttpError(400, { error: { code: 'validation', message: 'from must be a time', field: 'from' } });
    });
    const err = (await client(backend).scores({ from: 'x' }).catch((e: unknown) => e)) as SentinelApiError;
    expect(err).toBeInstanceOf(SentinelApiError);
    expect(err.status).toBe(400);
    expect(err.code).toBe('validation');
    expect(err.field).toBe('from');
    expect(err.message).toBe('Sentinel API 400: from must be a time');
    expect(err.cause).toBeInstanceOf(FakeHttpError);
  });

  it('returns the health body of a 503 instead of failing', async () => {
    const degraded = { ...healthOk, status: 'degraded', store: { kind: 'sqlite', ok: false } };
    const backend = new FakeBackend().on('GET /api/v1/health', () => {
      throw new FakeHttpError(503, degraded);
    });
    await expect(client(backend).health()).resolves.toEqual(degraded);
  });

  it('fails a 503 that is not a health document', async () => {
    const backend = new FakeBackend().on('GET /api/v1/health', () => {
      throw new FakeHttpError(503, { error: { code: 'store_unavailable', message: 'down' } });
    });
    await expect(client(backend).health()).rejects.toThrow('Sentinel API 503: down');
  });

  it('reports a request that completes without a response as cancelled', async () => {
    // Grafana completes the observable without a value when a newer request with the same id wins.
    const cancelling = { fetch: () => EMPTY } as unknown as FakeBackend;
    await expect(new SentinelApiClient(cancelling, '').series()).rejects.toBeInstanceOf(SentinelCancelledError);
  });
});

describe('toApiError', () => {
  it('uses the data proxy message, then statusText, then the error message', () => {
    expect(toApiError({ status: 502, data: { message: 'Bad Gateway' } }, '/p').message).toBe('Sentinel API 502: Bad Gateway');
    expect(toApiError({ status: 500, statusText: 'Internal' }, '/p').code).toBe('http_500');
    const network = toApiError(new TypeError('fetch failed'), '/p');
    expect(network.status).toBe(0);
    expect(network.code).toBe('network_error');
    expect(network.message).toBe('Sentinel API unreachable: fetch failed');
  });

  it("recognises Grafana's data proxy rewriting a 401 into 400 \"Authentication to data source failed\"", () => {
    // backendSrv wraps a text body as {message, error, response}; a fetch without it keeps the text.
    for (const data of [
      { message: 'Authentication to data source failed', error: 'Bad Request', response: 'Authentication to data source failed' },
      'Authentication to data source failed',
    ]) {
      const err = toApiError({ status: 400, statusText: 'Bad Request', data }, '/api/v1/anomalies');
      expect(err.code).toBe(SentinelApiError.PROXY_AUTH_FAILED);
      expect(err.isAuthFailure).toBe(true);
      expect(err.message).toMatch(/rejected the API key, or none is set/);
    }
    // A validation 400 of the API stays one.
    const validation = toApiError({ status: 400, data: { error: { code: 'validation', message: 'limit too big' } } }, '/p');
    expect(validation.isAuthFailure).toBe(false);
  });

  it('does not put an HTML error page into the message', () => {
    expect(toApiError({ status: 404, statusText: 'Not Found', data: '<html><body>404</body></html>' }, '/p').message).toBe(
      'Sentinel API 404: Not Found'
    );
  });
});

describe('compactParams', () => {
  it('drops undefined and empty values and stringifies numbers', () => {
    expect(compactParams({ a: undefined, b: '', c: 0, d: 'x' })).toEqual({ c: '0', d: 'x' });
  });
});
