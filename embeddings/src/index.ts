/**
 * @llm-sentinel/embeddings: pure functions that turn telemetry into fixed-length vectors.
 * No I/O, no state: the same input always gives the same, finite vector.
 */
export { embedWindows, windowEmbeddingDimension } from './window-embedder';
export type { Baseline, WindowEmbeddingOptions } from './window-embedder';
export { embedSubsequence, subsequenceEmbeddingDimension } from './subsequence-embedder';
export type { SubsequenceEmbeddingOptions } from './subsequence-embedder';
export { robustStats, medianInPlace, kthSmallestInPlace, finite, MAD_TO_SIGMA } from './robust';
export type { RobustStats } from './robust';
