import type { Severity } from '../domain/types';
import { checkAnswer, postJson, urlSecrets } from './http-post';
import type { AlertMessage, AlertSink } from './sink';
import { cutCodePoints } from './truncate';
import type { UrlGuard } from './url-guard';

const PD_SEVERITY: Record<Severity, 'critical' | 'error' | 'warning' | 'info'> = { critical: 'critical', high: 'error', medium: 'warning', low: 'info' };

/**
 * The PagerDuty Events API v2 body. Opened and escalated trigger (an escalation updates the same PagerDuty
 * alert, since the dedup key is the anomaly id); resolved resolves it. Pure.
 */
export function pagerDutyEvent(routingKey: string, m: AlertMessage): Record<string, unknown> {
  const p = m.payload;
  if (m.event === 'resolved') return { routing_key: routingKey, event_action: 'resolve', dedup_key: p.alert_id };
  const service = p.affected_services[0] ?? 'llm-sentinel';
  return {
    routing_key: routingKey,
    event_action: 'trigger',
    dedup_key: p.alert_id,
    client: 'LLM-Sentinel',
    payload: {
      summary: cutCodePoints(`[${p.severity}] ${p.summary}`, 1024),
      source: service,
      severity: PD_SEVERITY[p.severity],
      timestamp: p.timestamp,
      component: p.context.model_version ?? undefined,
      group: service,
      class: p.anomaly_type,
      custom_details: p,
    },
  };
}

/** PagerDuty Events v2 (the routing key is a secret: never logged). */
export class PagerDutySink implements AlertSink {
  readonly kind = 'pagerduty';
  readonly name: string;
  private readonly url: URL;

  constructor(private readonly opts: { routingKey: string; url: string; guard: UrlGuard; timeoutMs?: number }) {
    this.url = new URL(opts.url);
    this.name = `pagerduty ${this.url.host}`;
    opts.guard.assertAllowed(this.url);
  }

  async send(m: AlertMessage, signal: AbortSignal): Promise<void> {
    const body = JSON.stringify(pagerDutyEvent(this.opts.routingKey, m));
    const answer = await postJson(this.url, body, {}, { guard: this.opts.guard, timeoutMs: this.opts.timeoutMs, signal });
    checkAnswer(this.name, answer, [this.opts.routingKey, ...urlSecrets(this.url)]);
  }
}
