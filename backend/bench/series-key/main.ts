/**
 * False alerts by series key: replays clean traffic (both Azure traces at full rate, the demo's latency,
 * error and user model; backend/test/trace-traffic.ts) through the pipeline once per SENTINEL_SERIES_KEY and
 * prints the anomaly records each opened, by severity and lead feature. Nothing is injected, so every
 * record is a false alert. It measures the known limit of a series per API key or user
 * (docs/DETECTION.md section 1): most such series are sparse, and their baselines are not made for that.
 *
 *   npm run bench:series-key [-- --minutes 80] [-- --keys "service,model;service,model,apiKeyId"]
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config';
import type { LlmEvent } from '../../src/domain/types';
import { createLogger } from '../../src/logger';
import { Pipeline } from '../../src/pipeline/pipeline';
import { SqliteStore } from '../../src/store/sqlite-store';
import { MINUTE, traceTraffic } from '../../test/trace-traffic';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '80' }, keys: { type: 'string', default: 'service,model;service,model,apiKeyId;service,model,user' } } });
const minutes = Number(values.minutes);
const T0 = Date.UTC(2026, 2, 2, 6);

const events = (['conv.csv', 'code.csv'] as const).flatMap((file, i) => traceTraffic({ file, start: T0, minutes, seed: 5 + i }));
const byMinute = new Map<number, LlmEvent[]>();
for (const e of events) {
  const m = Math.floor((e.timestamp - T0) / MINUTE);
  const list = byMinute.get(m);
  if (list) list.push(e);
  else byMinute.set(m, [e]);
}

console.log(`${events.length} events, ${minutes} minutes of clean traffic (both traces, full rate)`);
for (const key of values.keys.split(';')) {
  const started = performance.now();
  const store = new SqliteStore(':memory:');
  await store.init();
  const pipeline = new Pipeline({ config: loadConfig({ SENTINEL_SERIES_KEY: key }, () => {}), store, log: createLogger('silent'), maxFutureMs: Infinity });
  for (let m = 0; m < minutes; m++) {
    pipeline.ingestEvents(byMinute.get(m) ?? []);
    await pipeline.idle();
  }
  pipeline.endOfInput();
  await pipeline.idle();
  const records = (await store.listAnomalies({ limit: 100_000 })).items;
  const count = (f: (r: (typeof records)[number]) => string) => {
    const out: Record<string, number> = {};
    for (const r of records) out[f(r)] = (out[f(r)] ?? 0) + 1;
    return Object.entries(out).sort((a, b) => b[1] - a[1]);
  };
  const series = pipeline.scorer.states.size;
  await store.close();
  console.log(`\n${key}: ${series} series, ${records.length} records (${Math.round(performance.now() - started)} ms)`);
  console.log(`  by severity: ${count((r) => r.severity).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  console.log(`  by lead feature: ${count((r) => r.attributions[0]?.feature ?? r.type).slice(0, 8).map(([k, n]) => `${k} ${n}`).join(', ')}`);
}
