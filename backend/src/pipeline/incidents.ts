import { createHash } from 'node:crypto';
import type { AnomalyRecord } from '../domain/types';
import { evidenceExplanation } from '../explain/evidence';
import type { VectorStore } from '../store/vector-store';
import type { Detection } from './scorer';

/** What happened to an incident after one observation. */
export type IncidentEvent = 'opened' | 'updated' | 'resolved';

/** Stable anomaly id: the same series and start always give the same id (replays are reproducible). */
export function anomalyId(seriesKey: string, start: number): string {
  return 'an_' + createHash('sha256').update(`${seriesKey}\u0000${start}`).digest('hex').slice(0, 20);
}

/**
 * Merges anomalous observations of a series into one open incident while they keep coming, and resolves it
 * after `cooldownWindows` normal ones in a row. One incident = one anomaly record (stable id), so sinks
 * see one "opened" and one "resolved" however long it lasts.
 */
export class IncidentTracker {
  constructor(
    private readonly store: VectorStore,
    private readonly cooldownWindows = 3,
  ) {}

  async observe(d: Detection): Promise<{ event: IncidentEvent; record: AnomalyRecord } | null> {
    const { state, observation: obs } = d;
    const open = state.incident;
    if (d.anomalous) {
      if (open) {
        const rec = await this.store.getAnomaly(open.anomalyId);
        if (rec) {
          const stronger = d.score > rec.score;
          const updated: AnomalyRecord = {
            ...rec,
            end: new Date(obs.end).toISOString(),
            windows: rec.windows + 1,
            status: 'open',
            ...(stronger ? this.fromDetection(d, rec.id, rec.start) : {}),
          };
          open.lastAnomalousEnd = obs.end;
          open.quietWindows = 0;
          await this.store.saveAnomaly(updated);
          return { event: 'updated', record: updated };
        }
      }
      const id = anomalyId(state.key, obs.start);
      const record: AnomalyRecord = {
        id,
        seriesKey: state.key,
        labels: { ...state.labels },
        start: new Date(obs.start).toISOString(),
        end: new Date(obs.end).toISOString(),
        score: 0,
        severity: 'low',
        type: 'other',
        status: 'open',
        windows: 1,
        attributions: [],
        detectors: {},
        explanation: { summary: '', source: 'evidence', markdown: '', evidence: { features: [], nearestNormal: [], similarIncidents: [] } },
        incidentId: id,
        feedback: null,
        ...this.fromDetection(d, id, new Date(obs.start).toISOString()),
      };
      state.incident = { anomalyId: id, lastAnomalousEnd: obs.end, quietWindows: 0 };
      await this.store.saveAnomaly(record);
      return { event: 'opened', record };
    }
    if (!open) return null;
    open.quietWindows++;
    if (open.quietWindows < this.cooldownWindows) return null;
    state.incident = null;
    const rec = await this.store.getAnomaly(open.anomalyId);
    if (!rec) return null;
    const resolved: AnomalyRecord = { ...rec, status: 'resolved' };
    await this.store.saveAnomaly(resolved);
    return { event: 'resolved', record: resolved };
  }

  private fromDetection(d: Detection, id: string, start: string): Partial<AnomalyRecord> {
    const labels = { ...d.state.labels, ...(d.culprit ?? {}) };
    return {
      labels,
      score: Math.round(d.score * 1000) / 1000,
      severity: d.severity,
      type: d.type,
      attributions: d.attributions,
      detectors: d.detectors,
      explanation: evidenceExplanation(d, labels),
      vector: Array.from(d.vector),
      incidentId: id,
      start,
    };
  }
}
