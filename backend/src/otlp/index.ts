/**
 * OpenTelemetry ingestion: the OTLP/HTTP receiver and the GenAI semantic-convention mapping behind it.
 */
export { otlpReceiver, OTLP_PATHS, type OtlpReceiverOptions } from './receiver';
export { OtlpIngestor, type ExportOutcome, type IngestTarget, type OtlpIngestorOptions } from './otlp-ingest';
export { GENAI_ATTRIBUTES, classifySpan, spanToEvent, type GenAiMappingOptions, type SpanClass } from './genai-mapping';
export { GenAiMetricsMapper, TOKEN_USAGE_METRIC, OPERATION_DURATION_METRIC } from './metrics-mapping';
export { AgentTraceTracker, AGENT_SERIES, maxSimilarCalls } from './agent-traces';
export { OtlpDecodeError, OtlpPayloadTooLargeError, OtlpUnsupportedMediaTypeError } from './errors';
