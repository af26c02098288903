import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LlmEvent } from '../domain/types';

/** ../shared/data beside the repository (override with SENTINEL_SHARED_DATA). */
export function sharedDataDir(env: Record<string, string | undefined> = process.env): string {
  return env.SENTINEL_SHARED_DATA ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../../shared/data');
}

/** Seeded PRNG (mulberry32): the demo and tests are reproducible. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One request of the Azure LLM inference trace (Patel et al., Splitwise, ISCA 2024; CC-BY 4.0). */
export interface TraceRequest {
  offsetMs: number;
  contextTokens: number;
  generatedTokens: number;
}

/** Reads `code.csv` or `conv.csv`; offsets are relative to the first request. */
export function readAzureTrace(file: 'code.csv' | 'conv.csv', dir = sharedDataDir()): TraceRequest[] {
  const path = resolve(dir, 'azure-llm-trace', file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    throw new Error(`the Azure LLM trace is not at ${path}: put the shared data beside the repository (../shared/data) or set SENTINEL_SHARED_DATA to its folder`);
  }
  const lines = text.trim().split('\n').slice(1);
  const out: TraceRequest[] = [];
  let t0 = NaN;
  for (const line of lines) {
    const [ts, ctx, gen] = line.split(',');
    const t = Date.parse(ts.trim().replace(' ', 'T').slice(0, 23) + 'Z');
    if (Number.isNaN(t0)) t0 = t;
    out.push({ offsetMs: t - t0, contextTokens: Number(ctx), generatedTokens: Number(gen) });
  }
  return out;
}

/** A service fed by one trace file. */
export interface ServiceSpec {
  service: string;
  model: string;
  provider: string;
  file: 'code.csv' | 'conv.csv';
  /** USD per 1k input / output tokens. */
  price: [number, number];
}

export const DEMO_SERVICES: ServiceSpec[] = [
  { service: 'chat-assistant', model: 'gpt-4o', provider: 'azure.openai', file: 'conv.csv', price: [0.0025, 0.01] },
  { service: 'code-copilot', model: 'gpt-4o-mini', provider: 'azure.openai', file: 'code.csv', price: [0.00015, 0.0006] },
];

/**
 * Realistic events from the real trace: its request times and token counts, plus what the trace lacks,
 * drawn from seeded distributions: latency (prefill + decode time per token, log-normal noise), time to
 * first token, a 0.3% background error rate, cache hits, and users / API keys with a skewed (Zipf-like)
 * activity.
 */
export function traceEvents(spec: ServiceSpec, startMs: number, seed: number, dir?: string): LlmEvent[] {
  const r = rng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  const users = 200;
  return readAzureTrace(spec.file, dir).map((q) => {
    const u = Math.floor(users * Math.pow(r(), 2.5));
    const ttft = (120 + 0.04 * q.contextTokens) * Math.exp(0.25 * gauss());
    const latency = ttft + q.generatedTokens * 22 * Math.exp(0.2 * gauss());
    const error = r() < 0.003;
    return {
      timestamp: startMs + q.offsetMs,
      service: spec.service,
      model: spec.model,
      provider: spec.provider,
      user: `user-${u}`,
      apiKeyId: `key-${u}`,
      route: '/v1/chat/completions',
      inputTokens: q.contextTokens,
      outputTokens: error ? 0 : q.generatedTokens,
      latencyMs: Math.round(latency),
      ttftMs: Math.round(ttft),
      status: error ? 'error' : 'ok',
      ...(error ? { errorType: 'timeout' } : {}),
      costUsd: (q.contextTokens * spec.price[0] + (error ? 0 : q.generatedTokens) * spec.price[1]) / 1000,
      cacheHit: r() < 0.2,
    } satisfies LlmEvent;
  });
}

/** An injected incident: what it is, where and when (minutes after the trace start). */
export interface Incident {
  name: string;
  type: string;
  service: string;
  startMin: number;
  minutes: number;
  apply(events: LlmEvent[], from: number, to: number, r: () => number): LlmEvent[];
}

const inRange = (e: LlmEvent, from: number, to: number) => e.timestamp >= from && e.timestamp < to;

/** The five incidents of the demo (ISSUE 2): token abuse, burst, latency regression, error burst, jailbreaks. */
export const DEMO_INCIDENTS: Incident[] = [
  {
    name: 'token abuse by one leaked key',
    type: 'token_abuse',
    service: 'chat-assistant',
    startMin: 24,
    minutes: 4,
    apply(events, from, to, r) {
      const extra: LlmEvent[] = [];
      const tmpl = events.find((e) => e.service === this.service)!;
      for (let t = from; t < to; t += 1500) {
        extra.push({ ...tmpl, timestamp: t + Math.floor(r() * 1000), user: 'user-leak', apiKeyId: 'key-leaked-7f3a', inputTokens: 7000 + Math.floor(r() * 2000), outputTokens: 1500 + Math.floor(r() * 500), latencyMs: 9000, ttftMs: 400, costUsd: 0.04, status: 'ok', cacheHit: false });
      }
      return events.concat(extra);
    },
  },
  {
    name: '10x request burst',
    type: 'traffic_spike',
    service: 'code-copilot',
    startMin: 30,
    minutes: 3,
    apply(events, from, to, r) {
      const extra: LlmEvent[] = [];
      for (const e of events) {
        if (e.service !== this.service || !inRange(e, from, to)) continue;
        for (let k = 0; k < 9; k++) extra.push({ ...e, timestamp: Math.min(to - 1, e.timestamp + Math.floor(r() * 2000)) });
      }
      return events.concat(extra);
    },
  },
  {
    name: 'latency regression',
    type: 'latency_spike',
    service: 'chat-assistant',
    startMin: 40,
    minutes: 5,
    apply(events, from, to) {
      return events.map((e) => (e.service === this.service && inRange(e, from, to) ? { ...e, latencyMs: (e.latencyMs ?? 0) * 4 + 1500, ttftMs: (e.ttftMs ?? 0) * 4 } : e));
    },
  },
  {
    name: 'error burst',
    type: 'error_rate',
    service: 'code-copilot',
    startMin: 36,
    minutes: 3,
    apply(events, from, to, r) {
      return events.map((e) =>
        e.service === this.service && inRange(e, from, to) && r() < 0.4
          ? { ...e, status: 'error' as const, errorType: r() < 0.5 ? 'rate_limit' : 'upstream_503', outputTokens: 0, latencyMs: 150 }
          : e,
      );
    },
  },
  {
    name: 'jailbreak burst',
    type: 'security_pattern',
    service: 'chat-assistant',
    startMin: 50,
    minutes: 2,
    apply(events, from, to, r) {
      const tmpl = events.find((e) => e.service === this.service)!;
      const extra: LlmEvent[] = [];
      for (let i = 0; i < 40; i++) {
        extra.push({ ...tmpl, timestamp: from + Math.floor(r() * (to - from)), user: 'user-probe', apiKeyId: 'key-133', securityEvents: r() < 0.7 ? ['jailbreak'] : ['prompt_injection', 'jailbreak'], inputTokens: 900, outputTokens: 60 });
      }
      return events.concat(extra);
    },
  },
];

/** The demo traffic: both services on the real trace, with `incidents` injected, sorted by time. */
export function demoTraffic(startMs: number, incidents: readonly Incident[], seed = 42, dir?: string): LlmEvent[] {
  let events = DEMO_SERVICES.flatMap((s, i) => traceEvents(s, startMs, seed + i, dir));
  const r = rng(seed + 100);
  for (const inc of incidents) {
    const from = startMs + inc.startMin * 60_000;
    events = inc.apply(events, from, from + inc.minutes * 60_000, r);
  }
  return events.sort((a, b) => a.timestamp - b.timestamp);
}
