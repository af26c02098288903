/**
 * Seeds the backend through its API: steady traffic for two services, then a latency spike on
 * chat/gpt-4o, then a few more normal minutes so the event-time windows after the spike close.
 * Deterministic (seeded), timestamps in the past.
 */

const MINUTE = 60_000;

/** Timeline of the seeded data. */
export interface SeedPlan {
  /** First minute (epoch ms, minute-aligned). */
  start: number;
  /** End of the last minute. */
  end: number;
  /** Spike start and end (epoch ms). */
  spikeStart: number;
  spikeEnd: number;
}

/** Minutes of normal traffic before the spike: past the backend's 20-window warm-up. */
const NORMAL_MINUTES = 40;
const SPIKE_MINUTES = 3;
const AFTER_MINUTES = 7;
const EVENTS_PER_MINUTE = 20;

/** Events for the plan: every 3 s per service; latency ~800-950 ms, ~5-5.6 s during the spike. */
export function seedEvents(now = Date.now(), seed = 42): { plan: SeedPlan; events: Array<Record<string, unknown>> } {
  let state = seed >>> 0;
  const rnd = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const total = NORMAL_MINUTES + SPIKE_MINUTES + AFTER_MINUTES;
  const start = Math.floor((now - (total + 15) * MINUTE) / MINUTE) * MINUTE;
  const plan: SeedPlan = {
    start,
    end: start + total * MINUTE,
    spikeStart: start + NORMAL_MINUTES * MINUTE,
    spikeEnd: start + (NORMAL_MINUTES + SPIKE_MINUTES) * MINUTE,
  };
  const events: Array<Record<string, unknown>> = [];
  for (let m = 0; m < total; m++) {
    const spike = m >= NORMAL_MINUTES && m < NORMAL_MINUTES + SPIKE_MINUTES;
    for (let k = 0; k < EVENTS_PER_MINUTE; k++) {
      const timestamp = new Date(start + m * MINUTE + k * (MINUTE / EVENTS_PER_MINUTE)).toISOString();
      events.push({
        timestamp,
        service: 'chat',
        model: 'gpt-4o',
        inputTokens: 500 + Math.round(rnd() * 100),
        outputTokens: 300 + Math.round(rnd() * 60),
        latencyMs: spike ? 5000 + Math.round(rnd() * 600) : 800 + Math.round(rnd() * 150),
        status: 'ok',
        costUsd: Number((0.004 + rnd() * 0.001).toFixed(6)),
      });
      events.push({
        timestamp,
        service: 'search',
        model: 'gpt-4o-mini',
        inputTokens: 200 + Math.round(rnd() * 40),
        outputTokens: 80 + Math.round(rnd() * 20),
        latencyMs: 300 + Math.round(rnd() * 60),
        status: 'ok',
        costUsd: Number((0.0004 + rnd() * 0.0001).toFixed(6)),
      });
    }
  }
  return { plan, events };
}

/** Posts the events and waits until the backend lists an anomaly; returns the plan. */
export async function seedBackend(backendUrl: string, apiKey: string, timeoutMs = 60_000): Promise<SeedPlan> {
  const { plan, events } = seedEvents();
  const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${apiKey}` };
  const res = await fetch(`${backendUrl}/api/v1/events`, { method: 'POST', headers, body: JSON.stringify(events) });
  const body = await res.text();
  if (res.status !== 202) {
    throw new Error(`POST /api/v1/events answered ${res.status}: ${body.slice(0, 500)}`);
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const list = (await (await fetch(`${backendUrl}/api/v1/anomalies`, { headers })).json()) as { items?: unknown[] };
    if (list.items?.length) {
      return plan;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no anomaly listed by ${backendUrl}/api/v1/anomalies within ${timeoutMs} ms after seeding`);
}
