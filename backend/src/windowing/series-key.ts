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

/**
 * Memo of {@link eventSeriesKey} by the values of the key dimensions: ingest computes a series key per
 * event, and building and escaping it was a tenth of the ingest cost. Bounded: past `max` distinct keys
 * it starts over. The labels it returns are shared: copy them before keeping them.
 */
export class SeriesKeyCache {
  private root = new Map<string | undefined, unknown>();
  private size = 0;

  constructor(
    private readonly dims: readonly KeyDimension[],
    private readonly max = 100_000,
  ) {}

  get(e: Pick<LlmEvent, KeyDimension>): { key: string; labels: SeriesLabels } {
    const dims = this.dims;
    let node = this.root;
    const last = dims.length - 1;
    for (let i = 0; i < last; i++) {
      const v = e[dims[i]];
      let next = node.get(v) as Map<string | undefined, unknown> | undefined;
      if (!next) {
        next = new Map();
        node.set(v, next);
      }
      node = next;
    }
    const v = e[dims[last]];
    let hit = node.get(v) as { key: string; labels: SeriesLabels } | undefined;
    if (!hit) {
      if (this.size >= this.max) {
        this.root = new Map();
        this.size = 0;
        return this.get(e);
      }
      hit = eventSeriesKey(e, dims);
      node.set(v, hit);
      this.size++;
    }
    return hit;
  }
}
