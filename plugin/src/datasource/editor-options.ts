import type { SelectableValue } from '@grafana/data';

import type { AnomalyRecord, SeriesInfo } from '../shared/api-types';

/** Choices the query editor offers, derived from `GET /api/v1/series` and the query so far. */
export interface EditorOptions {
  services: string[];
  models: string[];
  seriesKeys: string[];
  features: string[];
}

/**
 * Narrows each picker by what is already chosen: models of the chosen service, series of the chosen
 * service/model, features of the matching series. Chosen values that are template variables (`$x`)
 * cannot be resolved here, so they do not narrow anything.
 */
export function editorOptions(series: SeriesInfo[], chosen: { service?: string; model?: string; seriesKey?: string }): EditorOptions {
  const concrete = (v?: string) => (v && !v.includes('$') ? v : undefined);
  const service = concrete(chosen.service);
  const model = concrete(chosen.model);
  const seriesKey = concrete(chosen.seriesKey);
  const ofService = series.filter((s) => !service || s.labels?.service === service);
  const ofModel = ofService.filter((s) => !model || s.labels?.model === model);
  const ofSeries = ofModel.filter((s) => !seriesKey || s.seriesKey === seriesKey);
  return {
    services: distinct(series.map((s) => s.labels?.service)),
    models: distinct(ofService.map((s) => s.labels?.model)),
    seriesKeys: distinct(ofModel.map((s) => s.seriesKey)),
    features: distinct(ofSeries.flatMap((s) => s.features ?? [])),
  };
}

/** Select options for plain values, with template variables first, keeping a current custom value. */
export function toSelectOptions(values: string[], variables: string[] = [], current?: string): Array<SelectableValue<string>> {
  const all = [...variables, ...values];
  if (current && !all.includes(current)) {
    all.unshift(current);
  }
  return all.map((v) => ({ label: v, value: v }));
}

/** Anomaly picker options: newest first, labelled so a person can tell them apart. */
export function anomalyOptions(records: AnomalyRecord[]): Array<SelectableValue<string>> {
  return records.map((r) => ({
    value: r.id,
    label: `${r.severity} ${r.type} · ${r.labels?.service ?? r.seriesKey} · ${r.start.replace('T', ' ').slice(0, 16)}Z`,
    description: r.explanation?.summary,
  }));
}

/**
 * The limit typed into the editor as a whole number in 1..max (the backend refuses more), or undefined
 * (the backend default) when blank or not a positive number.
 */
export function parseLimit(text: string, max: number): number | undefined {
  const n = Math.floor(Number(text));
  return text.trim() === '' || !Number.isFinite(n) || n < 1 ? undefined : Math.min(n, max);
}

function distinct(values: Array<string | undefined>): string[] {
  return [...new Set(values.filter((v): v is string => Boolean(v)))].sort((a, b) => a.localeCompare(b));
}
