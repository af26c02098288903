import {
  DataSourceApi,
  LoadingState,
  type DataFrame,
  type DataQueryError,
  type DataQueryRequest,
  type DataQueryResponse,
  type DataSourceInstanceSettings,
  type MetricFindValue,
  type ScopedVars,
  type TestDataSourceResponse,
} from '@grafana/data';
import { getBackendSrv, getTemplateSrv } from '@grafana/runtime';

import type { AnomalyRecord, FeedbackRequest, FeedbackResponse, ScoresResponse, SeriesInfo } from '../shared/api-types';
import type { SentinelApi } from '../shared/sentinel-api';
import { createAnnotationSupport } from './annotations';
import { SentinelApiClient, type AnomaliesResult, type FetchBackend } from './api-client';
import { SentinelApiError } from './errors';
import { healthErrorToTestResult, healthToTestResult } from './health';
import {
  anomalyLimit,
  buildAnomaliesParams,
  buildScoresParams,
  expandTemplate,
  interpolateQuery,
  isRunnable,
  planRequests,
  queryTypeOf,
  type InterpolatedQuery,
  type TemplateSrvLike,
  type TimeRangeMs,
} from './query';
import {
  anomaliesNotices,
  anomaliesToFrame,
  explanationToFrames,
  featuresToFrames,
  mergeAnomalies,
  mergeScores,
  scoresToFrames,
} from './transform';
import { DEFAULT_QUERY, QueryType, ROUTE_PATH, type SentinelOptions, type SentinelQuery } from './types';
import { metricFindValues, parseVariableQuery } from './variables';

/**
 * The Sentinel datasource. Frontend only: every call goes through Grafana's data proxy route
 * (`<instance url>/sentinel/...`), which adds the API key from secureJsonData. The class only wires
 * things together; query building, transforms, variables, annotations and health live in their own
 * pure modules.
 */
export class SentinelDataSource extends DataSourceApi<SentinelQuery, SentinelOptions> implements SentinelApi {
  /** API client bound to this instance's proxy route. */
  readonly api: SentinelApiClient;

  constructor(
    instanceSettings: DataSourceInstanceSettings<SentinelOptions>,
    backendSrv: FetchBackend = getBackendSrv(),
    private readonly templateSrv: TemplateSrvLike = getTemplateSrv()
  ) {
    super(instanceSettings);
    this.api = new SentinelApiClient(backendSrv, `${instanceSettings.url ?? ''}/${ROUTE_PATH}`, instanceSettings.jsonData?.url);
    this.annotations = createAnnotationSupport();
  }

  override getDefaultQuery(): Partial<SentinelQuery> {
    return DEFAULT_QUERY;
  }

  override filterQuery(query: SentinelQuery): boolean {
    return isRunnable(query);
  }

  applyTemplateVariables(query: SentinelQuery, scopedVars: ScopedVars): InterpolatedQuery {
    return interpolateQuery(query, this.templateSrv, scopedVars);
  }

  /**
   * Queries with their variables replaced, for Explore (which has no dashboard variables). Several
   * values of a multi-value variable do not fit one field, so such a field keeps the variable.
   */
  override interpolateVariablesInQueries(queries: SentinelQuery[], scopedVars: ScopedVars): SentinelQuery[] {
    return queries.map((q) => {
      const { filters, ...query } = interpolateQuery(q, this.templateSrv, scopedVars);
      const field = (values: string[], original: string | undefined, single: string | undefined) => (values.length > 1 ? original : single);
      return {
        ...query,
        seriesKey: field(filters.seriesKeys, q.seriesKey, query.seriesKey),
        service: field(filters.services, q.service, query.service),
        model: field(filters.models, q.model, query.model),
        anomalyType: field(filters.types, q.anomalyType, query.anomalyType),
        datasource: this.getRef(),
      };
    });
  }

  async query(request: DataQueryRequest<SentinelQuery>): Promise<DataQueryResponse> {
    const range: TimeRangeMs = { from: request.range.from.valueOf(), to: request.range.to.valueOf() };
    const targets = request.targets
      .filter((t) => this.filterQuery(t))
      .map((t) => this.applyTemplateVariables(t, request.scopedVars));
    // One failing query must not hide the others' data: settle all, report errors per refId.
    const settled = await Promise.allSettled(
      targets.map((t) => this.runQuery(t, range, `${request.requestId}-${t.refId}`))
    );
    const data: DataFrame[] = [];
    const errors: DataQueryError[] = [];
    settled.forEach((result, i) => {
      if (result.status === 'fulfilled') {
        data.push(...result.value.map((frame) => this.stamp(frame)));
      } else {
        const reason = result.reason as { message?: string; status?: number };
        errors.push({ refId: targets[i].refId, message: reason?.message ?? String(result.reason), status: reason?.status });
      }
    });
    return errors.length ? { data, errors, state: LoadingState.Error } : { data, state: LoadingState.Done };
  }

  /** Records this datasource in the frame's meta (see SentinelFrameMeta.datasource). */
  private stamp(frame: DataFrame): DataFrame {
    const ref = this.getRef();
    return { ...frame, meta: { ...frame.meta, custom: { ...frame.meta?.custom, datasource: { uid: ref.uid!, type: ref.type! } } } };
  }

  /** Runs one interpolated query and converts the response. */
  private async runQuery(query: InterpolatedQuery, range: TimeRangeMs, requestId: string): Promise<DataFrame[]> {
    switch (queryTypeOf(query)) {
      case QueryType.Scores:
        return scoresToFrames(await this.fetchScores(query, range, requestId), query.refId);
      case QueryType.Features:
        return featuresToFrames(await this.fetchScores(query, range, requestId), query.refId);
      case QueryType.Anomalies: {
        const limit = anomalyLimit(query);
        const result = await this.fetchAnomalies(query, range, limit, requestId);
        return [anomaliesToFrame(result.items, query.refId, anomaliesNotices(result, limit))];
      }
      case QueryType.Explanation:
        return explanationToFrames(await this.api.anomaly(query.anomalyId!.trim()), query.refId);
    }
  }

  /** `GET /api/v1/scores`, once per value of a multi-value filter (see planRequests), merged. */
  private async fetchScores(query: InterpolatedQuery, range: TimeRangeMs, requestId: string): Promise<ScoresResponse> {
    const plan = planRequests('scores', query.filters, buildScoresParams(query, range));
    const several = plan.requests.length > 1;
    const responses = await Promise.all(
      plan.requests.map((params, i) =>
        this.api.scores(params, { requestId: several ? `${requestId}-${i}` : requestId }).catch((err: unknown) => {
          // One series of a multi-value `$series` that does not exist (404) leaves the others standing.
          if (several && err instanceof SentinelApiError && err.status === 404) {
            return { items: [] };
          }
          throw err;
        })
      )
    );
    return mergeScores(responses, plan.matches);
  }

  /** `GET /api/v1/anomalies`, once per value of a multi-value filter (see planRequests), merged. */
  private async fetchAnomalies(query: InterpolatedQuery, range: TimeRangeMs, limit: number, requestId: string): Promise<AnomaliesResult> {
    const plan = planRequests('anomalies', query.filters, buildAnomaliesParams(query, range));
    const several = plan.requests.length > 1;
    const keep = plan.filtersLocally ? plan.matches : undefined;
    const results = await Promise.all(
      // Distinct request ids: Grafana cancels an in-flight request when another with the same id starts.
      plan.requests.map((params, i) => this.api.anomalies(params, limit, { requestId: several ? `${requestId}-${i}` : requestId, keep }))
    );
    return mergeAnomalies(results, limit);
  }

  /**
   * Template variables: `services()`, `models(<service>)`, `series(<service>)`, `features(<seriesKey>)`.
   * A multi-value variable in the argument (`models($service)`) lists the values of each of its values.
   */
  override async metricFindQuery(query: string | { query?: string }, options?: { scopedVars?: ScopedVars }): Promise<MetricFindValue[]> {
    const text = typeof query === 'string' ? query : (query?.query ?? '');
    const expanded = expandTemplate(text, this.templateSrv, options?.scopedVars);
    const parsed = (expanded.length ? expanded : ['']).map(parseVariableQuery);
    const series = await this.api.series();
    return metricFindValues(series.items ?? [], parsed);
  }

  async testDatasource(): Promise<TestDataSourceResponse> {
    let result: TestDataSourceResponse;
    try {
      result = healthToTestResult(await this.api.health());
    } catch (err) {
      return healthErrorToTestResult(err);
    }
    if (result.status !== 'success') {
      return result;
    }
    // Health needs no key (it serves probes), so it cannot tell a wrong or missing key: one read that
    // does need it when the backend has keys (the smallest: the newest anomaly) says whether queries will work.
    try {
      await this.api.anomalies({}, 1);
    } catch (err) {
      return healthErrorToTestResult(err);
    }
    return result;
  }

  /** Series the backend knows, for the query editor's pickers. */
  async listSeries(): Promise<SeriesInfo[]> {
    return (await this.api.series()).items ?? [];
  }

  /** Recent anomalies in a range, for the query editor's anomaly picker. */
  async listAnomalies(range: TimeRangeMs, limit = 50): Promise<AnomalyRecord[]> {
    return (await this.api.anomalies(buildAnomaliesParams({ refId: 'picker' }, range), limit)).items;
  }

  /** Names of the dashboard's template variables as `$name`, offered in the editor's pickers. */
  variableOptions(): string[] {
    return (this.templateSrv.getVariables?.() ?? []).map((v) => `$${v.name}`);
  }

  getAnomaly(id: string): Promise<AnomalyRecord> {
    return this.api.anomaly(id);
  }

  postFeedback(request: FeedbackRequest): Promise<FeedbackResponse> {
    return this.api.feedback(request);
  }
}
