import type { MetricFindValue } from '@grafana/data';

import type { SeriesInfo } from '../shared/api-types';

/** What a template-variable query lists. */
export type VariableQueryKind = 'services' | 'models' | 'series' | 'features';

/** A parsed variable query: `services()`, `models(<service>)`, `series(<service>)`, `features(<seriesKey>)`. */
export interface VariableQuery {
  kind: VariableQueryKind;
  /** Argument: a service for models/series, a series key for features; absent = no filter. */
  filter?: string;
}

const KINDS: readonly VariableQueryKind[] = ['services', 'models', 'series', 'features'];

/** Thrown for a variable query that is not one of the supported forms; the message lists them. */
export class VariableQueryError extends Error {
  constructor(query: string) {
    super(`Unsupported variable query "${query}": use services(), models(<service>), series(<service>) or features(<seriesKey>)`);
    this.name = 'VariableQueryError';
  }
}

/**
 * Parses a variable query. The parentheses are optional (`services` = `services()`) and an empty
 * query lists services, the most common use.
 */
export function parseVariableQuery(query: string): VariableQuery {
  const text = query.trim();
  if (!text) {
    return { kind: 'services' };
  }
  const match = /^([a-z]+)\s*(?:\(\s*(.*?)\s*\))?$/i.exec(text);
  const kind = match?.[1]?.toLowerCase() as VariableQueryKind | undefined;
  if (!match || !kind || !KINDS.includes(kind)) {
    throw new VariableQueryError(query);
  }
  const filter = match[2]?.replace(/^["']|["']$/g, '');
  return filter ? { kind, filter } : { kind };
}

/** The distinct values a variable query yields from `GET /api/v1/series`, sorted. */
export function seriesToMetricFindValues(series: SeriesInfo[], query: VariableQuery): MetricFindValue[] {
  const values = new Set<string>();
  for (const s of series) {
    const labels = s.labels ?? {};
    switch (query.kind) {
      case 'services':
        add(values, labels.service);
        break;
      case 'models':
        if (!query.filter || labels.service === query.filter) {
          add(values, labels.model);
        }
        break;
      case 'series':
        if (!query.filter || labels.service === query.filter) {
          add(values, s.seriesKey);
        }
        break;
      case 'features':
        if (!query.filter || s.seriesKey === query.filter) {
          (s.features ?? []).forEach((f) => add(values, f));
        }
        break;
    }
  }
  return [...values].sort((a, b) => a.localeCompare(b)).map((v) => ({ text: v, value: v }));
}

/** The distinct values of several variable queries together (a multi-value argument gives several), sorted. */
export function metricFindValues(series: SeriesInfo[], queries: VariableQuery[]): MetricFindValue[] {
  const values = new Set(queries.flatMap((q) => seriesToMetricFindValues(series, q).map((v) => String(v.value))));
  return [...values].sort((a, b) => a.localeCompare(b)).map((v) => ({ text: v, value: v }));
}

function add(set: Set<string>, value: string | undefined): void {
  if (value) {
    set.add(value);
  }
}
