/**
 * Realistic event traffic for detection tests: the Azure LLM inference trace (its real request times and
 * token counts) with the demo's seeded latencies, TTFT, background errors, users and cost
 * (demo/traffic.ts traceEvents), looped to any length and, for a quiet series, thinned. Reads the trace from
 * ../shared/data (see sharedDataDir); nothing is copied into the repository.
 */
import { DEMO_SERVICES, rng, traceEvents } from '../src/demo/traffic';
import type { LlmEvent } from '../src/domain/types';

export const MINUTE = 60_000;

/** What {@link traceTraffic} generates. */
export interface TraceTrafficOptions {
  /** code.csv (~150 requests a minute; service code-copilot) or conv.csv (~330; chat-assistant). */
  file: 'code.csv' | 'conv.csv';
  start: number;
  minutes: number;
  /** Thin to about this many requests a minute (each request kept with the same seeded chance). */
  perMinute?: number;
  seed: number;
}

/**
 * `minutes` of one service's traffic from `start`, sorted by time: the trace (about 57 minutes) replayed
 * back to back, each loop with its own seed, cut at the end.
 */
export function traceTraffic(o: TraceTrafficOptions): LlmEvent[] {
  const spec = DEMO_SERVICES.find((s) => s.file === o.file)!;
  const end = o.start + o.minutes * MINUTE;
  const keepRandom = rng(o.seed * 7919 + 17);
  const out: LlmEvent[] = [];
  for (let loop = 0, t = o.start; t < end; loop++) {
    const events = traceEvents(spec, t, o.seed * 1000 + loop);
    const span = events[events.length - 1].timestamp - t + 1000;
    const keep = o.perMinute === undefined ? 1 : o.perMinute / (events.length / (span / MINUTE));
    for (const e of events) if (e.timestamp < end && (keep >= 1 || keepRandom() < keep)) out.push(e);
    t += span;
  }
  return out.sort((a, b) => a.timestamp - b.timestamp);
}

/** Events of `events` in minutes [from, to) after `start`. */
export const inMinutes = (e: LlmEvent, start: number, from: number, to: number) => e.timestamp >= start + from * MINUTE && e.timestamp < start + to * MINUTE;
