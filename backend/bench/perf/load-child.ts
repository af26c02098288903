/**
 * The load generator: runs in a SECOND process (forked by http.ts / latency.ts), so its CPU is not the
 * server's. Receives one job over IPC, answers with its result, exits.
 *
 * - `autocannon`: POSTs batches at a fixed offered load (or as fast as it can) with autocannon. Bodies are
 *   built per request with current timestamps, so event time moves with the wall clock and windows close
 *   (and get scored) during the run, as in production.
 * - `live`: real-time traffic for the detection-latency scenario: every `tickMs` a batch with events of
 *   every series at `eventsPerSec` each (x `spikeFactor` for the series whose spike window it is), while
 *   polling GET /api/v1/anomalies and /metrics to see when each anomaly becomes visible.
 */
import { createRequire } from 'node:module';
import { TrafficGenerator, type RawEvent } from './traffic';

const require = createRequire(import.meta.url);

/** The subset of autocannon's API used here (it ships no types). */
interface AutocannonResult {
  latency: { p50: number; p99: number; max: number; mean: number };
  requests: { total: number; average: number };
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  '2xx': number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

export interface AutocannonJob {
  mode: 'autocannon';
  url: string;
  path: string;
  /** Events per request, from `series` series; or a fixed body (detect). */
  batch?: { events: number; series: number; seed: number };
  fixedBody?: string;
  /** Requests per second over all connections; 0 = as fast as possible. */
  rate: number;
  connections: number;
  durationSec: number;
}

export interface AutocannonReport {
  requests: number;
  requestsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  errors: number;
  non2xx: number;
  durationSec: number;
}

export interface LiveJob {
  mode: 'live';
  url: string;
  /** Series 0..spikeSeries-1 spike once each; series spikeSeries.. are background. */
  spikeSeries: number;
  backgroundSeries: number;
  eventsPerSec: number;
  spikeFactor: number;
  windowMs: number;
  warmupWindows: number;
  /** Spike windows start this many windows apart. */
  spikeEvery: number;
  tickMs: number;
  pollMs: number;
  seriesOffset: number;
}

export interface LiveReport {
  /** Per anomaly seen in the API: window end (epoch ms) and when it was first seen there / in /metrics. */
  anomalies: { id: string; series: string; end: number; apiSeenAt: number; metricsSeenAt: number | null }[];
  spikes: { series: number; windowStart: number }[];
  eventsSent: number;
  requests: number;
  failedRequests: number;
}

async function runAutocannon(job: AutocannonJob): Promise<AutocannonReport> {
  const autocannon = require('autocannon') as Autocannon;
  const gen = new TrafficGenerator(job.batch?.seed ?? 1);
  const body = () => {
    const b = job.batch!;
    const now = Date.now();
    return JSON.stringify(gen.batch(b.events, b.series, now - 200, now));
  };
  const r = await autocannon({
    url: job.url + job.path,
    connections: job.connections,
    duration: job.durationSec,
    ...(job.rate > 0 ? { overallRate: job.rate } : {}),
    requests: [
      {
        method: 'POST',
        path: job.path,
        headers: { 'content-type': 'application/json' },
        ...(job.fixedBody ? { body: job.fixedBody } : { setupRequest: (req: Record<string, unknown>) => ({ ...req, body: body() }) }),
      },
    ],
  });
  return {
    requests: r.requests.total,
    requestsPerSec: r.requests.total / r.duration,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    maxMs: r.latency.max,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    durationSec: r.duration,
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function runLive(job: LiveJob): Promise<LiveReport> {
  const gen = new TrafficGenerator(5);
  const W = job.windowMs;
  const t0 = Math.ceil(Date.now() / W) * W + W;
  await sleep(t0 - Date.now());
  const spikes = Array.from({ length: job.spikeSeries }, (_, s) => ({ series: job.seriesOffset + s, windowStart: t0 + (job.warmupWindows + s * job.spikeEvery) * W }));
  const endAt = spikes[spikes.length - 1].windowStart + 6 * W;
  const report: LiveReport = { anomalies: [], spikes, eventsSent: 0, requests: 0, failedRequests: 0 };
  const seen = new Map<string, LiveReport['anomalies'][number]>();
  let detected = 0;
  let stop = false;
  const carry = new Float64Array(job.spikeSeries + job.backgroundSeries);

  const sender = (async () => {
    let last = Date.now();
    while (Date.now() < endAt) {
      await sleep(job.tickMs);
      const now = Date.now();
      const events: RawEvent[] = [];
      for (let i = 0; i < carry.length; i++) {
        const series = job.seriesOffset + i;
        const windowStart = Math.floor(now / W) * W;
        const spiking = i < job.spikeSeries && spikes[i].windowStart === windowStart;
        carry[i] += ((now - last) / 1000) * job.eventsPerSec * (spiking ? job.spikeFactor : 1);
        while (carry[i] >= 1) {
          carry[i]--;
          events.push(gen.event(series, now - Math.floor(gen.random() * Math.min(job.tickMs, now - windowStart + 1))));
        }
      }
      last = now;
      if (!events.length) continue;
      report.requests++;
      report.eventsSent += events.length;
      try {
        const res = await fetch(job.url + '/api/v1/events', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
        if (res.status >= 300) report.failedRequests++;
        await res.arrayBuffer();
      } catch {
        report.failedRequests++;
      }
    }
  })();

  const poller = (async () => {
    const from = new Date(t0).toISOString();
    while (!stop) {
      await sleep(job.pollMs);
      try {
        const [list, metrics] = await Promise.all([
          fetch(`${job.url}/api/v1/anomalies?from=${encodeURIComponent(from)}&limit=1000`).then((r) => r.json() as Promise<{ items: { id: string; seriesKey: string; start: string }[] }>),
          fetch(`${job.url}/metrics`).then((r) => r.text()),
        ]);
        const at = Date.now();
        for (const a of list.items) {
          if (!seen.has(a.id)) seen.set(a.id, { id: a.id, series: a.seriesKey, end: Date.parse(a.start) + W, apiSeenAt: at, metricsSeenAt: null });
        }
        detected = 0;
        for (const m of metrics.matchAll(/^sentinel_anomalies_detected_total\{[^}]*\} (\S+)$/gm)) detected += Number(m[1]);
        // The k-th anomaly (in API order of appearance) is in /metrics once the counter reaches k.
        const inOrder = [...seen.values()].sort((a, b) => a.apiSeenAt - b.apiSeenAt || a.end - b.end);
        inOrder.forEach((a, k) => {
          if (a.metricsSeenAt === null && detected >= k + 1) a.metricsSeenAt = at;
        });
      } catch {
        // The server may be busy; the next poll tells.
      }
    }
  })();

  await sender;
  await sleep(3 * W);
  stop = true;
  await poller;
  report.anomalies = [...seen.values()];
  return report;
}

process.once('message', (job: AutocannonJob | LiveJob) => {
  const run = job.mode === 'autocannon' ? runAutocannon(job) : runLive(job);
  run.then(
    (result) => process.send!({ ok: true, result }, () => process.exit(0)),
    (err: unknown) => process.send!({ ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }, () => process.exit(1)),
  );
});
