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

/** Most decimals an axis label gets: ticks are round (1, 2, 2.5, 5 x 10^k steps), so a few always do. */
const MAX_AXIS_DECIMALS = 6;

/**
 * Label of a value-axis tick in its unit with as few decimals as show it exactly: 0.25 -> "0.25",
 * 0.5 USD -> "$0.5", 1500 ms -> "1.5 s", 500 ms -> "500 ms". Decimals are counted in the unit's scaled
 * display (ms shown as s), which a count taken from the raw tick step would get wrong.
 */
export function formatAxisValue(value: number, unit?: string): string {
  const formatter = getValueFormat(unit ?? 'none');
  const exact = Number(formatter(value, MAX_AXIS_DECIMALS).text);
  for (let decimals = 0; decimals < MAX_AXIS_DECIMALS; decimals++) {
    const formatted = formatter(value, decimals);
    const shown = Number(formatted.text);
    // Formats whose text is not a plain number (dates, booleans) keep Grafana's own choice.
    if (!Number.isFinite(exact) || !Number.isFinite(shown)) {
      return formatValue(value, unit);
    }
    if (Math.abs(shown - exact) <= Math.abs(exact) * 1e-9) {
      return formattedValueToString(formatted);
    }
  }
  return formattedValueToString(formatter(value, MAX_AXIS_DECIMALS));
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
