import { main as nabMain } from '../../bench/nab/main';
import type { StreamingDetectorFactory } from '../../bench/nab/harness';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { Pipeline } from '../pipeline/pipeline';
import type { SeriesState } from '../pipeline/series-state';
import { SqliteStore } from '../store/sqlite-store';

/**
 * The NAB detector: the production pipeline itself, fed one point at a time through the series path
 * (ingestPoints -> scorer -> embeddings -> detectors -> ensemble), with an in-memory embedded store per
 * file. One configuration for every file: the service's, from the SENTINEL_* variables (defaults when
 * unset, which is what docs/BENCHMARKS.md reports). The score NAB sees is the series' alert score: the
 * calibrated anomaly score (> 1 anomalous), or 0 while the series is in its re-alert hold-off after an
 * incident opened (SENTINEL_REALERT_POINTS). NAB counts every row over its threshold as a detection,
 * so what it measures is what an SRE would be paged for; NAB sweeps its own threshold over it.
 *
 * NAB files repeat or step back a timestamp in a few places; the series path refuses non-increasing
 * points, so such a row is fed 1 ms after its predecessor (the value is untouched).
 */
export const pipelineNabFactory: StreamingDetectorFactory = (fileId) => {
  const run = nabPipeline(fileId);
  return {
    score: async (timestampMs: number, value: number) => (await run.feed(timestampMs, value)).alertScore,
    close: run.close,
  };
};

/**
 * The time a NAB row is fed at: its own timestamp, or 1 ms after the previous row's feed time when the file
 * repeats (or goes back on) a timestamp, since a plain series takes only points after its last one.
 */
export function feedTime(timestampMs: number, previous: number): number {
  return timestampMs > previous ? timestampMs : previous + 1;
}

/** One NAB file's production pipeline, fed the way the benchmark feeds it (also used by bench/nab/explore.ts). */
export function nabPipeline(series: string): { pipeline: Pipeline; feed(timestampMs: number, value: number): Promise<SeriesState>; close(): Promise<void> } {
  const log = createLogger('silent');
  // The service's own configuration (SENTINEL_* variables, defaults when unset): one for every file.
  const config = loadConfig(process.env, () => {});
  const store = new SqliteStore(':memory:');
  let ready: Promise<void> | null = store.init();
  const pipeline = new Pipeline({ config, store, log, maxFutureMs: Infinity });
  let last = -Infinity;
  return {
    pipeline,
    async feed(timestampMs: number, value: number): Promise<SeriesState> {
      if (ready) {
        await ready;
        ready = null;
      }
      const t = feedTime(timestampMs, last);
      last = t;
      pipeline.ingestPoints([{ series, labels: {}, timestamp: t, value }]);
      await pipeline.idle();
      return pipeline.scorer.states.values().next().value!;
    },
    close: () => store.close(),
  };
}

/** `sentinel bench nab` / `npm run bench:nab`. */
export function nabCommand(argv: string[]): Promise<number> {
  return nabMain(argv, pipelineNabFactory);
}
