import type { AnnotationEvent, AnnotationQuery, AnnotationSupport, DataFrame, Field } from '@grafana/data';
import { of } from 'rxjs';

import { severityColorName } from '../shared/severity';
import { QueryType, type SentinelQuery } from './types';

/**
 * Anomalies-table frames -> annotation events: one region per anomaly from start to end, coloured
 * by severity, titled with severity and type, the explanation summary as text and severity, type and
 * service as tags (so dashboards can filter annotations by tag).
 */
export function anomalyFramesToAnnotations(frames: DataFrame[]): AnnotationEvent[] {
  const events: AnnotationEvent[] = [];
  for (const frame of frames) {
    const time = field(frame, 'time');
    const severity = field(frame, 'severity');
    if (!time || !severity) {
      continue;
    }
    const timeEnd = field(frame, 'timeEnd');
    const type = field(frame, 'type');
    const service = field(frame, 'service');
    const model = field(frame, 'model');
    const score = field(frame, 'score');
    const summary = field(frame, 'summary');
    const id = field(frame, 'id');
    for (let i = 0; i < frame.length; i++) {
      const start = Number(time.values[i]);
      const end = timeEnd ? Number(timeEnd.values[i]) : start;
      const sev = String(severity.values[i] ?? '');
      const kind = type ? String(type.values[i] ?? '') : '';
      const svc = service ? String(service.values[i] ?? '') : '';
      const mdl = model ? String(model.values[i] ?? '') : '';
      const scoreValue = score ? Number(score.values[i]) : NaN;
      const where = [svc && `service=${svc}`, mdl && `model=${mdl}`].filter(Boolean).join(' ');
      const scoreText = Number.isFinite(scoreValue) ? `score ${scoreValue.toFixed(2)}` : '';
      const text = [summary ? String(summary.values[i] ?? '') : '', [where, scoreText].filter(Boolean).join(', ')]
        .filter(Boolean)
        .join('\n');
      events.push({
        id: id ? String(id.values[i]) : undefined,
        time: start,
        timeEnd: Number.isFinite(end) && end > start ? end : undefined,
        isRegion: Number.isFinite(end) && end > start,
        title: `${sev} ${kind}`.trim(),
        text,
        tags: [sev, kind, svc].filter(Boolean),
        color: severityColorName(sev),
      });
    }
  }
  return events;
}

/**
 * Annotation support: an annotation is an anomalies query (whatever type the editor left in it), and
 * its table becomes coloured regions through {@link anomalyFramesToAnnotations}.
 */
export function createAnnotationSupport(): AnnotationSupport<SentinelQuery> {
  return {
    prepareAnnotation(json: AnnotationQuery<SentinelQuery>): AnnotationQuery<SentinelQuery> {
      // Annotations saved without a target (or from an older editor) still run as "all anomalies".
      const target: SentinelQuery = { refId: 'Anno', ...json.target, queryType: QueryType.Anomalies };
      return { ...json, target };
    },
    prepareQuery(anno: AnnotationQuery<SentinelQuery>): SentinelQuery | undefined {
      return anno.target ? { ...anno.target, queryType: QueryType.Anomalies } : undefined;
    },
    processEvents(_anno: AnnotationQuery<SentinelQuery>, frames: DataFrame[]) {
      return of(anomalyFramesToAnnotations(frames));
    },
    getDefaultQuery(): Partial<SentinelQuery> {
      return { queryType: QueryType.Anomalies };
    },
  };
}

function field(frame: DataFrame, name: string): Field | undefined {
  return frame.fields.find((f) => f.name === name);
}
