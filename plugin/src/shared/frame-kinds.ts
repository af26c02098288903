/**
 * Marker the datasource puts in `frame.meta.custom.sentinelKind`, so the panel can tell its frames
 * apart without guessing from field names (it falls back to field names for frames from elsewhere).
 */
export type SentinelFrameKind = 'scores' | 'features' | 'anomalies' | 'explanation' | 'evidence' | 'similar_incidents';

/** Shape of `frame.meta.custom` on frames the datasource returns. */
export interface SentinelFrameMeta {
  sentinelKind: SentinelFrameKind;
  seriesKey?: string;
  feature?: string;
  /**
   * The datasource that produced the frame, so the panel finds it for explanations and feedback even
   * when the queries carry no datasource reference.
   */
  datasource?: { uid: string; type: string };
}

/** Grafana unit for a feature name, from the naming conventions of the backend's features. */
export function featureUnit(feature: string | undefined): string | undefined {
  if (!feature) {
    return undefined;
  }
  if (/_ms$/.test(feature)) {
    return 'ms';
  }
  if (/cost/.test(feature) && /usd/.test(feature)) {
    return 'currencyUSD';
  }
  // Fractions of 1 (error_rate 0.05 = 5 %; top_key_token_share 0.6 = 60 % of the tokens). Not output_input_ratio:
  // output tokens per input token, 5.0 is five times as many, not "500%".
  if (/_rate$|_share$/.test(feature)) {
    return 'percentunit';
  }
  return undefined;
}
