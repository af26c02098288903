/**
 * Errors raised by the NAB scorer and harness. One base class so callers can tell benchmark failures
 * from anything else; subclasses carry the data needed to act on them, the original error stays in `cause`.
 */

/** Base class of every error thrown by `backend/bench/nab`. */
export class NabError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The NAB data on disk is missing or not in the shape the benchmark defines. */
export class NabDataError extends NabError {
  /** File (absolute path or corpus id such as `realTraffic/speed_7578.csv`) the problem was found in. */
  readonly file: string;

  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super(`${file}: ${message}`, options);
    this.file = file;
  }
}

/** A detector under benchmark threw or returned something that is not a finite number. */
export class NabDetectorError extends NabError {
  /** Corpus id of the file being scored, e.g. `realTraffic/speed_7578.csv`. */
  readonly fileId: string;
  /** Zero-based row index at which the detector failed (-1 when the factory or `close()` failed). */
  readonly rowIndex: number;

  constructor(fileId: string, rowIndex: number, message: string, options?: { cause?: unknown }) {
    super(`${fileId}${rowIndex >= 0 ? ` row ${rowIndex}` : ''}: ${message}`, options);
    this.fileId = fileId;
    this.rowIndex = rowIndex;
  }
}

/**
 * The scorer did not reproduce the published numenta results, so any score it produced for our detector
 * would be meaningless. `failures` lists every mismatch.
 */
export class NabSelfCheckError extends NabError {
  /** Human-readable mismatches (file, profile, expected, got). */
  readonly failures: readonly string[];

  constructor(failures: readonly string[]) {
    super(
      `NAB scorer self-check failed (${failures.length} mismatch${failures.length === 1 ? '' : 'es'}): ` +
        failures.slice(0, 5).join('; ') +
        (failures.length > 5 ? '; ...' : ''),
    );
    this.failures = failures;
  }
}
