import type { AnomalyRecord, Severity } from '../domain/types';
import type { Logger } from '../logger';
import type { SentinelMetrics } from '../metrics';
import type { AnomalyListener } from '../pipeline/pipeline';
import type { DeadLetterStore } from './dead-letter';
import { redactSecrets } from '../explain/redact';
import { DeliveryError } from './errors';
import { buildAlertPayload, recordFromPayload, SEVERITY_RANK, type AlertEvent, type AlertPayload } from './payload';
import type { AlertMessage, AlertSink } from './sink';

/** Retry policy of one alert on one sink. */
export interface RetryPolicy {
  /** Attempts in all (first + retries). @default 10 */
  maxAttempts: number;
  /** Delay before the first retry; doubles per attempt. @default 1000 */
  baseDelayMs: number;
  /** Cap of one delay (a receiver's Retry-After is honoured up to it). @default 60000 */
  maxDelayMs: number;
}

/** Options of {@link AlertDispatcher}. */
export interface DispatcherOptions {
  sinks: AlertSink[];
  deadLetters: DeadLetterStore;
  log: Logger;
  metrics?: SentinelMetrics;
  retry?: Partial<RetryPolicy>;
  /** After an alerted incident of a series resolves, new incidents of that series stay quiet this long unless more severe. @default 300000 */
  cooldownMs?: number;
  /** Incidents below this severity send nothing (until they escalate to it). @default "low" */
  minSeverity?: Severity;
  /** Deliveries pending per sink (in flight or waiting to retry) at most; beyond, its new alerts are dead-lettered. @default 1000 */
  maxPending?: number;
  /** How long close() waits for pending deliveries before dead-lettering them. @default 10000 */
  flushTimeoutMs?: number;
  /** @default Date.now */
  now?: () => number;
  /** @default Math.random (tests pin the jitter) */
  random?: () => number;
}

/** Alert state of one incident. */
interface IncidentAlertState {
  seriesKey: string;
  /** Highest severity an alert went out with; null while nothing was sent (suppressed so far). */
  alerted: Severity | null;
}

/**
 * What the dispatcher must remember across a restart (JSON-safe): which open incidents were alerted, at
 * which severity, and the flapping cooldowns still running. Without it, an incident alerted before a deploy
 * that resolves after it sends no "resolved" (the receiver's incident stays open), and its next update sends
 * a second "opened".
 */
export interface DispatcherMemory {
  incidents: [anomalyId: string, state: IncidentAlertState][];
  cooldowns: [seriesKey: string, cooldown: { until: number; severity: Severity }][];
  /** Alerts not delivered yet, per sink (by name), oldest first (absent in memory saved before it). */
  outbox?: { sink: string; event: AlertEvent; payload: AlertMessage['payload']; record: AnomalyRecord }[];
}

/** A dead-lettered alert handed back for delivery (see {@link AlertDispatcher.resend}). */
export interface Resend {
  /** Name of the sink it failed on (`webhook <host>`, ...), as the dead letter records it. */
  sink: string;
  event: AlertEvent;
  payload: AlertPayload;
}

/**
 * What became of one {@link Resend}: `resent` queued for delivery; `sink_not_configured` no configured sink
 * has that name any more; `busy` the sink has `maxPending` deliveries pending already; `shutting_down`.
 */
export type ResendOutcome = 'resent' | 'sink_not_configured' | 'busy' | 'shutting_down';

/** How a delivery ended: delivered, dead-lettered, or kept in the outbox for the next start (shutdown). */
type Outcome = 'delivered' | 'dead' | 'kept';

const MAX_TRACKED = 10_000;

/**
 * Turns incident changes into alerts and delivers them to every sink, off the pipeline's hot path.
 *
 * Policy (one incident = one anomaly id):
 * - opened -> one "opened" alert, unless below the minimum severity, or its series had an alerted incident
 *   resolve less than `cooldownMs` ago and this one is not more severe (flapping).
 * - updated -> nothing, unless severity rose above what was alerted ("escalated", same alert_id) or a
 *   suppressed incident now reaches the minimum severity (then it sends its "opened").
 * - resolved -> one "resolved" alert if the incident was alerted, else nothing.
 *
 * Delivery: per sink, alerts of one incident go in order (a resolve never overtakes its open); each is
 * retried with exponential backoff and equal jitter (delay d = base * 2^(n-1), capped, slept as d/2 + rand
 * * d/2; a receiver's Retry-After is honoured up to the cap); permanent failures (4xx, refused target) and
 * exhausted retries go to the dead-letter store.
 */
export class AlertDispatcher {
  private readonly incidents = new Map<string, IncidentAlertState>();
  private readonly cooldowns = new Map<string, { until: number; severity: Severity }>();
  private readonly chains = new Map<string, Promise<void>>();
  private readonly pending = new Set<Promise<void>>();
  /** Deliveries pending per sink (name), against maxPending. */
  private readonly pendingBySink = new Map<string, number>();
  /** Alerts decided and not yet delivered or dead-lettered, in order (see {@link persistent}). */
  private readonly outbox = new Map<number, { sink: string; message: AlertMessage }>();
  private outboxSeq = 0;
  /**
   * The memory is saved (state saving on): alerts not delivered at shutdown stay in the outbox for the next
   * start instead of going to the dead-letter store, and a crash loses none that was saved (at least once:
   * one delivered just before a crash may go again, with the same event id).
   */
  persistent = false;
  private readonly abort = new AbortController();
  private readonly retry: RetryPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private closing = false;
  /**
   * Called after every decision that changed what {@link memory} returns in a way a restart must not lose (an
   * incident alerted, escalated or resolved): the app writes the memory through to disk then.
   */
  onMemoryChange: (() => void) | null = null;
  /**
   * Writes {@link memory} to disk now, throwing when it cannot (set with onMemoryChange when the memory is
   * saved). {@link resend} calls it so that an alert taken out of the dead-letter file is in the saved outbox
   * before the file forgets it.
   */
  saveMemory: (() => void) | null = null;

  constructor(private readonly opts: DispatcherOptions) {
    this.retry = { maxAttempts: 10, baseDelayMs: 1000, maxDelayMs: 60_000, ...opts.retry };
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  /** The pipeline listener: decides synchronously and returns at once; deliveries run in the background. */
  readonly listener: AnomalyListener = (event, record) => {
    if (this.closing) return;
    const alert = this.decide(event, record);
    if (alert) {
      this.dispatch(alert, record);
      this.onMemoryChange?.();
    }
  };

  /** Applies the grouping / cooldown / escalation policy; returns the alert to send, if any. */
  decide(event: 'opened' | 'updated' | 'resolved', record: AnomalyRecord): AlertEvent | null {
    const min = this.opts.minSeverity ?? 'low';
    const rank = (s: Severity) => SEVERITY_RANK[s];
    let st = this.incidents.get(record.id);
    if (event === 'resolved') {
      this.incidents.delete(record.id);
      if (!st?.alerted) return this.suppress('not_alerted');
      // An incident resolved because a restart lost its series' state (state_lost) did not end: the problem
      // may still be going on, and its next page must not wait out a flapping cooldown (QA: 5 minutes late
      // after a kill -9).
      if (record.resolution !== 'state_lost') {
        const key = cooldownKey(record);
        this.cooldowns.delete(key);
        this.cooldowns.set(key, { until: this.now() + (this.opts.cooldownMs ?? 300_000), severity: st.alerted });
        this.bound(this.cooldowns);
      }
      return 'resolved';
    }
    if (!st) {
      // Unknown id on 'updated' (attached mid-incident): treat like an open so it is never missed.
      st = { seriesKey: record.seriesKey, alerted: null };
      this.incidents.set(record.id, st);
      this.bound(this.incidents);
    }
    if (st.alerted) {
      if (rank(record.severity) < rank(st.alerted)) {
        st.alerted = record.severity;
        return 'escalated';
      }
      return this.suppress('update');
    }
    if (rank(record.severity) > rank(min)) return this.suppress('below_min_severity');
    const cd = this.cooldowns.get(cooldownKey(record));
    if (cd && this.now() < cd.until && rank(record.severity) >= rank(cd.severity)) return this.suppress('cooldown');
    st.alerted = record.severity;
    return 'opened';
  }

  /** Queues one alert on every sink. */
  private dispatch(event: AlertEvent, record: AnomalyRecord): void {
    const message: AlertMessage = { event, payload: buildAlertPayload(record, event, this.now()), record };
    for (const sink of this.opts.sinks) {
      // Per sink: one failing receiver retrying its backlog must not make healthy ones drop pages (QA: a
      // webhook answering 500 in an alert storm had PagerDuty and Slack drop 70 between them).
      const queued = this.pendingBySink.get(sink.name) ?? 0;
      if (queued >= (this.opts.maxPending ?? 1000)) {
        this.opts.metrics?.alertsSuppressed.inc({ reason: 'overflow' });
        void this.deadLetter(sink, message, 0, 'overflow: too many alerts pending delivery');
        continue;
      }
      this.enqueue(sink, message);
    }
  }

  /** Names of the configured sinks (what dead letters record in `sink`). */
  get sinkNames(): string[] {
    return this.opts.sinks.map((s) => s.name);
  }

  /**
   * Queues dead-lettered alerts again, each on the sink it failed on (by name), through the normal delivery
   * path: the outbox, per-incident order, retries, metrics, and the dead-letter store again if they fail
   * again. A sink at `maxPending` takes none (`busy`): they stay where they are rather than be dead-lettered
   * once more. `saved` is false when the memory is saved to disk but writing it now failed: the alerts are
   * queued, but only in memory, so the caller should keep its copy.
   */
  resend(items: readonly Resend[]): { outcomes: ResendOutcome[]; saved: boolean } {
    const outcomes = items.map((item): ResendOutcome => {
      if (this.closing) return 'shutting_down';
      const sink = this.opts.sinks.find((s) => s.name === item.sink);
      if (!sink) return 'sink_not_configured';
      if ((this.pendingBySink.get(sink.name) ?? 0) >= (this.opts.maxPending ?? 1000)) return 'busy';
      this.enqueue(sink, { event: item.event, payload: item.payload, record: recordFromPayload(item.payload) });
      return 'resent';
    });
    let saved = true;
    if (outcomes.includes('resent')) {
      if (this.saveMemory) {
        try {
          this.saveMemory();
        } catch (err) {
          saved = false;
          this.opts.log.warn({ err }, 'saving the outbox of resent alerts failed; they stay in the dead-letter file too');
          this.onMemoryChange?.();
        }
      } else this.onMemoryChange?.();
    }
    return { outcomes, saved };
  }

  /** Delivers one alert to one sink in the background, in order after the earlier alerts of its incident. */
  private enqueue(sink: AlertSink, message: AlertMessage): void {
    const id = ++this.outboxSeq;
    this.outbox.set(id, { sink: sink.name, message });
    const key = `${sink.name}\u0000${message.record.id}`;
    const prev = this.chains.get(key) ?? Promise.resolve();
    const run = prev.then(async () => {
      const outcome = await this.deliver(sink, message);
      if (outcome === 'kept') return;
      this.outbox.delete(id);
      this.onMemoryChange?.();
    });
    this.chains.set(key, run);
    this.pending.add(run);
    this.pendingBySink.set(sink.name, (this.pendingBySink.get(sink.name) ?? 0) + 1);
    void run.finally(() => {
      this.pending.delete(run);
      this.pendingBySink.set(sink.name, (this.pendingBySink.get(sink.name) ?? 1) - 1);
      if (this.chains.get(key) === run) this.chains.delete(key);
    });
  }

  private async deliver(sink: AlertSink, m: AlertMessage): Promise<Outcome> {
    const kind = sink.kind;
    for (let attempt = 1; ; attempt++) {
      if (this.abort.signal.aborted) return this.stopped(sink, m, attempt - 1);
      try {
        await sink.send(m, this.abort.signal);
        this.opts.metrics?.alertsSent.inc({ sink: kind, outcome: 'delivered' });
        this.opts.log.info({ sink: sink.name, alertId: m.payload.alert_id, event: m.event, attempt }, 'alert delivered');
        return 'delivered';
      } catch (err) {
        const retryable = err instanceof DeliveryError ? err.retryable : true;
        // Logged and dead-lettered as a string: a receiver's answer is quoted in it and may echo a credential.
        const reason = redactSecrets(err instanceof Error ? err.message : String(err));
        this.opts.metrics?.alertsSent.inc({ sink: kind, outcome: 'failed_attempt' });
        if (retryable && this.abort.signal.aborted) return this.stopped(sink, m, attempt);
        if (!retryable || attempt >= this.retry.maxAttempts) {
          this.opts.log.error({ sink: sink.name, alertId: m.payload.alert_id, event: m.event, attempt, err }, 'alert undeliverable; dead-lettered');
          await this.deadLetter(sink, m, attempt, reason);
          return 'dead';
        }
        const delay = this.delay(attempt, err instanceof DeliveryError ? err.retryAfterMs : undefined);
        this.opts.log.warn({ sink: sink.name, alertId: m.payload.alert_id, event: m.event, attempt, delayMs: delay, reason }, 'alert delivery failed; retrying');
        await sleep(delay, this.abort.signal);
      }
    }
  }

  /** Exponential backoff with equal jitter, never below a receiver's Retry-After, capped. */
  delay(attempt: number, retryAfterMs?: number): number {
    const d = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    const jittered = d / 2 + this.random() * (d / 2);
    return Math.round(Math.min(this.retry.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0)));
  }

  /** Shutdown before delivery: kept in the outbox for the next start when the memory is saved, else dead-lettered. */
  private async stopped(sink: AlertSink, m: AlertMessage, attempts: number): Promise<Outcome> {
    if (this.persistent) return 'kept';
    await this.deadLetter(sink, m, attempts, 'shutdown: not delivered before the service stopped');
    return 'dead';
  }

  private async deadLetter(sink: AlertSink, m: AlertMessage, attempts: number, error: string): Promise<void> {
    this.opts.metrics?.alertsSent.inc({ sink: sink.kind, outcome: 'dead_lettered' });
    try {
      await this.opts.deadLetters.append({
        at: new Date(this.now()).toISOString(),
        sink: sink.name,
        alertId: m.payload.alert_id,
        event: m.event,
        attempts,
        error,
        payload: m.payload,
      });
    } catch (err) {
      // Last resort: the log line carries the whole (redacted) payload so the alert is not silently lost.
      this.opts.log.error({ err, sink: sink.name, payload: m.payload }, 'dead-letter store write failed');
    }
  }

  private suppress(reason: string): null {
    this.opts.metrics?.alertsSuppressed.inc({ reason });
    return null;
  }

  /** Ids of the open incidents an alert went out for. */
  alertedIncidents(): string[] {
    return [...this.incidents].filter(([, st]) => st.alerted !== null).map(([id]) => id);
  }

  /** The alert state of open incidents and the running cooldowns, for {@link restore} after a restart. */
  memory(): DispatcherMemory {
    const now = this.now();
    return {
      incidents: [...this.incidents],
      cooldowns: [...this.cooldowns].filter(([, c]) => c.until > now),
      // The record without its embedding: sinks read its labels and explanation, not the vector.
      outbox: [...this.outbox.values()].map(({ sink, message: { event, payload, record } }) => ({ sink, event, payload, record: { ...record, vector: undefined } })),
    };
  }

  /**
   * Takes back what an earlier run remembered (entries this run already has win; malformed entries are
   * skipped). Returns how many incidents came back.
   */
  restore(m: DispatcherMemory): number {
    const isSeverity = (s: unknown): s is Severity => typeof s === 'string' && Object.hasOwn(SEVERITY_RANK, s);
    let n = 0;
    for (const [id, st] of Array.isArray(m?.incidents) ? m.incidents : []) {
      if (typeof id !== 'string' || typeof st?.seriesKey !== 'string' || !(st.alerted === null || isSeverity(st.alerted)) || this.incidents.has(id)) continue;
      this.incidents.set(id, { seriesKey: st.seriesKey, alerted: st.alerted });
      n++;
    }
    for (const [key, c] of Array.isArray(m?.cooldowns) ? m.cooldowns : []) {
      if (typeof key !== 'string' || !Number.isFinite(c?.until) || !isSeverity(c?.severity) || this.cooldowns.has(key)) continue;
      this.cooldowns.set(key, { until: c.until, severity: c.severity });
    }
    this.bound(this.incidents);
    this.bound(this.cooldowns);
    // Alerts the last run decided and did not deliver (a crash, a shutdown during retries): sent now.
    let resent = 0;
    let removed = 0;
    for (const e of Array.isArray(m?.outbox) ? m.outbox : []) {
      if (typeof e?.sink !== 'string' || typeof e.event !== 'string' || typeof e.payload?.alert_id !== 'string' || typeof e.record?.id !== 'string') continue;
      const message: AlertMessage = { event: e.event, payload: e.payload, record: e.record };
      const sink = this.opts.sinks.find((x) => x.name === e.sink);
      if (sink) {
        this.enqueue(sink, message);
        resent++;
      } else {
        void this.deadLetter({ kind: 'removed', name: e.sink, send: async () => {} }, message, 0, 'its sink is no longer configured');
        removed++;
      }
    }
    if (resent || removed) this.opts.log.info({ alerts: resent, deadLettered: removed }, 'alerts not delivered by the last run: sending them now');
    return n;
  }

  private bound(m: Map<string, unknown>): void {
    while (m.size > MAX_TRACKED) m.delete(m.keys().next().value as string);
  }

  /** Deliveries in flight or waiting to retry. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Resolves when every delivery queued so far has ended (delivered or dead-lettered). */
  async idle(): Promise<void> {
    while (this.pending.size) await Promise.allSettled([...this.pending]);
  }

  /**
   * Stops taking alerts, waits up to `flushTimeoutMs` for pending deliveries, then cancels the rest (kept in
   * the outbox when {@link persistent}, else dead-lettered with reason "shutdown") and closes the sinks.
   */
  async close(): Promise<void> {
    this.closing = true;
    const timeout = this.opts.flushTimeoutMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.idle(), new Promise<void>((r) => (timer = setTimeout(r, timeout)))]);
    clearTimeout(timer);
    this.abort.abort();
    await this.idle();
    if (this.persistent && this.outbox.size) {
      const sinks = [...new Set([...this.outbox.values()].map((e) => e.sink))];
      this.opts.log.warn({ alerts: this.outbox.size, sinks }, 'alerts not delivered before the shutdown; kept for the next start, which sends them');
    }
    for (const s of this.opts.sinks) {
      try {
        await s.close?.();
      } catch (err) {
        this.opts.log.warn({ err, sink: s.name }, 'closing an alert sink failed');
      }
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

/**
 * Flapping is the same problem coming back: the cooldown is per series, anomaly type AND direction of the
 * feature that moved most. Per series alone, a latency incident that had just resolved silenced the demo's
 * critical jailbreak burst on that series; without the direction, a total traffic stop right after a
 * traffic burst (both typed traffic_spike) paged only when the burst's cooldown ran out (QA: 4 minutes late).
 */
function cooldownKey(record: Pick<AnomalyRecord, 'seriesKey' | 'type' | 'attributions'>): string {
  const z = record.attributions?.[0]?.z ?? 0;
  return `${record.seriesKey}\u0000${record.type}\u0000${z < 0 ? 'down' : 'up'}`;
}
