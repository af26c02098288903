import type { KeyDimension } from '../config';
import type { LlmEvent, SeriesLabels } from '../domain/types';

/**
 * Builds the series key of an event from the configured dimensions, e.g. "service=chat|model=gpt-4o".
 * Values are escaped so that a '|' or '=' inside a label cannot forge another series' key.
 */
export function eventSeriesKey(e: Pick<LlmEvent, KeyDimension>, dims: readonly KeyDimension[]): { key: string; labels: SeriesLabels } {
  const labels: SeriesLabels = {};
  let key = '';
  for (const d of dims) {
    const v = e[d];
    if (v === undefined) continue;
    labels[d] = v;
    key += (key ? '|' : '') + d + '=' + escape(v);
  }
  return { key: key || '(all)', labels };
}

/** Series key of a plain metric point: the series name and its labels in sorted order. */
export function pointSeriesKey(series: string, labels: SeriesLabels): string {
  const names = Object.keys(labels).sort();
  let key = 'series=' + escape(series);
  for (const n of names) key += '|' + n + '=' + escape(labels[n]);
  return key;
}

function escape(v: string): string {
  return v.replace(/[\\|=]/g, (c) => '\\' + c);
}
