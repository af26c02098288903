import type { DataFrame, Field } from '@grafana/data';

import type { SentinelFrameMeta } from '../shared/frame-kinds';
import { featureUnit } from '../shared/frame-kinds';
import { severityRank } from '../shared/severity';

/** One series ready to draw: parallel arrays over time, nulls where the backend had no value. */
export interface SeriesView {
  /**
   * Unique among the panel's series: two queries may return the same series key (a score query and a
   * raw-feature query of one series), so the key alone cannot identify a choice.
   */
  id: string;
  /** Query the frame came from. */
  refId?: string;
  /** Series key, or the frame name for frames not produced by the Sentinel datasource. */
  seriesKey: string;
  feature: string;
  unit?: string;
  time: number[];
  value: Array<number | null>;
  expected: Array<number | null>;
  lower: Array<number | null>;
  upper: Array<number | null>;
  score: Array<number | null>;
  isAnomaly: boolean[];
}

/** One anomaly row as the panel needs it. */
export interface AnomalyView {
  id: string;
  start: number;
  end: number;
  severity: string;
  type: string;
  service: string;
  model: string;
  seriesKey: string;
  score: number | null;
  summary: string;
  feedback: string;
}

/** Everything the panel draws, extracted from the query results. */
export interface PanelModel {
  series: SeriesView[];
  anomalies: AnomalyView[];
  /** Warnings of the anomaly frames, e.g. that the list was cut off at its limit. */
  notices: string[];
}

/**
 * Sorts the panel's frames into series (frames with a time field and a `value` or `score` field) and
 * anomalies (frames with `id`, `severity` and `time`). Works on the datasource's frames and on any
 * frames with the same field names, e.g. after transformations dropped the frame meta.
 */
export function extractPanelModel(frames: DataFrame[]): PanelModel {
  const series: SeriesView[] = [];
  const anomalies: AnomalyView[] = [];
  const notices: string[] = [];
  const ids = new Set<string>();
  for (const frame of frames) {
    if (isAnomalyFrame(frame)) {
      anomalies.push(...anomalyRows(frame));
      notices.push(...(frame.meta?.notices ?? []).filter((n) => n.severity !== 'info').map((n) => n.text));
    } else {
      const view = seriesView(frame);
      if (view) {
        let id = `${view.refId ?? ''}:${view.seriesKey}:${view.feature}`;
        for (let n = 2; ids.has(id); n++) {
          id = `${view.refId ?? ''}:${view.seriesKey}:${view.feature}#${n}`;
        }
        ids.add(id);
        series.push({ ...view, id });
      }
    }
  }
  return { series, anomalies, notices };
}

/** How the series picker names a series: its key and feature, and its query when that is still ambiguous. */
export function seriesLabels(series: SeriesView[]): string[] {
  const base = series.map((s) => `${s.seriesKey || s.feature} · ${s.feature}`);
  return base.map((label, i) =>
    base.indexOf(label) !== base.lastIndexOf(label) && series[i].refId ? `${label} (${series[i].refId})` : label
  );
}

/** Whether a series has a point (of any kind) in [from, to]. */
export function hasPointsIn(series: SeriesView, from: number, to: number): boolean {
  return series.time.some((t, i) => t >= from && t <= to && (series.value[i] !== null || series.score[i] !== null));
}

/** Anomalies of one series (all of them when the series key is unknown), within [from, to]. */
export function anomaliesFor(anomalies: AnomalyView[], seriesKey: string | undefined, from: number, to: number): AnomalyView[] {
  return anomalies.filter(
    (a) => (!seriesKey || !a.seriesKey || a.seriesKey === seriesKey) && a.end >= from && a.start <= to
  );
}

/** The anomaly shown when the user has picked none: the most severe, then the newest. */
export function defaultAnomaly(anomalies: AnomalyView[]): AnomalyView | undefined {
  return [...anomalies].sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || b.start - a.start)[0];
}

function isAnomalyFrame(frame: DataFrame): boolean {
  const kind = (frame.meta?.custom as Partial<SentinelFrameMeta> | undefined)?.sentinelKind;
  if (kind) {
    return kind === 'anomalies';
  }
  return Boolean(byName(frame, 'id') && byName(frame, 'severity') && byName(frame, 'time'));
}

function seriesView(frame: DataFrame): Omit<SeriesView, 'id'> | undefined {
  const meta = frame.meta?.custom as Partial<SentinelFrameMeta> | undefined;
  if (meta?.sentinelKind && meta.sentinelKind !== 'scores' && meta.sentinelKind !== 'features') {
    return undefined;
  }
  const time = frame.fields.find((f) => f.type === 'time');
  const value = byName(frame, 'value');
  const score = byName(frame, 'score');
  if (!time || (!value && !score)) {
    return undefined;
  }
  const n = frame.length;
  const numbers = (field: Field | undefined) => Array.from({ length: n }, (_, i) => toNumber(field?.values[i]));
  const feature = meta?.feature ?? value?.config.displayNameFromDS ?? value?.name ?? 'value';
  const flags = byName(frame, 'isAnomaly');
  return {
    refId: frame.refId,
    seriesKey: meta?.seriesKey ?? frame.name ?? '',
    feature,
    unit: value?.config.unit ?? featureUnit(feature),
    time: Array.from({ length: n }, (_, i) => Number(time.values[i])),
    value: numbers(value),
    expected: numbers(byName(frame, 'expected')),
    lower: numbers(byName(frame, 'lower')),
    upper: numbers(byName(frame, 'upper')),
    score: numbers(score),
    isAnomaly: Array.from({ length: n }, (_, i) => Boolean(flags?.values[i])),
  };
}

function anomalyRows(frame: DataFrame): AnomalyView[] {
  const get = (name: string) => byName(frame, name);
  const [id, time, timeEnd, severity, type, service, model, seriesKey, score, summary, feedback] = [
    'id',
    'time',
    'timeEnd',
    'severity',
    'type',
    'service',
    'model',
    'seriesKey',
    'score',
    'summary',
    'feedback',
  ].map(get);
  const str = (field: Field | undefined, i: number) => (field ? String(field.values[i] ?? '') : '');
  const rows: AnomalyView[] = [];
  for (let i = 0; i < frame.length; i++) {
    const start = Number(time?.values[i]);
    const end = timeEnd ? Number(timeEnd.values[i]) : start;
    rows.push({
      id: str(id, i),
      start,
      end: Number.isFinite(end) ? Math.max(end, start) : start,
      severity: str(severity, i),
      type: str(type, i),
      service: str(service, i),
      model: str(model, i),
      seriesKey: str(seriesKey, i),
      score: toNumber(score?.values[i]),
      summary: str(summary, i),
      feedback: str(feedback, i),
    });
  }
  return rows;
}

function byName(frame: DataFrame, name: string): Field | undefined {
  return frame.fields.find((f) => f.name === name);
}

function toNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}
