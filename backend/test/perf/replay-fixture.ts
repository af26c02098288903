/**
 * Fixed inputs replayed through the production pipeline, and the detection results pinned for them: the
 * regression net under the performance work (optimisations must not change a single score). Shared by
 * detection-regression.test.ts and the regenerate command documented there.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadConfig } from '../../src/config';
import { DEMO_INCIDENTS, demoTraffic, sharedDataDir } from '../../src/demo/traffic';
import type { AnomalyRecord, LlmEvent, SeriesPoint } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import type { Detection } from '../../src/pipeline/scorer';
import { SqliteStore, type SqliteStoreOptions } from '../../src/store/sqlite-store';
import type { MstlPool } from '../../src/detectors/augurs';

/** What is pinned of one scored window (or point). Numbers at full precision. */
export interface PinnedWindow {
  series: string;
  start: number;
  score: number;
  anomalous: boolean;
  type: string;
  severity: string;
  /** Per detector: calibrated score, raw score, threshold (null while uncalibrated). */
  detectors: [name: string, score: number, raw: number, threshold: number | null][];
  /** Distances of the nearest normal patterns (the kNN detector's evidence). */
  neighbours: number[];
}

/** What is pinned of one anomaly record. */
export interface PinnedAnomaly {
  id: string;
  seriesKey: string;
  type: string;
  severity: string;
  score: number;
  start: string;
  end: string;
  windows: number;
  status: string;
  summary: string;
  nearestNormal: string[];
}

export interface PinnedCase {
  windows: PinnedWindow[];
  anomalies: PinnedAnomaly[];
}

/** How a case is run (the default is the production configuration). */
export interface CaseOptions {
  store?: SqliteStoreOptions;
  /** Seasonal fits on this worker pool instead of the calling thread (as the server runs them). */
  fits?: MstlPool;
}

/** Replay cases, by name. */
export const CASES = {
  /** The demo input: the real Azure trace, every demo incident, seed 42 (about 32k events, 117 windows). */
  demo: (o: CaseOptions = {}) => eventsCase(demoTraffic(START, DEMO_INCIDENTS, 42), o),
  /**
   * Four hours of demo traffic (the trace replayed with seeds 42..45, incidents in the second hour): long
   * enough for the seasonal detector to fit and for hundreds of patterns per series.
   */
  demo4h: (o: CaseOptions = {}) =>
    eventsCase(
      [0, 1, 2, 3].flatMap((h) => demoTraffic(START + h * HOUR, h === 1 ? DEMO_INCIDENTS : [], 42 + h)),
      o,
    ),
  /** A plain metric series: NAB ec2_cpu_utilization_5f5533 (4032 points, thousands of 18-dim patterns). */
  points: (o: CaseOptions = {}) => pointsCase('realAWSCloudwatch/ec2_cpu_utilization_5f5533.csv', o),
} as const;

export type CaseName = keyof typeof CASES;

const START = Date.UTC(2024, 0, 1);
const HOUR = 3_600_000;

/** The fixture file of pinned results. */
export const FIXTURE = new URL('./fixtures/detections.json', import.meta.url);

function newPipeline(o: CaseOptions): { pipeline: Pipeline; store: SqliteStore; windows: PinnedWindow[]; ids: Set<string> } {
  const store = new SqliteStore(':memory:', o.store);
  const pipeline = new Pipeline({ config: loadConfig({}, () => {}), store, log: createLogger('silent'), maxFutureMs: Infinity, ...(o.fits ? { fits: o.fits } : {}) });
  const windows: PinnedWindow[] = [];
  // commit() is called exactly once per scored window, in scoring order: record what it was given.
  const commit = pipeline.scorer.commit.bind(pipeline.scorer);
  pipeline.scorer.commit = (d: Detection) => {
    windows.push(pinWindow(d));
    commit(d);
  };
  const ids = new Set<string>();
  pipeline.onAnomaly((_e, record) => void ids.add(record.id));
  return { pipeline, store, windows, ids };
}

function pinWindow(d: Detection): PinnedWindow {
  return {
    series: d.state.key,
    start: d.observation.start,
    score: d.score,
    anomalous: d.anomalous,
    type: d.type,
    severity: d.severity,
    detectors: d.scores.map((s) => [s.name, s.score, s.output.raw, Number.isNaN(s.threshold) ? null : s.threshold]),
    neighbours: d.neighbours.map((n) => n.distance),
  };
}

async function finish(p: ReturnType<typeof newPipeline>): Promise<PinnedCase> {
  p.pipeline.endOfInput();
  await p.pipeline.idle();
  const anomalies: PinnedAnomaly[] = [];
  for (const id of [...p.ids].sort()) {
    const r = (await p.store.getAnomaly(id)) as AnomalyRecord;
    anomalies.push({
      id: r.id,
      seriesKey: r.seriesKey,
      type: r.type,
      severity: r.severity,
      score: r.score,
      start: r.start,
      end: r.end,
      windows: r.windows,
      status: r.status,
      summary: r.explanation.summary,
      nearestNormal: r.explanation.evidence.nearestNormal.map((n) => n.id),
    });
  }
  await p.store.close();
  return { windows: p.windows, anomalies };
}

async function eventsCase(events: LlmEvent[], o: CaseOptions): Promise<PinnedCase> {
  const p = newPipeline(o);
  await p.store.init();
  for (let i = 0; i < events.length; i += 5000) {
    p.pipeline.ingestEvents(events.slice(i, i + 5000));
    await p.pipeline.idle();
  }
  return finish(p);
}

async function pointsCase(file: string, o: CaseOptions): Promise<PinnedCase> {
  const p = newPipeline(o);
  await p.store.init();
  const rows = readFileSync(resolve(sharedDataDir(), 'nab/data', file), 'utf8').trim().split('\n').slice(1);
  const points: SeriesPoint[] = rows.map((line) => {
    const [t, v] = line.split(',');
    return { series: 'nab', labels: { file: file.split('/')[1] }, timestamp: Date.parse(t.replace(' ', 'T') + 'Z'), value: Number(v) };
  });
  for (let i = 0; i < points.length; i += 500) {
    p.pipeline.ingestPoints(points.slice(i, i + 500));
    await p.pipeline.idle();
  }
  return finish(p);
}

/** Reads the pinned results (all cases). */
export function readFixture(): Record<CaseName, PinnedCase> {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<CaseName, PinnedCase>;
}
