import type { AnomalyPage, AnomalyQuery, AnomalyRecord, Feedback, Neighbour, Pattern, PatternKind } from '../domain/types';

/** Result of a store health probe. */
export interface StoreHealth {
  kind: string;
  ok: boolean;
  latencyMs: number;
  detail?: string;
}

/**
 * The one storage interface of the service: normal and incident patterns (vectors, partitioned by series
 * key), anomaly records and feedback. Implemented by the embedded SQLite + sqlite-vec store and by the
 * Qdrant adapter; both must pass test/store/contract.ts.
 *
 * Vectors of different dimensions may coexist (event windows and point series embed to different sizes);
 * a search only ever compares vectors of the query's dimension within one series key.
 */
export interface VectorStore {
  /** Short name for health output and logs, e.g. "sqlite" or "qdrant". */
  readonly kind: string;

  /** Create or verify the schema/collections. Idempotent. */
  init(): Promise<void>;

  /** Insert or replace patterns by id. */
  upsertPatterns(patterns: Pattern[]): Promise<void>;

  /**
   * A hint that `seriesKey` has gone quiet (its state left memory, see Pipeline.persistTo): a store may drop
   * what it holds in memory for it. Its patterns stay stored and searchable.
   */
  releaseSeries?(seriesKey: string): void;

  /**
   * The `k` nearest patterns of `seriesKey` to `vector` (Euclidean distance), nearest first.
   * `kind` restricts the search to normal or incident patterns (default: normal).
   */
  searchPatterns(seriesKey: string, vector: Float32Array, k: number, kind?: PatternKind): Promise<Neighbour[]>;

  /** Number of patterns, optionally of one series and/or kind. */
  countPatterns(filter?: { seriesKey?: string; kind?: PatternKind }): Promise<number>;

  /** Delete the oldest patterns of a series beyond `keep` (retention). Returns how many were removed. */
  prunePatterns(seriesKey: string, kind: PatternKind, keep: number): Promise<number>;

  /** Iterate over every pattern in batches (for migration). */
  scanPatterns(batchSize: number): AsyncIterable<Pattern[]>;

  /** Insert or replace an anomaly record by id. */
  saveAnomaly(record: AnomalyRecord): Promise<void>;

  getAnomaly(id: string): Promise<AnomalyRecord | null>;

  /** Newest first (by `start`, then id), filtered, paginated by an opaque cursor. */
  listAnomalies(query: AnomalyQuery): Promise<AnomalyPage>;

  /** Iterate over every anomaly record in batches (for migration). */
  scanAnomalies(batchSize: number): AsyncIterable<AnomalyRecord[]>;

  /** Record feedback on an anomaly; returns the updated record (NotFoundError for an unknown id). */
  saveFeedback(anomalyId: string, feedback: Feedback): Promise<AnomalyRecord>;

  /** Counts of feedback verdicts, for the false-positive rate metric. */
  feedbackCounts(): Promise<{ true_positive: number; false_positive: number }>;

  health(): Promise<StoreHealth>;

  close(): Promise<void>;
}

/**
 * Where an incident ends, as epoch ms, for the time filter of listAnomalies (incidents overlapping
 * [from, to]): its `end`, or its start when `end` does not parse.
 */
export function anomalyEndMs(record: AnomalyRecord): number {
  const end = Date.parse(record.end);
  return Number.isFinite(end) ? end : Date.parse(record.start);
}
