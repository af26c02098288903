import { css } from '@emotion/css';
import { LoadingState, type GrafanaTheme2, type PanelData, type PanelProps } from '@grafana/data';
import { Alert, LoadingPlaceholder, Select, Spinner, useStyles2 } from '@grafana/ui';
import React, { useContext, useEffect, useMemo, useState } from 'react';

import type { SentinelApi } from '../../shared/sentinel-api';
import { anomaliesFor, defaultAnomaly, extractPanelModel, hasPointsIn, seriesLabels } from '../panel-data';
import { DatasourceLookupContext, resolveSentinelApi, SENTINEL_DATASOURCE_TYPE } from '../sentinel-api-resolver';
import { DEFAULT_PANEL_OPTIONS, type SentinelPanelOptions } from '../types';
import { canSendFeedback, OrgRoleContext } from '../user-role';
import { ExplanationPane } from './ExplanationPane';
import { Timeline } from './Timeline';

/** Props Grafana passes to the panel. */
export type SentinelPanelProps = PanelProps<SentinelPanelOptions>;

/** Below this width the side pane moves under the timeline. */
const NARROW_WIDTH = 640;
const HEADER_HEIGHT = 32;

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ display: 'flex', width: '100%', height: '100%', gap: theme.spacing(1), position: 'relative' }),
  main: css({ display: 'flex', flexDirection: 'column', minWidth: 0 }),
  header: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(1), height: HEADER_HEIGHT }),
  pane: css({ borderLeft: `1px solid ${theme.colors.border.weak}`, minHeight: 0 }),
  paneBelow: css({ borderTop: `1px solid ${theme.colors.border.weak}`, minHeight: 0 }),
  empty: css({
    display: 'flex',
    flexDirection: 'column',
    alignItems: 'center',
    justifyContent: 'center',
    height: '100%',
    textAlign: 'center',
    color: theme.colors.text.secondary,
    gap: theme.spacing(1),
  }),
  loadingBadge: css({ position: 'absolute', top: 0, right: 0 }),
  hint: css({ color: theme.colors.text.secondary, fontSize: theme.typography.bodySmall.fontSize }),
});

/**
 * Whether the panel has both of its queries: an LLM-Sentinel "Score & band" (or "Feature") query and an
 * "Anomalies" one, not hidden. A query without a datasource type counts only when its query type says it is
 * Sentinel's (other datasources' queries have no such field).
 */
export function hasBothQueries(data: PanelData): boolean {
  const types = (data.request?.targets ?? [])
    .filter((t) => !t.hide && (t.datasource?.type === SENTINEL_DATASOURCE_TYPE || (!t.datasource?.type && 'queryType' in t)))
    .map((t) => (t as { queryType?: string }).queryType ?? 'scores');
  return types.some((t) => t === 'scores' || t === 'features') && types.includes('anomalies');
}

/**
 * The LLM-Sentinel panel: timeline of a series' feature with its expected band and anomaly score,
 * anomalies marked by severity, and a side pane with the selected anomaly's explanation, evidence and
 * feedback. Data comes from the panel's queries (a "Score & band" and an "Anomalies" query); the
 * explanation and feedback go through the query's datasource.
 */
export function SentinelPanel({ data, width, height, options, timeRange, timeZone }: SentinelPanelProps) {
  const styles = useStyles2(getStyles);
  const opts = { ...DEFAULT_PANEL_OPTIONS, ...options };
  const lookup = useContext(DatasourceLookupContext);
  const orgRole = useContext(OrgRoleContext);
  const model = useMemo(() => extractPanelModel(data.series), [data.series]);
  const [seriesId, setSeriesId] = useState<string>();
  const [selectedId, setSelectedId] = useState<string>();
  const [resolved, setResolved] = useState<{ api?: SentinelApi; problem?: string }>({});

  const targetsKey = JSON.stringify(data.request?.targets?.map((t) => t.datasource) ?? []);
  useEffect(() => {
    let live = true;
    void resolveSentinelApi(data, lookup).then((r) => live && setResolved(r));
    return () => {
      live = false;
    };
    // Resolve again only when the queries' datasources change, not on every refresh.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [targetsKey, lookup]);

  const from = timeRange.from.valueOf();
  const to = timeRange.to.valueOf();
  const series = model.series.find((s) => s.id === seriesId) ?? model.series[0];
  const anomalies = useMemo(
    () => anomaliesFor(model.anomalies, series?.seriesKey, from, to),
    [model.anomalies, series?.seriesKey, from, to]
  );
  const selected = anomalies.find((a) => a.id === selectedId) ?? defaultAnomaly(anomalies);

  const errors = data.errors?.length ? data.errors : data.error ? [data.error] : [];
  const loading = data.state === LoadingState.Loading;

  if (!series) {
    if (loading) {
      return <LoadingPlaceholder text="Loading anomaly scores…" />;
    }
    return (
      <div className={styles.empty} data-testid="sentinel-panel-empty">
        {errors.length > 0 ? (
          <Alert severity="error" title="Query failed">
            {errors.map((e) => e.message).join('\n')}
          </Alert>
        ) : (
          <>
            <div>No data</div>
            <div className={styles.hint}>
              {hasBothQueries(data)
                ? 'The queries are set up, but LLM-Sentinel has no series matching them yet: a series appears once its first window has closed. Check the queries\' filters, and that telemetry reaches the service.'
                : 'Add a "Score & band" query and an "Anomalies" query from the LLM-Sentinel datasource.'}
            </div>
          </>
        )}
      </div>
    );
  }

  // A series known to the backend but without points here (a future range, history older than what
  // Sentinel keeps) would draw empty axes: say so instead, unless anomalies still mark the range.
  const emptyRange = !hasPointsIn(series, from, to) && anomalies.length === 0;
  const narrow = width < NARROW_WIDTH;
  const showPane = opts.showExplanation && Boolean(selected);
  const paneWidth = showPane && !narrow ? Math.round((width * opts.paneWidthPercent) / 100) : 0;
  const mainWidth = width - paneWidth - (paneWidth ? 8 : 0);
  const paneHeight = showPane && narrow ? Math.round(height * 0.45) : 0;
  const notices = [...errors.map((e) => `${e.refId ? `${e.refId}: ` : ''}${e.message}`), ...model.notices];
  const headerHeight = model.series.length > 1 || notices.length ? HEADER_HEIGHT : 0;
  const labels = seriesLabels(model.series);
  const timelineHeight = height - paneHeight - headerHeight - (paneHeight ? 8 : 0);

  return (
    <div className={styles.root} style={{ flexDirection: narrow ? 'column' : 'row' }} data-testid="sentinel-panel">
      <div className={styles.main} style={{ width: mainWidth }}>
        {headerHeight > 0 && (
          <div className={styles.header}>
            {model.series.length > 1 && (
              <Select
                aria-label="Series"
                width={40}
                value={series.id}
                options={model.series.map((s, i) => ({ label: labels[i], value: s.id }))}
                onChange={(v) => setSeriesId(v?.value)}
              />
            )}
            {notices.length > 0 && (
              <span className={styles.hint} role="alert">
                {notices.join('; ')}
              </span>
            )}
          </div>
        )}
        {emptyRange ? (
          <div className={styles.empty} style={{ height: timelineHeight }} data-testid="sentinel-panel-empty-range">
            <div>No data in this time range</div>
            <div className={styles.hint}>
              {series.seriesKey || series.feature} has no scored windows between these times. Sentinel keeps the last 720
              windows of each series (12 h of 1-minute windows); chart older history from its Prometheus metrics.
            </div>
          </div>
        ) : (
          <Timeline
            series={series}
            anomalies={anomalies}
            from={from}
            to={to}
            width={mainWidth}
            height={timelineHeight}
            showScore={opts.showScore}
            showBand={opts.showBand}
            scoreThreshold={opts.scoreThreshold}
            selectedId={selected?.id}
            onSelect={setSelectedId}
            timeZone={timeZone}
          />
        )}
      </div>
      {showPane && selected && (
        <div
          className={narrow ? styles.paneBelow : styles.pane}
          style={narrow ? { height: paneHeight, width } : { width: paneWidth, height }}
        >
          <ExplanationPane
            key={selected.id}
            anomaly={selected}
            api={resolved.api}
            apiProblem={resolved.problem}
            canSendFeedback={canSendFeedback(orgRole())}
            timeZone={timeZone}
          />
        </div>
      )}
      {loading && (
        <div className={styles.loadingBadge}>
          <Spinner />
        </div>
      )}
    </div>
  );
}
