/**
 * End-to-end test of the NAB harness on three small corpus files with a rolling z-score detector:
 * result CSV format, labels against combined_windows.json, one-row-at-a-time in-order delivery,
 * summary files, and the failure paths (self-check mismatch, detector error, bad arguments).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NabDetectorError } from '../../bench/nab/errors';
import { formatScoreboard, runNab, type NabRunResult, type StreamingDetector } from '../../bench/nab/harness';
import { NAB_EXIT, main } from '../../bench/nab/main';
import { resolveNabDir } from '../../bench/nab/nab-data';

// Small files: two with windows (2 and 3), one without any.
const FILES = [
  'realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv',
  'realAdExchange/exchange-3_cpc_results.csv',
  'artificialNoAnomaly/art_flatline.csv',
];
const nabDir = resolveNabDir();

/** What one detector instance saw. */
interface Trace {
  timestamps: number[];
  values: number[];
  returned: number[];
  overlapped: boolean;
  closed: number;
}

/**
 * Rolling z-score over the last 50 values. Every 7th row answers through a promise resolved on a later
 * macrotask, so overlapping calls (a harness not awaiting) would be caught by `overlapped`.
 */
function zScoreDetector(trace: Trace): StreamingDetector {
  const window: number[] = [];
  let busy = false;
  return {
    score(timestampMs, value) {
      if (busy) trace.overlapped = true;
      trace.timestamps.push(timestampMs);
      trace.values.push(value);
      let z = 0;
      if (window.length >= 2) {
        const mean = window.reduce((s, v) => s + v, 0) / window.length;
        const sd = Math.sqrt(window.reduce((s, v) => s + (v - mean) ** 2, 0) / window.length);
        z = sd === 0 ? 0 : Math.abs(value - mean) / sd;
      }
      window.push(value);
      if (window.length > 50) window.shift();
      trace.returned.push(z);
      if (trace.timestamps.length % 7 !== 0) return z;
      busy = true;
      return new Promise((resolve) =>
        setImmediate(() => {
          busy = false;
          resolve(z);
        }),
      );
    },
    close() {
      trace.closed++;
    },
  };
}

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8').trimEnd().split(/\r?\n/);
}

describe('runNab end to end (3 files, rolling z-score)', () => {
  const outDir = mkdtempSync(path.join(tmpdir(), 'nab-harness-'));
  const traces = new Map<string, Trace>();
  const factoryCalls: string[] = [];
  let result: NabRunResult;

  before(async () => {
    result = await runNab({
      outDir,
      files: FILES,
      concurrency: 2,
      factory: (fileId) => {
        factoryCalls.push(fileId);
        const trace: Trace = { timestamps: [], values: [], returned: [], overlapped: false, closed: 0 };
        traces.set(fileId, trace);
        return zScoreDetector(trace);
      },
    });
  });
  after(() => rmSync(outDir, { recursive: true, force: true }));

  it('creates one fresh detector per file and closes it', () => {
    assert.deepEqual([...factoryCalls].sort(), [...FILES].sort());
    for (const trace of traces.values()) assert.equal(trace.closed, 1);
  });

  it('delivers every row once, in timestamp order, one call at a time', () => {
    for (const fileId of FILES) {
      const trace = traces.get(fileId);
      assert.ok(trace);
      const data = readLines(path.join(nabDir, 'data', fileId)).slice(1);
      const expected = data.map((line) => Date.parse(`${line.split(',')[0].replace(' ', 'T')}Z`));
      assert.deepEqual(trace.timestamps, expected, fileId);
      assert.deepEqual(trace.values, data.map((line) => Number(line.split(',')[1])), fileId);
      for (let i = 1; i < trace.timestamps.length; i++) assert.ok(trace.timestamps[i] > trace.timestamps[i - 1]);
      assert.equal(trace.overlapped, false, `${fileId}: score() called before the previous call settled`);
    }
  });

  it('writes NAB-format CSVs with labels matching combined_windows.json', () => {
    const windows = JSON.parse(readFileSync(path.join(nabDir, 'labels', 'combined_windows.json'), 'utf8')) as Record<
      string,
      [string, string][]
    >;
    for (const fileId of FILES) {
      const lines = readLines(path.join(outDir, fileId));
      const data = readLines(path.join(nabDir, 'data', fileId));
      assert.equal(lines[0], 'timestamp,value,anomaly_score,label');
      assert.equal(lines.length, data.length);
      // Labels recomputed independently: window ends as text, compared as ISO-like strings.
      const spans = windows[fileId].map(([s, e]) => [s.replace(/\.0+$/, ''), e.replace(/\.0+$/, '')]);
      let labelled = 0;
      for (let i = 1; i < lines.length; i++) {
        const [ts, value, score, label] = lines[i].split(',');
        const [dataTs, dataValue] = data[i].split(',');
        assert.equal(ts, dataTs);
        assert.equal(value, dataValue, 'value written back exactly as in the data file');
        assert.equal(Number(score), traces.get(fileId)?.returned[i - 1]);
        const inside = spans.some(([s, e]) => s <= ts && ts <= e);
        assert.equal(label, inside ? '1' : '0', `${fileId} line ${i + 1}`);
        if (inside) labelled++;
      }
      if (windows[fileId].length > 0) assert.ok(labelled > 0, `${fileId}: no labelled row`);
      else assert.equal(labelled, 0);
    }
  });

  it('writes summary.json with the three normalised scores and a details file', () => {
    const summary = JSON.parse(readFileSync(path.join(outDir, 'summary.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(summary).sort(), ['reward_low_FN_rate', 'reward_low_FP_rate', 'standard']);
    for (const v of Object.values(summary)) assert.ok(typeof v === 'number' && Number.isFinite(v));
    assert.deepEqual(summary, { ...result.summary });
    const details = JSON.parse(readFileSync(path.join(outDir, 'summary-details.json'), 'utf8')) as {
      partial: boolean;
      profiles: Record<string, { threshold: number; files: unknown[]; windowCount: number }>;
    };
    assert.equal(details.partial, true);
    assert.equal(details.profiles.standard.files.length, 3);
    assert.equal(details.profiles.standard.windowCount, 5);
    assert.equal(typeof details.profiles.standard.threshold, 'number');
    assert.deepEqual(readdirSync(outDir).sort(), [
      'artificialNoAnomaly',
      'realAWSCloudwatch',
      'realAdExchange',
      'summary-details.json',
      'summary.json',
    ]);
  });

  it('returns timings, the self-check and a scoreboard', () => {
    assert.equal(result.selfCheck.ok, true);
    assert.equal(result.rowCount, 1243 + 1538 + 4032);
    assert.ok(result.elapsedMs >= result.detectorElapsedMs);
    const board = formatScoreboard(result);
    assert.match(board, /> LLM-Sentinel\s+this run/);
    assert.match(board, /ARTime\s+final_results\.json\s+74\.85/);
    assert.match(board, /Etsy Skyline\s+NAB README\s+35\.70/);
    assert.match(board, /reproduced numenta 70\.10 \/ 63\.12 \/ 74\.32/);
    assert.match(board, /WARNING: partial corpus/);
  });
});

describe('runNab and main failure paths', () => {
  const scratch = mkdtempSync(path.join(tmpdir(), 'nab-fail-'));
  after(() => rmSync(scratch, { recursive: true, force: true }));

  it('stops with a non-zero exit code when the scorer self-check fails', async () => {
    // A NAB directory identical to the real one except for one published numenta score.
    const fake = path.join(scratch, 'nab');
    mkdirSync(path.join(fake, 'published'), { recursive: true });
    for (const entry of ['data', 'labels', 'config']) symlinkSync(path.join(nabDir, entry), path.join(fake, entry));
    for (const entry of readdirSync(path.join(nabDir, 'published'))) {
      if (entry !== 'numenta_standard_scores.csv') {
        symlinkSync(path.join(nabDir, 'published', entry), path.join(fake, 'published', entry));
      }
    }
    const lines = readLines(path.join(nabDir, 'published', 'numenta_standard_scores.csv'));
    const cells = lines[1].split(',');
    cells[4] = String(Number(cells[4]) + 0.01);
    lines[1] = cells.join(',');
    writeFileSync(path.join(fake, 'published', 'numenta_standard_scores.csv'), `${lines.join('\n')}\n`);

    let created = 0;
    let err = '';
    const code = await main(['--files', FILES[0], '--out', path.join(scratch, 'out'), '--nab-dir', fake], () => {
      created++;
      return { score: () => 0 };
    }, { out: () => {}, err: (t) => (err += t) });
    assert.equal(code, NAB_EXIT.SELF_CHECK_FAILED);
    assert.equal(created, 0, 'no detector runs after a failed self-check');
    assert.match(err, /self-check failed/);
    assert.match(err, new RegExp(cells[2].replace(/[.]/g, '\\.')));
  });

  it('fails the run on a non-finite score, closing the detector', async () => {
    let closed = 0;
    await assert.rejects(
      runNab({
        outDir: path.join(scratch, 'out2'),
        files: [FILES[0]],
        factory: () => ({
          score: (_t, _v) => Number.NaN,
          close: () => {
            closed++;
          },
        }),
      }),
      (error: unknown) => error instanceof NabDetectorError && error.rowIndex === 0 && /NaN/.test(error.message),
    );
    assert.equal(closed, 1);
  });

  it('prints usage for --help and rejects unknown flags', async () => {
    let out = '';
    const io = { out: (t: string) => (out += t), err: () => {} };
    assert.equal(await main(['--help'], () => ({ score: () => 0 }), io), NAB_EXIT.OK);
    assert.match(out, /usage: sentinel bench nab/);
    assert.equal(await main(['--bogus'], () => ({ score: () => 0 }), io), NAB_EXIT.USAGE);
    assert.equal(await main(['--concurrency', '0'], () => ({ score: () => 0 }), io), NAB_EXIT.USAGE);
  });
});
