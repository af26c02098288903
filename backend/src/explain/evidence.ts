import type { Attribution, Explanation, Neighbour, SeriesLabels } from '../domain/types';
import { outsideBand } from '../pipeline/ensemble';
import { isEmptyEventWindow, type Detection } from '../pipeline/scorer';
import { FEATURE_INDEX } from '../windowing/features';

const TYPE_WORDS: Record<string, string> = {
  latency_spike: 'Latency spike',
  error_rate: 'Error burst',
  token_abuse: 'Token abuse',
  cost_spike: 'Cost spike',
  traffic_spike: 'Traffic change',
  output_blowup: 'Output blow-up',
  security_pattern: 'Security-event burst',
  other: 'Unusual behaviour',
};

const iso = (t: number) => new Date(t).toISOString();
const num = (x: number) => (Math.abs(x) >= 100 ? Math.round(x).toLocaleString('en-US') : String(Math.round(x * 1000) / 1000));
/** Markdown-escapes text that came from telemetry (labels, error types) so it renders as text. */
export const mdText = (s: string) => s.replace(/[\\`*_{}[\]()#+!|<>]/g, (c) => '\\' + c);

export function labelText(labels: SeriesLabels): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function movedLine(a: Attribution): string {
  const dir = a.actual >= a.expected ? 'up' : 'down';
  return `${a.feature} ${dir} to ${num(a.actual)} (expected ~${num(a.expected)}, normal ${num(a.lower)} to ${num(a.upper)}, z ${num(a.z)})`;
}

/**
 * Explanation built from evidence only (no LLM): the features that moved against their expected band, the
 * rule that fired, the nearest normal windows compared and similar confirmed incidents.
 */
export function evidenceExplanation(d: Detection, labels: SeriesLabels): Explanation {
  // A /detect call on a normal window gets this too: it must not read as a finding.
  const title = d.score > 1 ? (TYPE_WORDS[d.type] ?? TYPE_WORDS.other) : 'Within the normal range';
  const who = labelText(labels);
  const lead = d.reasons[0] ?? silentLine(d) ?? (d.attributions[0] ? topLine(d.attributions[0], d.state.kind) : detectorsLine(d));
  const summary = `${title} on ${who}: ${lead}`;
  const md: string[] = [`**${mdText(title)}** on \`${who.replace(/`/g, "'")}\`, score ${num(d.score)} (above 1 is anomalous).`];
  if (d.reasons.length) {
    md.push('', '### Rules that fired');
    for (const r of d.reasons) md.push(`- ${mdText(r)}`);
  }
  if (d.attributions.length) {
    md.push('', '### What moved');
    for (const a of d.attributions) md.push(`- ${mdText(movedLine(a))}`);
  }
  md.push('', '### Compared with');
  md.push(neighboursLine(d.neighbours));
  if (d.similarIncidents.length) {
    md.push('', '### Seen before');
    for (const n of d.similarIncidents) {
      md.push(`- ${n.meta?.type ?? 'incident'} at ${iso(n.timestamp)}${n.meta?.cause ? `: ${mdText(n.meta.cause)}` : ''} (distance ${num(n.distance)})`);
    }
  }
  return {
    summary,
    source: 'evidence',
    markdown: md.join('\n'),
    evidence: {
      features: d.attributions,
      nearestNormal: d.neighbours.map((n) => ({ id: n.id, distance: round(n.distance), timestamp: iso(n.timestamp) })),
      similarIncidents: d.similarIncidents.map((n) => ({
        anomalyId: n.meta?.anomalyId ?? n.id,
        distance: round(n.distance),
        type: n.meta?.type ?? 'other',
        ...(n.meta?.cause ? { cause: n.meta.cause } : {}),
        timestamp: iso(n.timestamp),
      })),
    },
  };
}

/**
 * The lead from the feature that moved most: when even that one is inside its normal range, what is unusual
 * is the window as a whole (its shape, or several features together), and the lead says so rather than
 * reading as if that feature were out of range.
 */
function topLine(a: Attribution, kind: 'events' | 'points'): string {
  if (outsideBand(a)) return movedLine(a);
  if (kind === 'points') {
    return `${a.feature} ${num(a.actual)} is inside its normal range (${num(a.lower)} to ${num(a.upper)}); its course over the last points is unlike this series' normal ones`;
  }
  return `no single feature is outside its normal range; the window as a whole is unlike this series' normal ones (closest to its edge: ${movedLine(a)})`;
}

/**
 * The lead when no feature moved enough to be attributed and no rule fired: which detectors scored the
 * window past their boundary (1), strongest first, instead of a bare score.
 */
function detectorsLine(d: Detection): string {
  const past = Object.entries(d.detectors ?? {})
    .filter(([, s]) => s > 1)
    .sort((a, b) => b[1] - a[1])
    .map(([name, s]) => `${name} ${num(s)}`);
  if (!past.length) return `score ${num(d.score)}`;
  return `no single feature is outside its normal range; the window as a whole is unlike this series' normal ones (past their boundary of 1: ${past.join(', ')})`;
}

/** The lead of an anomalous event window that had no requests at all: the silence is the finding. */
function silentLine(d: Detection): string | null {
  if (d.score <= 1 || !isEmptyEventWindow(d.observation)) return null;
  return `no requests in this window (expected ~${num(d.input.baseline.center[FEATURE_INDEX.request_count])})`;
}

function neighboursLine(ns: Neighbour[]): string {
  if (!ns.length) return '- no stored normal patterns for this series yet (statistical baselines only)';
  const mean = ns.reduce((s, n) => s + n.distance, 0) / ns.length;
  return `- the ${ns.length} nearest normal windows of this series (mean distance ${num(mean)}; nearest from ${iso(ns[0].timestamp)}, distance ${num(ns[0].distance)})`;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;
