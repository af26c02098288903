import { describe, expect, it } from '@jest/globals';
import {
  dateTime,
  LoadingState,
  type DataFrame,
  type DataQueryRequest,
  type DataSourceInstanceSettings,
} from '@grafana/data';

import { healthOk, latencyAnomaly, scoresResponse, seriesResponse, T0, tokenAnomaly } from '../../test/fixtures/api-responses';
import { FakeBackend, FakeHttpError, INSTANCE_URL } from '../../test/fixtures/fake-backend';
import { SentinelDataSource } from './datasource';
import { QueryType, type SentinelOptions, type SentinelQuery } from './types';

const settings = {
  id: 1,
  uid: 'sentinel-test',
  type: 'llmsentinel-sentinel-datasource',
  name: 'Sentinel',
  url: INSTANCE_URL,
  jsonData: { url: 'http://sentinel:8080' },
  meta: {},
  access: 'proxy',
  readOnly: false,
} as unknown as DataSourceInstanceSettings<SentinelOptions>;

const templateSrv = {
  replace: (s?: string) => (s ?? '').replace('$service', 'chat'),
  getVariables: () => [{ name: 'service' }, { name: 'sev' }] as never,
};

function request(targets: SentinelQuery[]): DataQueryRequest<SentinelQuery> {
  return {
    requestId: 'Q1',
    targets,
    range: { from: dateTime(T0), to: dateTime(T0 + 600_000), raw: { from: 'now-10m', to: 'now' } },
    scopedVars: {},
    interval: '1m',
    intervalMs: 60_000,
    timezone: 'utc',
    app: 'dashboard',
    startTime: 0,
  } as DataQueryRequest<SentinelQuery>;
}

function setup() {
  const backend = new FakeBackend()
    .on('GET /api/v1/scores', () => scoresResponse)
    .on('GET /api/v1/anomalies', () => ({ items: [latencyAnomaly, tokenAnomaly], nextCursor: null }))
    .on('GET /api/v1/anomalies/an_5f3c01', () => latencyAnomaly)
    .on('GET /api/v1/series', () => seriesResponse)
    .on('GET /api/v1/health', () => healthOk)
    .on('POST /api/v1/feedback', (r) => ({ ...(r.data as object), patternsAdded: 1 }));
  return { backend, ds: new SentinelDataSource(settings, backend, templateSrv) };
}

describe('SentinelDataSource.query', () => {
  it('runs each query type and interpolates variables before building the request', async () => {
    const { backend, ds } = setup();
    const res = await ds.query(
      request([
        { refId: 'A', queryType: QueryType.Scores, service: '$service', feature: 'latency_p95_ms' },
        { refId: 'B', queryType: QueryType.Anomalies, severity: ['critical'] },
        { refId: 'C', queryType: QueryType.Explanation, anomalyId: 'an_5f3c01' },
        { refId: 'D', queryType: QueryType.Features, service: 'chat' },
      ])
    );
    expect(res.state).toBe(LoadingState.Done);
    expect(res.data.map((f) => `${f.refId}:${f.name}`)).toEqual([
      'A:service=chat|model=gpt-4o',
      'B:anomalies',
      'C:explanation',
      'C:evidence',
      'C:similar_incidents',
      'D:service=chat|model=gpt-4o',
    ]);
    const scoresCall = backend.requests.find((r) => r.url.endsWith('/api/v1/scores'));
    expect(scoresCall?.url).toBe(`${INSTANCE_URL}/sentinel/api/v1/scores`);
    expect(scoresCall?.params).toEqual({ service: 'chat', feature: 'latency_p95_ms', from: String(T0), to: String(T0 + 600_000) });
    expect(scoresCall?.requestId).toBe('Q1-A');
    expect(backend.requestsTo('/api/v1/anomalies')[0].params).toMatchObject({ severity: 'critical', limit: '100' });
    // Frames name their datasource so the panel can find it for explanations and feedback.
    expect(res.data[0].meta?.custom).toMatchObject({
      sentinelKind: 'scores',
      datasource: { uid: 'sentinel-test', type: 'llmsentinel-sentinel-datasource' },
    });
  });

  it('skips hidden queries and explanation queries without an id', async () => {
    const { backend, ds } = setup();
    const res = await ds.query(
      request([
        { refId: 'A', hide: true },
        { refId: 'C', queryType: QueryType.Explanation },
      ])
    );
    expect(res.data).toEqual([]);
    expect(backend.requests).toHaveLength(0);
  });

  it('keeps the data of good queries and reports the failing one by refId', async () => {
    const { backend, ds } = setup();
    backend.on('GET /api/v1/anomalies/missing', () => {
      throw new FakeHttpError(404, { error: { code: 'not_found', message: 'unknown anomaly missing' } });
    });
    const res = await ds.query(
      request([
        { refId: 'A', queryType: QueryType.Scores },
        { refId: 'C', queryType: QueryType.Explanation, anomalyId: 'missing' },
      ])
    );
    expect(res.state).toBe(LoadingState.Error);
    expect(res.data).toHaveLength(1);
    expect(res.errors).toEqual([{ refId: 'C', message: 'Sentinel API 404: unknown anomaly missing', status: 404 }]);
  });
});

describe('SentinelDataSource variables, health and panel API', () => {
  it('answers variable queries from /api/v1/series', async () => {
    const { ds } = setup();
    expect(await ds.metricFindQuery('models($service)')).toEqual([
      { text: 'gpt-4o', value: 'gpt-4o' },
      { text: 'gpt-4o-mini', value: 'gpt-4o-mini' },
    ]);
    expect((await ds.metricFindQuery({ query: 'services()' })).map((v) => v.text)).toEqual(['chat', 'search']);
    await expect(ds.metricFindQuery('bogus()')).rejects.toThrow(/Unsupported variable query/);
  });

  it('tests the datasource against /api/v1/health', async () => {
    const { ds, backend } = setup();
    expect(await ds.testDatasource()).toEqual({
      status: 'success',
      message: 'Connected to LLM-Sentinel 0.1.0: sqlite store ok (0.4 ms), 4 active series.',
    });
    backend.on('GET /api/v1/health', () => {
      throw new FakeHttpError(401, { error: { code: 'unauthorized', message: 'missing or bad API key' } });
    });
    expect(await ds.testDatasource()).toMatchObject({ status: 'error', message: expect.stringMatching(/API key \(401\)/) });
  });

  it('says so when the backend is healthy but refuses the key (health itself needs none)', async () => {
    const { ds, backend } = setup();
    backend.on('GET /api/v1/anomalies', () => {
      throw new FakeHttpError(401, { error: { code: 'unauthorized', message: 'missing or bad API key' } });
    });
    expect(await ds.testDatasource()).toMatchObject({ status: 'error', message: expect.stringMatching(/rejected the API key \(401\)/) });
    expect(backend.requestsTo('/api/v1/anomalies')[0]).toMatchObject({ method: 'GET' });
  });

  it('exposes annotations support', () => {
    const { ds } = setup();
    expect(ds.annotations?.processEvents).toBeDefined();
  });

  it('gets one anomaly and posts feedback for the panel', async () => {
    const { ds, backend } = setup();
    expect((await ds.getAnomaly('an_5f3c01')).id).toBe('an_5f3c01');
    await ds.postFeedback({ anomalyId: 'an_5f3c01', verdict: 'true_positive' });
    expect(backend.requestsTo('/api/v1/feedback')[0]).toMatchObject({
      method: 'POST',
      data: { anomalyId: 'an_5f3c01', verdict: 'true_positive' },
    });
  });

  it('offers template variables as $name', () => {
    expect(setup().ds.variableOptions()).toEqual(['$service', '$sev']);
  });

  it('interpolates queries for Explore and keeps its own datasource ref', () => {
    const [q] = setup().ds.interpolateVariablesInQueries([{ refId: 'A', service: '$service' }], {});
    expect(q.service).toBe('chat');
    expect(q.datasource).toEqual({ type: 'llmsentinel-sentinel-datasource', uid: 'sentinel-test' });
  });
});

/** A templateSrv that formats like Grafana: `$svc` is a multi-value selection of chat and search. */
const multiTemplateSrv = {
  replace(target?: string, _scopedVars?: unknown, format?: unknown): string {
    const vars: Record<string, string[]> = { svc: ['chat', 'search'], one: ['chat'] };
    return (target ?? '').replace(/\$(\w+)/g, (m, name: string) => {
      const v = vars[name];
      if (!v) {
        return m;
      }
      if (typeof format === 'function') {
        return String(format(v.length === 1 ? v[0] : v));
      }
      return v.length > 1 ? `{${v.join(',')}}` : v[0];
    });
  },
};

describe('SentinelDataSource with multi-value variables and large results', () => {
  const chatScores = scoresResponse.items[0];
  const searchScores = { ...chatScores, seriesKey: 'service=search|model=gpt-4o-mini', labels: { service: 'search', model: 'gpt-4o-mini' } };

  function multiSetup() {
    const backend = new FakeBackend()
      .on('GET /api/v1/scores', (r) => ({ items: [chatScores, searchScores].filter((s) => !r.params?.service || s.labels.service === r.params.service) }))
      .on('GET /api/v1/anomalies', (r) => ({
        items: [latencyAnomaly, tokenAnomaly].filter((a) => !r.params?.service || a.labels.service === r.params.service),
        nextCursor: null,
      }))
      .on('GET /api/v1/series', () => seriesResponse);
    return { backend, ds: new SentinelDataSource(settings, backend, multiTemplateSrv) };
  }

  it('runs one request per value of a multi-value service variable and merges the answers', async () => {
    const { backend, ds } = multiSetup();
    const res = await ds.query(
      request([
        { refId: 'A', queryType: QueryType.Scores, service: '$svc' },
        { refId: 'B', queryType: QueryType.Anomalies, service: '$svc' },
      ])
    );
    expect(res.state).toBe(LoadingState.Done);
    expect(res.data.filter((f) => f.refId === 'A').map((f) => f.name)).toEqual(['service=chat|model=gpt-4o', 'service=search|model=gpt-4o-mini']);
    expect(res.data.find((f) => f.refId === 'B')?.length).toBe(2);
    const services = (path: string) => backend.requestsTo(path).map((r) => r.params?.service);
    expect(services('/api/v1/scores')).toEqual(['chat', 'search']);
    expect(services('/api/v1/anomalies')).toEqual(['chat', 'search']);
    // Parallel requests need their own ids, or Grafana cancels all but the last.
    expect(new Set(backend.requestsTo('/api/v1/scores').map((r) => r.requestId)).size).toBe(2);
    expect(backend.requests.some((r) => String(r.params?.service).includes('{'))).toBe(false);
  });

  it('filters anomalies by series and model (the model on the answers: the API has no model filter)', async () => {
    const { backend, ds } = multiSetup();
    const res = await ds.query(
      request([
        { refId: 'B', queryType: QueryType.Anomalies, seriesKey: 'service=chat|model=gpt-4o' },
        { refId: 'C', queryType: QueryType.Anomalies, model: 'gpt-4o-mini' },
      ])
    );
    const ids = (refId: string) => res.data.find((f: DataFrame) => f.refId === refId)!.fields.find((f: DataFrame['fields'][number]) => f.name === 'id')!.values;
    expect(backend.requestsTo('/api/v1/anomalies')[0].params).toMatchObject({ series: 'service=chat|model=gpt-4o' });
    expect(backend.requestsTo('/api/v1/anomalies')[1].params).not.toHaveProperty('model');
    expect(ids('C')).toEqual([tokenAnomaly.id]);
  });

  it('says on the frame when the anomalies were cut off at the limit', async () => {
    const { backend, ds } = multiSetup();
    backend.on('GET /api/v1/anomalies', () => ({ items: [latencyAnomaly], nextCursor: 'more' }));
    const res = await ds.query(request([{ refId: 'B', queryType: QueryType.Anomalies, limit: 1 }]));
    expect(res.data[0].meta?.notices).toEqual([
      { severity: 'warning', text: expect.stringMatching(/^Showing the newest 1 anomalies; more match this query\. Narrow it .* raise the limit \(max 1000\)/) },
    ]);
    backend.on('GET /api/v1/anomalies', () => ({ items: [latencyAnomaly], nextCursor: null }));
    expect((await ds.query(request([{ refId: 'B', queryType: QueryType.Anomalies, limit: 1 }]))).data[0].meta?.notices).toBeUndefined();
  });

  it('answers models($svc) for every selected service', async () => {
    const { ds } = multiSetup();
    expect((await ds.metricFindQuery('models($svc)')).map((v) => v.text)).toEqual(['gpt-4o', 'gpt-4o-mini']);
    expect((await ds.metricFindQuery('series($svc)')).map((v) => v.text)).toEqual([
      'service=chat|model=gpt-4o',
      'service=chat|model=gpt-4o-mini',
      'service=search|model=gpt-4o-mini',
    ]);
  });

  it('keeps a multi-value variable as written when interpolating for Explore', () => {
    const [q] = multiSetup().ds.interpolateVariablesInQueries([{ refId: 'A', service: '$svc', model: '$one' }], {});
    expect(q).toMatchObject({ service: '$svc', model: 'chat' });
    expect(q).not.toHaveProperty('filters');
  });

  it("reports the key as rejected when Grafana's data proxy turned the 401 into a 400", async () => {
    const { ds, backend } = setup();
    backend.on('GET /api/v1/anomalies', () => {
      throw new FakeHttpError(400, { message: 'Authentication to data source failed', error: 'Bad Request', response: 'Authentication to data source failed' });
    });
    expect(await ds.testDatasource()).toMatchObject({ status: 'error', message: expect.stringMatching(/^LLM-Sentinel rejected the API key \(401, reported by Grafana's data proxy as 400/) });
  });

  it('says the URL is not an LLM-Sentinel API when another server answers 200', async () => {
    const { ds, backend } = setup();
    backend.on('GET /api/v1/health', () => '<!doctype html><title>Grafana</title>');
    expect(await ds.testDatasource()).toEqual({
      status: 'error',
      message: expect.stringMatching(/^Not an LLM-Sentinel API at http:\/\/sentinel:8080: GET \/api\/v1\/health answered with an HTML page/),
    });
    backend.on('GET /api/v1/scores', () => '<html></html>');
    const res = await ds.query(request([{ refId: 'A', queryType: QueryType.Scores }]));
    expect(res.state).toBe(LoadingState.Error);
    expect(res.errors?.[0].message).toMatch(/^Not an LLM-Sentinel API at http:\/\/sentinel:8080/);
  });
});
