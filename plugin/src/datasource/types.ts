import type { DataQuery, DataSourceJsonData } from '@grafana/data';

/** Plugin id of the datasource (contract: provisioning refers to it). */
export const DATASOURCE_PLUGIN_ID = 'llmsentinel-sentinel-datasource';

/**
 * Path of the data-proxy route in plugin.json. Grafana forwards `<instance url>/<ROUTE_PATH>/...` to the
 * configured Sentinel URL and adds the API key from secureJsonData, so the key never reaches the browser.
 */
export const ROUTE_PATH = 'sentinel';

/** What a query asks the backend for. */
export enum QueryType {
  /** Anomaly score plus the feature with its expected band (`GET /api/v1/scores`). */
  Scores = 'scores',
  /** Anomaly records as a table (`GET /api/v1/anomalies`). */
  Anomalies = 'anomalies',
  /** One anomaly's explanation and evidence (`GET /api/v1/anomalies/:id`). */
  Explanation = 'explanation',
  /** One raw feature per series, without score or band (`GET /api/v1/scores?feature=`). */
  Features = 'features',
}

/** A Sentinel query. Every string field may hold template variables. */
export interface SentinelQuery extends DataQuery {
  queryType?: QueryType;
  /** Series key (`service=chat|model=gpt-4o`); empty means every series matching service/model. */
  seriesKey?: string;
  service?: string;
  model?: string;
  /** Feature to plot; empty means the series' primary feature. */
  feature?: string;
  /** Severities to keep (anomalies). */
  severity?: string[];
  /** Anomaly type filter (anomalies). */
  anomalyType?: string;
  /** Anomaly id (explanation). */
  anomalyId?: string;
  /** Points per series (scores/features) or rows (anomalies). */
  limit?: number;
}

/** Defaults applied to a new query. */
export const DEFAULT_QUERY: Partial<SentinelQuery> = {
  queryType: QueryType.Scores,
};

/** Rows fetched for an anomalies query when the query sets no limit (the API default). */
export const DEFAULT_ANOMALY_LIMIT = 100;

/** Upper bound on anomaly rows per query: the API's own per-page maximum, reached by following cursors. */
export const MAX_ANOMALY_LIMIT = 1000;

/** Upper bound on points per series of a scores or raw-feature query (`GET /api/v1/scores` refuses more). */
export const MAX_POINTS_LIMIT = 10_000;

/**
 * Times the API accepts, as epoch milliseconds: it refuses anything before 1973-03-03 (smaller values
 * are taken for epoch seconds) or after 5138, so a dashboard range is clamped to these.
 */
export const MIN_API_TIME_MS = 1e11;
/** See {@link MIN_API_TIME_MS}. */
export const MAX_API_TIME_MS = 1e14;

/** Non-secret datasource settings (jsonData). */
export interface SentinelOptions extends DataSourceJsonData {
  /** Base URL of the Sentinel service, e.g. `http://sentinel:8080`; used by the proxy route. */
  url?: string;
}

/** Secret datasource settings (secureJsonData), never sent back to the browser. */
export interface SentinelSecureOptions {
  apiKey?: string;
}
