/**
 * Detection regression: replays fixed inputs (the demo traffic with every demo incident, seed 42; four
 * hours of it; a NAB metric series) through the pipeline and compares every window's score, verdict, type,
 * per-detector scores and nearest-pattern distances (to 1e-9), and every anomaly record (ids, types,
 * severities, evidence), with the values pinned in fixtures/detections.json.
 *
 * Performance work must leave this test green. When detection is changed ON PURPOSE (detectors,
 * thresholds, features), re-read what changed and regenerate the pins:
 *
 *   cd /work/main && TZ=UTC PERF_PIN_UPDATE=1 node --import tsx --test backend/test/perf/detection-regression.test.ts
 *
 * then review the diff of fixtures/detections.json (git diff --stat, the anomalies part) before committing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { CASES, FIXTURE, readFixture, type CaseName, type PinnedCase, type PinnedWindow } from './replay-fixture';
import { MstlPool } from '../../src/detectors/augurs';

const UPDATE = process.env.PERF_PIN_UPDATE === '1';
const TOLERANCE = 1e-9;

const close = (a: number | null, b: number | null) =>
  a === b || (a !== null && b !== null && Math.abs(a - b) <= TOLERANCE * Math.max(1, Math.abs(b)));

function windowDiff(got: PinnedWindow, want: PinnedWindow): string | null {
  if (got.series !== want.series || got.start !== want.start) return `window ${want.series}@${want.start} scored as ${got.series}@${got.start}`;
  if (got.anomalous !== want.anomalous || got.type !== want.type || got.severity !== want.severity) {
    return `verdict ${got.anomalous}/${got.type}/${got.severity}, pinned ${want.anomalous}/${want.type}/${want.severity}`;
  }
  if (!close(got.score, want.score)) return `score ${got.score}, pinned ${want.score}`;
  if (got.detectors.length !== want.detectors.length) return `detectors ${got.detectors.map((d) => d[0])}, pinned ${want.detectors.map((d) => d[0])}`;
  for (let i = 0; i < want.detectors.length; i++) {
    const [gn, gs, gr, gt] = got.detectors[i];
    const [wn, ws, wr, wt] = want.detectors[i];
    if (gn !== wn || !close(gs, ws) || !close(gr, wr) || !close(gt, wt)) return `detector ${gn} ${gs}/${gr}/${gt}, pinned ${wn} ${ws}/${wr}/${wt}`;
  }
  if (got.neighbours.length !== want.neighbours.length || got.neighbours.some((d, i) => !close(d, want.neighbours[i]))) {
    return `neighbour distances ${got.neighbours}, pinned ${want.neighbours}`;
  }
  return null;
}

function compare(name: string, got: PinnedCase, want: PinnedCase): void {
  assert.equal(got.windows.length, want.windows.length, `${name}: number of scored windows`);
  for (let i = 0; i < want.windows.length; i++) {
    const diff = windowDiff(got.windows[i], want.windows[i]);
    if (diff) assert.fail(`${name}: window #${i} (${want.windows[i].series} @ ${new Date(want.windows[i].start).toISOString()}): ${diff}`);
  }
  assert.deepEqual(got.anomalies, want.anomalies, `${name}: anomaly records`);
}

if (UPDATE) {
  it('regenerates fixtures/detections.json', async () => {
    const out: Record<string, PinnedCase> = {};
    for (const name of Object.keys(CASES) as CaseName[]) out[name] = await CASES[name]();
    const path = fileURLToPath(FIXTURE);
    mkdirSync(dirname(path), { recursive: true });
    // 12 significant digits: far inside the 1e-9 tolerance, and a third smaller than full precision.
    writeFileSync(path, JSON.stringify(out, (_k, v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? Number(v.toPrecision(12)) : v)) + '\n');
    const n = Object.values(out).reduce((s, c) => s + c.windows.length, 0);
    process.stdout.write(`# wrote ${path}: ${n} windows, ${Object.values(out).reduce((s, c) => s + c.anomalies.length, 0)} anomalies\n`);
  });
} else {
  describe('detection regression (pinned scores)', () => {
    const pinned = existsSync(FIXTURE) ? readFixture() : null;
    for (const name of Object.keys(CASES) as CaseName[]) {
      it(`${name}: same windows, scores, verdicts and anomaly records as pinned`, async () => {
        assert.ok(pinned?.[name], `no pinned results for ${name}: regenerate fixtures/detections.json (see the header of this file)`);
        compare(name, await CASES[name](), pinned[name]);
      });
    }

    // Independent of the pins (so it holds while detection itself changes): the store's in-memory exact
    // kNN gives the same windows, scores and records as sqlite-vec's own search.
    for (const name of ['demo4h', 'points'] as const) {
      it(`${name}: in-memory kNN search and sqlite-vec search give identical results`, async () => {
        const viaSqliteVec = await CASES[name]({ store: { vectorCacheBytes: 0 } });
        compare(`${name} (in-memory kNN vs sqlite-vec)`, await CASES[name](), viaSqliteVec);
      });
    }

    // Also independent of the pins: seasonal fits on the worker (as the server runs them) and on the
    // calling thread (replay) give identical results; demo4h and points both fit seasonal models.
    for (const name of ['demo4h', 'points'] as const) {
      it(`${name}: seasonal fits on a worker thread and on the calling thread give identical results`, async () => {
        const fits = new MstlPool();
        try {
          compare(`${name} (fits on a worker vs on the calling thread)`, await CASES[name]({ fits }), await CASES[name]());
        } finally {
          await fits.close();
        }
      });
    }

    it('the pins are not trivial: the demo finds every injected incident type', () => {
      const types = new Set(pinned!.demo.anomalies.map((a) => a.type));
      for (const t of ['token_abuse', 'traffic_spike', 'latency_spike', 'error_rate', 'security_pattern']) assert.ok(types.has(t), `demo pins a ${t} anomaly`);
      assert.ok(pinned!.points.windows.some((w) => w.neighbours.length === 5), 'points case pins kNN neighbour distances');
    });
  });
}
