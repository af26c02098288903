import { dateTimeFormat, formattedValueToString, getValueFormat, type TimeZone } from '@grafana/data';

/** A value in its unit (Grafana's value formats), `-` when absent. */
export function formatValue(value: number | null | undefined, unit?: string, decimals?: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) {
    return '-';
  }
  const formatter = getValueFormat(unit ?? 'none');
  // Without explicit decimals Grafana picks them from the magnitude (5200 ms -> "5.20 s").
  return formattedValueToString(formatter(value, decimals));
}

/** Tick label for a time, with the date when the range spans more than a day. */
export function formatTick(ms: number, rangeMs: number, timeZone?: TimeZone): string {
  return dateTimeFormat(ms, { timeZone, format: rangeMs > 86_400_000 ? 'MM-DD HH:mm' : 'HH:mm' });
}

/** Full time for tooltips and the side pane. */
export function formatTime(ms: number, timeZone?: TimeZone): string {
  return dateTimeFormat(ms, { timeZone, format: 'YYYY-MM-DD HH:mm:ss' });
}

/** `latency_spike` -> `latency spike`. */
export function humanize(identifier: string): string {
  return identifier.replace(/_/g, ' ');
}
