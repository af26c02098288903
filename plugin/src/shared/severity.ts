import type { Severity } from './api-types';

/**
 * Grafana named colours per severity. Named (not hex) so Grafana resolves them against the current
 * theme, for annotations as well as for the panel.
 */
export const SEVERITY_COLOR_NAMES: Readonly<Record<Severity, string>> = {
  critical: 'red',
  high: 'orange',
  medium: 'yellow',
  low: 'blue',
};

/** Colour name used when a record carries a severity this plugin does not know. */
export const UNKNOWN_SEVERITY_COLOR_NAME = 'purple';

/** Colour name for a severity string; unknown severities get a distinct colour rather than none. */
export function severityColorName(severity: string | undefined | null): string {
  return (severity && SEVERITY_COLOR_NAMES[severity as Severity]) || UNKNOWN_SEVERITY_COLOR_NAME;
}

/** Rank of a severity (0 = most severe); unknown ranks last. */
export function severityRank(severity: string | undefined | null): number {
  const order: string[] = ['critical', 'high', 'medium', 'low'];
  const i = severity ? order.indexOf(severity) : -1;
  return i < 0 ? order.length : i;
}
