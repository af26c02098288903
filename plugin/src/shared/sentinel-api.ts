import type { AnomalyRecord, FeedbackRequest, FeedbackResponse } from './api-types';

/**
 * What the panel needs from the Sentinel datasource. The panel and the datasource are separate
 * plugins with separate bundles, so the panel checks this shape ({@link isSentinelApi}) instead of
 * `instanceof`.
 */
export interface SentinelApi {
  /** Plugin type id of the datasource (`llmsentinel-sentinel-datasource`). */
  readonly type: string;
  /** `GET /api/v1/anomalies/:id`. */
  getAnomaly(id: string): Promise<AnomalyRecord>;
  /** `POST /api/v1/feedback`. */
  postFeedback(request: FeedbackRequest): Promise<FeedbackResponse>;
}

/** Whether a datasource instance offers the {@link SentinelApi} methods. */
export function isSentinelApi(value: unknown): value is SentinelApi {
  const v = value as Partial<SentinelApi> | null | undefined;
  return Boolean(v) && typeof v?.getAnomaly === 'function' && typeof v?.postFeedback === 'function';
}
