/**
 * Benchmark traffic: request shapes from the real Azure LLM trace (token counts, plus the demo's seeded
 * latency / error / cache / user model), spread over many series, as the JSON a client would POST
 * (timestamps as ISO 8601 strings, as the event contract's first form).
 */
import { DEMO_SERVICES, rng, traceEvents } from '../../src/demo/traffic';
import type { LlmEvent } from '../../src/domain/types';

/** One event as sent over HTTP (before validation). */
export type RawEvent = Record<string, unknown>;

/** Labels of benchmark series i: 100 services x as many models as needed (series key = service, model). */
export function seriesLabels(i: number): { service: string; model: string } {
  return { service: `svc-${i % 100}`, model: `model-${Math.floor(i / 100)}` };
}

/** Series key of benchmark series i under the default key dimensions (service, model). */
export const seriesKeyOf = (i: number) => {
  const { service, model } = seriesLabels(i);
  return `service=${service}|model=${model}`;
};

/** Generates raw events from the trace's request shapes, deterministically for a seed. */
export class TrafficGenerator {
  private readonly pool: LlmEvent[];
  private readonly r: () => number;
  private next = 0;

  constructor(seed = 42) {
    // Both trace files (about 28k requests): enough distinct shapes that windows look like the trace.
    this.pool = DEMO_SERVICES.flatMap((s, i) => traceEvents(s, 0, seed + i));
    this.r = rng(seed + 7);
  }

  /** A request of the trace as a raw event of `series` at `timestampMs`. */
  event(series: number, timestampMs: number): RawEvent {
    const t = this.pool[this.next++ % this.pool.length];
    const { service, model } = seriesLabels(series);
    const e: RawEvent = {
      timestamp: new Date(timestampMs).toISOString(),
      service,
      model,
      provider: t.provider,
      user: t.user,
      apiKeyId: t.apiKeyId,
      route: t.route,
      inputTokens: t.inputTokens,
      outputTokens: t.outputTokens,
      latencyMs: t.latencyMs,
      ttftMs: t.ttftMs,
      status: t.status,
      costUsd: t.costUsd,
      cacheHit: t.cacheHit,
    };
    if (t.errorType) e.errorType = t.errorType;
    return e;
  }

  /** `n` events of random series in [0, seriesCount), times uniform in [fromMs, toMs), time-ordered. */
  batch(n: number, seriesCount: number, fromMs: number, toMs: number): RawEvent[] {
    const times = new Float64Array(n);
    for (let i = 0; i < n; i++) times[i] = Math.floor(fromMs + this.r() * (toMs - fromMs));
    times.sort();
    const out: RawEvent[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.event(Math.floor(this.r() * seriesCount), times[i]);
    return out;
  }

  /** A uniform random number in [0, 1) from the generator's seeded stream. */
  random(): number {
    return this.r();
  }
}
