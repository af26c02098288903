import { css } from '@emotion/css';
import type { GrafanaTheme2, TimeZone } from '@grafana/data';
import { Alert, Button, LoadingPlaceholder, useStyles2, useTheme2 } from '@grafana/ui';
import React, { useEffect, useState } from 'react';

import type { AnomalyRecord, Attribution, Verdict } from '../../shared/api-types';
import type { SentinelApi } from '../../shared/sentinel-api';
import { severityColorName } from '../../shared/severity';
import { featureUnit } from '../../shared/frame-kinds';
import { formatTime, formatValue, humanize } from '../format';
import type { AnomalyView } from '../panel-data';
import { SafeMarkdown } from './SafeMarkdown';

/** Props of {@link ExplanationPane}. */
export interface ExplanationPaneProps {
  anomaly: AnomalyView;
  /** The datasource's API; absent when the panel's datasource is not LLM-Sentinel. */
  api?: SentinelApi;
  /** Why `api` is absent, shown instead of the feedback buttons. */
  apiProblem?: string;
  /**
   * Whether the user may send feedback (org role Editor or Admin): the proxy refuses writes to anyone
   * else, so the buttons are only offered to them. Default false.
   */
  canSendFeedback?: boolean;
  timeZone?: TimeZone;
}

type RecordState = { status: 'loading' } | { status: 'error'; message: string } | { status: 'loaded'; record: AnomalyRecord };
type FeedbackState =
  | { status: 'idle' }
  | { status: 'posting'; verdict: Verdict }
  | { status: 'done'; verdict: Verdict; patternsAdded?: number }
  | { status: 'failed'; message: string };

const VERDICT_TEXT: Record<Verdict, string> = { false_positive: 'false positive', true_positive: 'confirmed' };

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({
    height: '100%',
    overflowY: 'auto',
    padding: theme.spacing(0.5, 1),
    fontSize: theme.typography.bodySmall.fontSize,
  }),
  // Labels come from telemetry and may be long and unbroken (a model path, a series key): they wrap
  // anywhere, as SafeMarkdown's text does, instead of being clipped at the pane's edge (QA).
  header: css({
    display: 'flex',
    gap: theme.spacing(1),
    alignItems: 'center',
    flexWrap: 'wrap',
    marginBottom: theme.spacing(0.5),
    overflowWrap: 'anywhere',
  }),
  pill: css({
    borderRadius: theme.shape.radius.pill,
    padding: theme.spacing(0, 1),
    fontWeight: theme.typography.fontWeightMedium,
    textTransform: 'uppercase',
    fontSize: 11,
  }),
  // minWidth 0: a flex item is otherwise as wide as its longest word, which wrapping cannot shrink.
  title: css({ fontWeight: theme.typography.fontWeightMedium, fontSize: theme.typography.body.fontSize, minWidth: 0 }),
  meta: css({ color: theme.colors.text.secondary, marginBottom: theme.spacing(1), overflowWrap: 'anywhere' }),
  summary: css({ margin: theme.spacing(0, 0, 1), fontSize: theme.typography.body.fontSize, overflowWrap: 'anywhere' }),
  section: css({
    margin: theme.spacing(1.5, 0, 0.5),
    fontSize: theme.typography.bodySmall.fontSize,
    fontWeight: theme.typography.fontWeightMedium,
    color: theme.colors.text.secondary,
    textTransform: 'uppercase',
    letterSpacing: '0.04em',
  }),
  table: css({
    width: '100%',
    borderCollapse: 'collapse',
    'th, td': { textAlign: 'left', padding: theme.spacing(0.25, 0.5), borderBottom: `1px solid ${theme.colors.border.weak}` },
    th: { color: theme.colors.text.secondary, fontWeight: theme.typography.fontWeightRegular },
    '.num': { textAlign: 'right', fontVariantNumeric: 'tabular-nums' },
  }),
  outside: css({ color: theme.colors.error.text, fontWeight: theme.typography.fontWeightMedium }),
  list: css({ margin: 0, paddingLeft: theme.spacing(2) }),
  actions: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'center', flexWrap: 'wrap', margin: theme.spacing(0, 0, 1) }),
  feedbackNote: css({ color: theme.colors.text.secondary }),
  muted: css({ color: theme.colors.text.secondary }),
});

/**
 * Side pane: the selected anomaly's explanation (markdown rendered safely), its evidence (features
 * that moved against their expected band, similar past incidents) and the feedback buttons, which post
 * through the datasource and then reload the anomaly to show the stored verdict.
 */
export function ExplanationPane({ anomaly, api, apiProblem, canSendFeedback = false, timeZone }: ExplanationPaneProps) {
  const styles = useStyles2(getStyles);
  const theme = useTheme2();
  const [state, setState] = useState<RecordState>({ status: 'loading' });
  const [feedback, setFeedback] = useState<FeedbackState>({ status: 'idle' });

  // Bumped after feedback so the anomaly is fetched again and shows the stored verdict.
  const [revision, setRevision] = useState(0);

  // The parent keys this pane by anomaly id, so a new selection starts from fresh state.
  useEffect(() => {
    if (!api || !anomaly.id) {
      return;
    }
    let live = true;
    api.getAnomaly(anomaly.id).then(
      (record) => live && setState({ status: 'loaded', record }),
      (err: unknown) => live && setState({ status: 'error', message: err instanceof Error ? err.message : String(err) })
    );
    return () => {
      live = false;
    };
  }, [api, anomaly.id, revision]);

  const send = async (verdict: Verdict) => {
    if (!api || !canSendFeedback) {
      return;
    }
    setFeedback({ status: 'posting', verdict });
    try {
      const res = await api.postFeedback({ anomalyId: anomaly.id, verdict });
      setFeedback({ status: 'done', verdict, patternsAdded: res.patternsAdded });
      setRevision((r) => r + 1);
    } catch (err) {
      setFeedback({ status: 'failed', message: err instanceof Error ? err.message : String(err) });
    }
  };

  const record = state.status === 'loaded' ? state.record : undefined;
  const explanation = record?.explanation;
  const features: Attribution[] = explanation?.evidence?.features ?? record?.attributions ?? [];
  const similar = explanation?.evidence?.similarIncidents ?? [];
  const storedVerdict: string = record?.feedback?.verdict ?? anomaly.feedback;
  const color = theme.visualization.getColorByName(severityColorName(anomaly.severity));

  return (
    <section className={styles.root} aria-label="Anomaly explanation" data-testid="explanation-pane">
      <div className={styles.header}>
        <span className={styles.pill} style={{ background: color, color: theme.colors.getContrastText(color) }}>
          {anomaly.severity || 'unknown'}
        </span>
        <span className={styles.title}>{humanize(anomaly.type || 'anomaly')}</span>
        {anomaly.score !== null && <span className={styles.muted}>score {formatValue(anomaly.score, undefined, 2)}</span>}
      </div>
      <div className={styles.meta}>
        {[anomaly.service && `service ${anomaly.service}`, anomaly.model && `model ${anomaly.model}`].filter(Boolean).join(' · ')}
        {(anomaly.service || anomaly.model) && <br />}
        {formatTime(anomaly.start, timeZone)} to {formatTime(anomaly.end, timeZone)}
        {record?.status && <span data-testid="incident-status"> · {statusText(record)}</span>}
      </div>

      <p className={styles.summary}>{explanation?.summary ?? anomaly.summary}</p>

      {!api && apiProblem && <div className={styles.muted}>{apiProblem}</div>}
      {/* Feedback sits right under the summary so it is reachable without scrolling the evidence. */}
      {api && !canSendFeedback && (
        <div className={styles.actions} data-testid="feedback-readonly">
          <span className={styles.feedbackNote} role="status" data-testid="feedback-status">
            {storedVerdict ? `Marked as ${VERDICT_TEXT[storedVerdict as Verdict] ?? storedVerdict}. ` : ''}
            Feedback needs the Editor role.
          </span>
        </div>
      )}
      {api && canSendFeedback && (
        <div className={styles.actions}>
          <Button
            size="sm"
            variant="secondary"
            icon="times"
            disabled={feedback.status === 'posting'}
            onClick={() => void send('false_positive')}
          >
            False positive
          </Button>
          <Button
            size="sm"
            variant="primary"
            icon="check"
            disabled={feedback.status === 'posting'}
            onClick={() => void send('true_positive')}
          >
            Confirm
          </Button>
          <span className={styles.feedbackNote} role="status" data-testid="feedback-status">
            {feedback.status === 'posting' && 'Sending feedback…'}
            {feedback.status === 'done' &&
              `Feedback recorded: ${VERDICT_TEXT[feedback.verdict]}${
                typeof feedback.patternsAdded === 'number' ? ` (${feedback.patternsAdded} pattern${feedback.patternsAdded === 1 ? '' : 's'} added)` : ''
              }.`}
            {feedback.status === 'idle' && storedVerdict && `Marked as ${VERDICT_TEXT[storedVerdict as Verdict] ?? storedVerdict}.`}
          </span>
        </div>
      )}
      {feedback.status === 'failed' && (
        <Alert severity="error" title="Feedback was not saved">
          {feedback.message}
        </Alert>
      )}
      {api && state.status === 'loading' && <LoadingPlaceholder text="Loading explanation…" />}
      {state.status === 'error' && (
        <Alert severity="error" title="Could not load the explanation">
          {state.message}
        </Alert>
      )}

      {explanation?.markdown && <SafeMarkdown source={explanation.markdown} />}
      {/* The backend's markdown of an LLM explanation already has these sections (they showed twice, QA); the
          fields are shown on their own only for an explanation without markdown. */}
      {!explanation?.markdown && explanation?.rootCause && (
        <>
          <h4 className={styles.section}>Root cause</h4>
          <SafeMarkdown source={explanation.rootCause} />
        </>
      )}
      {!explanation?.markdown && explanation?.immediateFix && (
        <>
          <h4 className={styles.section}>Immediate fix</h4>
          <SafeMarkdown source={explanation.immediateFix} />
        </>
      )}
      {!explanation?.markdown && explanation?.longTermFix && (
        <>
          <h4 className={styles.section}>Long-term fix</h4>
          <SafeMarkdown source={explanation.longTermFix} />
        </>
      )}

      {record && (
        <>
          <h4 className={styles.section}>Evidence</h4>
          {features.length ? (
            <table className={styles.table} data-testid="evidence-table">
              <thead>
                <tr>
                  <th>feature</th>
                  <th className="num">actual</th>
                  <th className="num">expected (band)</th>
                  <th className="num">z</th>
                </tr>
              </thead>
              <tbody>
                {features.map((f) => {
                  const unit = featureUnit(f.feature);
                  const outside =
                    (typeof f.upper === 'number' && f.actual > f.upper) || (typeof f.lower === 'number' && f.actual < f.lower);
                  return (
                    <tr key={f.feature}>
                      <td>{f.feature}</td>
                      <td className={`num ${outside ? styles.outside : ''}`}>{formatValue(f.actual, unit)}</td>
                      <td className="num">
                        {formatValue(f.expected, unit)}
                        {typeof f.lower === 'number' && typeof f.upper === 'number'
                          ? ` (${formatValue(f.lower, unit)} to ${formatValue(f.upper, unit)})`
                          : ''}
                      </td>
                      <td className="num">{formatValue(f.z, undefined, 1)}</td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          ) : (
            <div className={styles.muted}>No feature attributions.</div>
          )}

          <h4 className={styles.section}>Similar past incidents</h4>
          {similar.length ? (
            <ul className={styles.list} data-testid="similar-incidents">
              {similar.map((s) => (
                <li key={s.anomalyId}>
                  {humanize(s.type ?? 'incident')}
                  {s.cause ? `: ${s.cause}` : ''}
                  {s.timestamp ? ` (${formatTime(Date.parse(s.timestamp), timeZone)})` : ''}
                  <span className={styles.muted}> · distance {formatValue(s.distance, undefined, 2)}</span>
                </li>
              ))}
            </ul>
          ) : (
            <div className={styles.muted}>None seen before.</div>
          )}
        </>
      )}

    </section>
  );
}

/** Whether the incident is open, and why a resolved one resolved (a silent series did not recover). */
function statusText(record: AnomalyRecord): string {
  if (record.status !== 'resolved') {
    return 'open';
  }
  switch (record.resolution) {
    case 'stale':
      return 'resolved: its series stopped reporting';
    case 'state_lost':
      return 'resolved: its series state was lost at a restart';
    default:
      return 'resolved';
  }
}
