import { createHash } from 'node:crypto';
import type { AnomalyRecord, AnomalyType, Resolution } from '../domain/types';
import { evidenceExplanation } from '../explain/evidence';
import type { VectorStore } from '../store/vector-store';
import type { DetectorScore } from '../detectors/runner';
import { isEmptyEventWindow, type Detection } from './scorer';
import type { OpenIncident, SeriesState } from './series-state';
import { severityFor, typedRule } from './ensemble';

/** What happened to an incident after one observation. */
export type IncidentEvent = 'opened' | 'updated' | 'resolved';

/** Stable anomaly id: the same series and start always give the same id (replays are reproducible). */
export function anomalyId(seriesKey: string, start: number): string {
  return 'an_' + createHash('sha256').update(`${seriesKey}\u0000${start}`).digest('hex').slice(0, 20);
}

/** What {@link IncidentTracker.observe} reports; `reopened` marks an incident resolved earlier that is open again. */
export interface IncidentChange {
  event: IncidentEvent;
  record: AnomalyRecord;
  reopened?: boolean;
}

/**
 * What the strongest rule detector (calibrated output, e.g. range or stuck) past its boundary found, as
 * `detector:finding` (`range:below`, `stuck`), or null when no rule fired.
 */
export function ruleFinding(scores: readonly DetectorScore[]): string | null {
  let top: DetectorScore | undefined;
  for (const s of scores) if (s.output.calibrated && s.score > 1 && (!top || s.score > top.score)) top = s;
  if (!top) return null;
  return top.output.finding ? `${top.name}:${top.output.finding}` : top.name;
}

/**
 * Whether point `seq` of a plain series is held back by the re-alert hold-off of its last alert `last`:
 * within `realertPoints` of it, unless a rule's `finding` (of an anomalous point) is news to that alert;
 * within STATISTICAL_REALERT x `realertPoints` when the point is a `statistical` alert (anomalous by its own
 * point score, the value and shape detectors, with no rule past its boundary and not by the sustained score).
 * Saved state of an earlier version has no `finding` on `last`: read as a statistical alert.
 */
export function inHoldOff(
  last: { seq: number; finding?: string | null } | null,
  seq: number,
  realertPoints: number,
  finding: string | null,
  statistical = false,
): boolean {
  if (last === null) return false;
  const span = statistical && finding === null ? STATISTICAL_REALERT * realertPoints : realertPoints;
  if (seq - last.seq > span) return false;
  return finding === null || finding === (last.finding ?? null);
}

/**
 * A plain series' statistical point alert waits this many hold-offs after the series' last alert (rules and
 * the sustained score wait one). After an incident a series is still settling: its recent subsequences hold
 * the disturbance (kNN), its baselines are moving to the new level, and the first point alerts that come
 * once the hold-off ends are mostly that aftermath, not a new incident. On NAB (docs/BENCHMARKS.md, step 30),
 * 52 of the false-positive rows were point-score alerts, 29 of them 101-300 points after an alert, against
 * 2 of the 16 windows whose first detection was a point-score alert; a sustained alert that soon after is
 * more often a real onset (7 first detections, 18 false rows), so it keeps the plain hold-off. The held
 * points are still anomalous (they rejoin the incident, are not learnt), so only what pages changes.
 */
const STATISTICAL_REALERT = 3;

/**
 * Merges anomalous observations of a series into one open incident while they keep coming, and resolves it
 * after `cooldownWindows` normal ones in a row. One incident = one anomaly record (stable id), so sinks
 * see one "opened" and one "resolved" however long it lasts.
 *
 * Plain metric series also have a re-alert hold-off of `realertPoints` points from their last alerting point: a
 * sustained anomaly on a scraped gauge (a level shift, a noisy failure) flickers around its threshold, and
 * without it every flicker after the cooldown would open, and alert, a new incident. Anomalous points in
 * the hold-off rejoin the incident that opened it (re-opening it when it had resolved). Event windows
 * already aggregate a whole window each and keep the cooldown alone: distinct LLM failures on one
 * service minutes apart must stay distinct incidents. Measured on NAB (docs/BENCHMARKS.md): standard
 * score 26.7 -> 45.3 with 100 points, 43.0 with 50, 42.0 with 200.
 *
 * One exception: a rule past its boundary (a value beyond everything the series has done, a value stuck for
 * longer than ever) inside the hold-off alerts again when it is news to the alert that opened the hold-off:
 * after a statistical alert any rule, after a rule's alert a different finding (a new low after a new high,
 * a stuck value after a new extreme); the hold-off then runs from it. A wobble that paged is no reason to
 * swallow the series then leaving its range, and a page for "higher than ever" says nothing about the
 * "lower than ever" that follows. The same finding again is held. (NAB: any rule after a statistical alert
 * 68.65 -> 69.26; different findings after a rule's alert too 72.00 -> 72.76 offline; letting every rule
 * through, also the same finding again, 68.31.) A statistical point alert waits longer (STATISTICAL_REALERT).
 */
export class IncidentTracker {
  constructor(
    private readonly store: VectorStore,
    private readonly cooldownWindows = 3,
    private readonly realertPoints = 0,
  ) {}

  async observe(d: Detection): Promise<IncidentChange | null> {
    const { state } = d;
    const last = state.lastOpened;
    const finding = d.anomalous ? ruleFinding(d.scores) : null;
    const held = state.kind === 'points' && inHoldOff(last, state.windowsSeen, this.realertPoints, finding, d.anomalous && !d.sustained);
    state.alertScore = held ? 0 : d.score;
    const change = await this.apply(d, held ? last : null);
    // An anomalous point outside the hold-off alerts (as a new incident, or as news on one still open):
    // the hold-off runs from it.
    if (d.anomalous && !held && change) state.lastOpened = { seq: state.windowsSeen, anomalyId: change.record.id, finding };
    return change;
  }

  private async apply(d: Detection, held: { anomalyId: string } | null): Promise<IncidentChange | null> {
    const { state, observation: obs } = d;
    const open = state.incident;
    if (d.anomalous) {
      // Join the open incident, else (inside a plain series' hold-off) re-open the one that alerted last.
      for (const joinId of [open?.anomalyId, held?.anomalyId]) {
        if (!joinId) continue;
        const rec = await this.store.getAnomaly(joinId);
        if (!rec) continue;
        const { resolution: _, ...unresolved } = rec;
        const updated: AnomalyRecord = {
          ...unresolved,
          end: new Date(obs.end).toISOString(),
          windows: rec.windows + 1,
          status: 'open',
          ...(d.score > rec.score ? this.fromDetection(withRuleOf(d, open), rec.id, rec.start) : {}),
        };
        state.incident = { anomalyId: rec.id, lastAnomalousEnd: obs.end, quietWindows: 0, type: updated.type, ...ruleFound(d, open) };
        await this.store.saveAnomaly(updated);
        return joinId === open?.anomalyId ? { event: 'updated', record: updated } : { event: 'updated', record: updated, reopened: true };
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
      state.incident = { anomalyId: id, lastAnomalousEnd: obs.end, quietWindows: 0, type: record.type, ...ruleFound(d, null) };
      await this.store.saveAnomaly(record);
      return { event: 'opened', record };
    }
    if (!open) return null;
    // A window without requests says nothing about the latency, tokens per request or errors an incident is
    // about: only a volume incident (a burst, a key's token abuse) is over when the traffic is. A key sending
    // a request a minute had a latency incident resolved by 3 empty minutes inside it, and a second one opened
    // when its requests came back still slow (QA, a series per API key).
    if (isEmptyEventWindow(obs) && open.type !== undefined && !VOLUME_TYPES.has(open.type)) return null;
    open.quietWindows++;
    if (open.quietWindows < this.cooldownWindows) return null;
    state.incident = null;
    return resolveRecord(this.store, open.anomalyId, 'recovered');
  }

  /**
   * Resolves the open incident of a series that stopped reporting (resolution `stale`) and forgets its last
   * alert, so that the series, when it comes back, starts afresh instead of re-opening an incident from
   * before the silence. Null when the series has no open incident.
   */
  async resolveStale(state: SeriesState): Promise<IncidentChange | null> {
    const open = state.incident;
    if (!open) return null;
    state.incident = null;
    state.lastOpened = null;
    state.alertScore = 0;
    return resolveRecord(this.store, open.anomalyId, 'stale');
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

/** Incident types about traffic volume, which a window without requests shows over. */
const VOLUME_TYPES: ReadonlySet<AnomalyType> = new Set(['traffic_spike', 'token_abuse', 'cost_spike', 'security_pattern']);

/** The incident's rule finding after this window: the window's own typed rule past its boundary, else the one it had. */
function ruleFound(d: Detection, open: OpenIncident | null): Pick<OpenIncident, 'rule'> {
  const rule = typedRule(d.scores);
  if (!rule) return open?.rule ? { rule: open.rule } : {};
  return { rule: { type: rule.output.type!, ...(d.culprit ? { culprit: d.culprit } : {}), ...(rule.output.reason ? { reason: rule.output.reason } : {}) } };
}

/**
 * The window as its incident's record shows it: a window that no rule typed, of an incident a rule typed,
 * keeps the rule's type, the principal it named and its reason. The record takes its highest-scoring window,
 * and a leaked key's token abuse (found by the heaviest-key rule at 1.01 in its first window) became a
 * `cost_spike` naming no key when its third window scored 2.4 on cost and tokens alone, the rule at 0.87.
 */
function withRuleOf(d: Detection, open: OpenIncident | null): Detection {
  const rule = open?.rule;
  if (!rule || typedRule(d.scores)) return d;
  return {
    ...d,
    type: rule.type,
    severity: severityFor(d.score, rule.type),
    culprit: rule.culprit ?? d.culprit,
    reasons: rule.reason && !d.reasons.includes(rule.reason) ? [rule.reason, ...d.reasons] : d.reasons,
  };
}

/** Marks an open incident's record resolved (with why) and saves it; null when the record is gone or not open. */
export async function resolveRecord(store: VectorStore, anomalyId: string, resolution: Resolution): Promise<IncidentChange | null> {
  const rec = await store.getAnomaly(anomalyId);
  if (!rec || rec.status !== 'open') return null;
  const resolved: AnomalyRecord = { ...rec, status: 'resolved', resolution };
  await store.saveAnomaly(resolved);
  return { event: 'resolved', record: resolved };
}
