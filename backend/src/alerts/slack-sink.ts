import { checkAnswer, postJson, urlSecrets } from './http-post';
import type { AlertMessage, AlertSink } from './sink';
import { cutCodePoints } from './truncate';
import type { UrlGuard } from './url-guard';

const ICON = { critical: ':red_circle:', high: ':large_orange_circle:', medium: ':large_yellow_circle:', low: ':white_circle:' } as const;

/** Slack wants only &, < and > escaped in text; everything else is literal. */
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

const ENTITY: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };

/**
 * `esc(s)` cut to at most `max` characters (Slack's limit counts the escaped text) without breaking an
 * entity or a surrogate pair: cutting the escaped text could end in `&a` (QA), cutting before escaping
 * could exceed the limit.
 */
function escCut(s: string, max: number): string {
  let out = '';
  for (const ch of s) {
    const e = ENTITY[ch] ?? ch;
    if (out.length + e.length > max) break;
    out += e;
  }
  return out;
}

/** Header of a resolve, by its resolution: only `recovered` (or none recorded) reads as a recovery. */
const RESOLVED_HEAD: Record<string, string> = {
  stale: ':grey_question: Resolved (stopped reporting)',
  // The service restarted without this incident's saved state: it stopped following it, nothing showed it ended.
  state_lost: ':warning: Closed after a restart (may still be going on)',
};

/** Said under the header of a state_lost resolve, which the header alone cannot explain in 150 characters. */
const STATE_LOST_NOTE =
  "The service restarted without this incident's saved state, so it closed the incident instead of following it. " +
  'The problem may still be going on: if it is, a new incident opens and alerts once the series has enough history again.';

/** The Slack incoming-webhook body (Block Kit, with `text` as the notification fallback). Pure. */
export function slackMessage(m: AlertMessage): { text: string; blocks: unknown[] } {
  const p = m.payload;
  const where = p.affected_services.join(', ') || p.context.series_key;
  const head =
    m.event === 'resolved'
      ? `${(p.resolution && RESOLVED_HEAD[p.resolution]) || ':white_check_mark: Resolved'}: ${p.anomaly_type} on ${where}`
      : `${ICON[p.severity]} ${m.event === 'escalated' ? 'Escalated to ' : ''}${p.severity} ${p.anomaly_type} on ${where}`;
  const metric =
    p.metrics.feature && p.metrics.current !== null
      ? `*${esc(p.metrics.feature)}*: ${p.metrics.current} (expected ${p.metrics.baseline}${p.metrics.expected_range ? `, normal ${p.metrics.expected_range[0]} to ${p.metrics.expected_range[1]}` : ''})`
      : 'no single feature stands out';
  const fields = [
    `*Severity*\n${p.severity}`,
    `*Score*\n${p.score}`,
    `*Model*\n${esc(p.context.model_version ?? 'n/a')}`,
    `*Window*\n${esc(p.context.time_window)}`,
  ].map((text) => ({ type: 'mrkdwn', text }));
  const blocks: unknown[] = [
    { type: 'header', text: { type: 'plain_text', text: cutCodePoints(head, 150), emoji: true } },
    ...(m.event === 'resolved' && p.resolution === 'state_lost' ? [{ type: 'section', text: { type: 'mrkdwn', text: STATE_LOST_NOTE } }] : []),
    { type: 'section', text: { type: 'mrkdwn', text: escCut(p.summary, 2900) } },
    { type: 'section', text: { type: 'mrkdwn', text: metric }, fields },
  ];
  if (m.event !== 'resolved' && p.recommendations.length) {
    blocks.push({ type: 'section', text: { type: 'mrkdwn', text: escCut(p.recommendations.map((r) => `• ${r}`).join('\n'), 2900) } });
  }
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: `LLM-Sentinel alert \`${p.alert_id}\` · ${m.event} · ${p.timestamp}` }] });
  // The notification text is mrkdwn too: escaped like the blocks, or a service named "<!channel>" pings it.
  return { text: escCut(`${head}: ${p.summary}`, 3000), blocks };
}

/** Slack incoming webhook (the URL is the secret: it is never logged, only its host). */
export class SlackSink implements AlertSink {
  readonly kind = 'slack';
  readonly name: string;
  private readonly url: URL;

  constructor(private readonly opts: { url: string; guard: UrlGuard; timeoutMs?: number }) {
    this.url = new URL(opts.url);
    this.name = `slack ${this.url.host}`;
    opts.guard.assertAllowed(this.url);
  }

  async send(m: AlertMessage, signal: AbortSignal): Promise<void> {
    const answer = await postJson(this.url, JSON.stringify(slackMessage(m)), {}, { guard: this.opts.guard, timeoutMs: this.opts.timeoutMs, signal });
    checkAnswer(this.name, answer, urlSecrets(this.url));
  }
}
