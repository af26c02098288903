import { css } from '@emotion/css';
import type { GrafanaTheme2, TimeZone } from '@grafana/data';
import { useStyles2, useTheme2 } from '@grafana/ui';
import React, { useMemo, useState, type MouseEvent } from 'react';

import { severityColorName } from '../../shared/severity';
import { formatAxisValue, formatTick, formatTime, formatValue, humanize } from '../format';
import { bandPath, extent, linearScale, linePath, nearestIndex, niceTicks, regionSpan, timeTicks } from '../geometry';
import type { AnomalyView, SeriesView } from '../panel-data';

/** Props of {@link Timeline}. */
export interface TimelineProps {
  series: SeriesView;
  anomalies: AnomalyView[];
  from: number;
  to: number;
  width: number;
  height: number;
  showScore: boolean;
  showBand: boolean;
  scoreThreshold: number;
  selectedId?: string;
  onSelect: (id: string) => void;
  timeZone?: TimeZone;
}

const MARGIN = { left: 56, right: 12, top: 10, bottom: 22 };
const TRACK_GAP = 18;
const LEGEND_HEIGHT = 22;

const getStyles = (theme: GrafanaTheme2) => ({
  root: css({ position: 'relative', userSelect: 'none' }),
  axis: css({ fill: theme.colors.text.secondary, fontSize: 11, fontFamily: theme.typography.fontFamily }),
  trackLabel: css({ fill: theme.colors.text.secondary, fontSize: 11, fontWeight: theme.typography.fontWeightMedium }),
  region: css({ cursor: 'pointer', outline: 'none', '&:focus-visible rect': { strokeWidth: 2 } }),
  legend: css({
    display: 'flex',
    flexWrap: 'wrap',
    gap: theme.spacing(1.5),
    alignItems: 'center',
    height: LEGEND_HEIGHT,
    paddingLeft: MARGIN.left,
    fontSize: theme.typography.bodySmall.fontSize,
    color: theme.colors.text.secondary,
    overflow: 'hidden',
  }),
  swatch: css({ display: 'inline-block', width: 14, height: 8, marginRight: 4, verticalAlign: 'middle', borderRadius: 1 }),
  tooltip: css({
    position: 'absolute',
    pointerEvents: 'none',
    background: theme.colors.background.primary,
    border: `1px solid ${theme.colors.border.medium}`,
    boxShadow: theme.shadows.z2,
    borderRadius: theme.shape.radius.default,
    padding: theme.spacing(0.5, 1),
    fontSize: theme.typography.bodySmall.fontSize,
    whiteSpace: 'nowrap',
    zIndex: 1,
  }),
});

/**
 * The timeline: the feature with its expected band on top, the anomaly score below, anomalies as
 * clickable regions coloured by severity across both tracks. Plain SVG from pure geometry, so it
 * renders the same in Grafana, in jsdom and in the browser test.
 */
export function Timeline(props: TimelineProps) {
  const { series, anomalies, from, to, width, height, showScore, showBand, scoreThreshold, selectedId, onSelect, timeZone } = props;
  const theme = useTheme2();
  const styles = useStyles2(getStyles);
  const [hover, setHover] = useState<number>();

  const colors = {
    value: theme.colors.primary.main,
    band: theme.colors.primary.main,
    expected: theme.colors.text.secondary,
    score: theme.visualization.getColorByName('purple'),
    threshold: theme.visualization.getColorByName('red'),
    grid: theme.colors.border.weak,
  };

  const svgHeight = Math.max(60, height - LEGEND_HEIGHT);
  const plotBottom = svgHeight - MARGIN.bottom;
  const scoreTrack = showScore && series.score.some((s) => s !== null);
  const featureBottom = scoreTrack ? MARGIN.top + (plotBottom - MARGIN.top - TRACK_GAP) * 0.64 : plotBottom;
  const scoreTop = featureBottom + TRACK_GAP;

  const geo = useMemo(() => {
    const x = linearScale([from, to], [MARGIN.left, Math.max(MARGIN.left + 10, width - MARGIN.right)]);
    const featureExtent = extent(series.value, ...(showBand ? [series.lower, series.upper, series.expected] : [])) ?? [0, 1];
    const padded: [number, number] = [
      Math.min(0, featureExtent[0]),
      featureExtent[1] + (featureExtent[1] - Math.min(0, featureExtent[0])) * 0.08,
    ];
    const yFeature = linearScale(padded, [featureBottom, MARGIN.top]);
    const scoreMax = Math.max(scoreThreshold * 1.5, (extent(series.score)?.[1] ?? 0) * 1.08);
    const yScore = linearScale([0, scoreMax], [plotBottom, scoreTop]);
    return { x, yFeature, yScore };
  }, [from, to, width, series, showBand, featureBottom, plotBottom, scoreTop, scoreThreshold]);
  const { x, yFeature, yScore } = geo;

  const regions = anomalies
    .map((a) => ({ a, span: regionSpan(a.start, a.end, x) }))
    .filter((r): r is { a: AnomalyView; span: { x: number; width: number } } => Boolean(r.span));

  // The whole SVG tracks the pointer (regions only handle clicks), so hovering anywhere shows values.
  const onMove = (event: MouseEvent<SVGSVGElement>) => {
    const box = event.currentTarget.getBoundingClientRect();
    const px = event.clientX - box.left;
    if (px < x.range[0] || px > x.range[1]) {
      setHover(undefined);
      return;
    }
    const [d0, d1] = x.domain;
    const [r0, r1] = x.range;
    const t = d0 + ((px - r0) / (r1 - r0)) * (d1 - d0);
    setHover(nearestIndex(series.time, t));
  };

  const hoverX = hover !== undefined && hover >= 0 ? x(series.time[hover]) : undefined;

  return (
    <div className={styles.root} style={{ width, height }} data-testid="sentinel-timeline">
      <svg
        width={width}
        height={svgHeight}
        role="img"
        aria-label={`${series.feature} with expected band and anomaly score`}
        onMouseMove={onMove}
        onMouseLeave={() => setHover(undefined)}
      >
        {/* grid and axes */}
        {niceTicks(yFeature.domain[0], yFeature.domain[1], Math.max(2, Math.floor((featureBottom - MARGIN.top) / 40))).map((v) => (
          <g key={`fy${v}`}>
            <line x1={MARGIN.left} x2={x.range[1]} y1={yFeature(v)} y2={yFeature(v)} stroke={colors.grid} />
            <text className={styles.axis} x={MARGIN.left - 6} y={yFeature(v) + 4} textAnchor="end">
              {formatAxisValue(v, series.unit)}
            </text>
          </g>
        ))}
        {scoreTrack &&
          niceTicks(0, yScore.domain[1], 2).map((v) => (
            <g key={`sy${v}`}>
              <line x1={MARGIN.left} x2={x.range[1]} y1={yScore(v)} y2={yScore(v)} stroke={colors.grid} />
              <text className={styles.axis} x={MARGIN.left - 6} y={yScore(v) + 4} textAnchor="end">
                {formatAxisValue(v)}
              </text>
            </g>
          ))}
        {timeTicks(from, to, Math.max(2, Math.floor(width / 110))).map((t) => (
          <text
            key={`x${t}`}
            className={styles.axis}
            x={x(t)}
            y={svgHeight - 6}
            // Labels at the plot edges are anchored inwards so they are not cut off.
            textAnchor={x(t) > x.range[1] - 24 ? 'end' : x(t) < x.range[0] + 24 ? 'start' : 'middle'}
          >
            {formatTick(t, to - from, timeZone)}
          </text>
        ))}
        <text className={styles.trackLabel} x={MARGIN.left + 4} y={MARGIN.top + 11}>
          {series.feature}
        </text>
        {scoreTrack && (
          <text className={styles.trackLabel} x={MARGIN.left + 4} y={scoreTop + 11}>
            anomaly score
          </text>
        )}

        {/* anomalies: regions behind the lines, clickable */}
        {regions.map(({ a, span }) => {
          const color = theme.visualization.getColorByName(severityColorName(a.severity));
          const selected = a.id === selectedId;
          return (
            <g
              key={a.id}
              className={styles.region}
              data-testid="anomaly-region"
              data-severity={a.severity}
              data-selected={selected}
              role="button"
              tabIndex={0}
              aria-label={`${a.severity} ${humanize(a.type)} at ${formatTime(a.start, timeZone)}`}
              aria-pressed={selected}
              onClick={() => onSelect(a.id)}
              onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ') && onSelect(a.id)}
            >
              <title>{`${a.severity} ${humanize(a.type)}${a.summary ? `: ${a.summary}` : ''}`}</title>
              <rect
                x={span.x}
                y={MARGIN.top}
                width={span.width}
                height={plotBottom - MARGIN.top}
                fill={color}
                fillOpacity={selected ? 0.3 : 0.15}
                stroke={color}
                strokeOpacity={selected ? 0.9 : 0.4}
                strokeWidth={selected ? 1.5 : 1}
              />
              <rect x={span.x} y={MARGIN.top - 4} width={span.width} height={4} fill={color} />
            </g>
          );
        })}

        {/* feature track */}
        {showBand && (
          <path
            data-testid="expected-band"
            d={bandPath(series.time, series.lower, series.upper, x, yFeature)}
            fill={colors.band}
            fillOpacity={0.16}
            stroke="none"
          />
        )}
        {showBand && (
          <path
            data-testid="expected-line"
            d={linePath(series.time, series.expected, x, yFeature)}
            fill="none"
            stroke={colors.expected}
            strokeDasharray="4 3"
            strokeWidth={1}
          />
        )}
        <path data-testid="value-line" d={linePath(series.time, series.value, x, yFeature)} fill="none" stroke={colors.value} strokeWidth={1.8} />
        {series.time.map((t, i) =>
          series.isAnomaly[i] && series.value[i] !== null ? (
            <circle key={`p${t}`} cx={x(t)} cy={yFeature(series.value[i]!)} r={3} fill={colors.threshold} />
          ) : null
        )}

        {/* score track */}
        {scoreTrack && (
          <>
            <line
              x1={MARGIN.left}
              x2={x.range[1]}
              y1={yScore(scoreThreshold)}
              y2={yScore(scoreThreshold)}
              stroke={colors.threshold}
              strokeDasharray="6 4"
              strokeOpacity={0.8}
            />
            <path data-testid="score-line" d={linePath(series.time, series.score, x, yScore)} fill="none" stroke={colors.score} strokeWidth={1.5} />
          </>
        )}

        {hoverX !== undefined && (
          <line x1={hoverX} x2={hoverX} y1={MARGIN.top} y2={plotBottom} stroke={theme.colors.text.secondary} strokeOpacity={0.6} />
        )}
      </svg>
      {hover !== undefined && hover >= 0 && hoverX !== undefined && (
        <div className={styles.tooltip} style={{ left: Math.min(hoverX + 8, Math.max(0, width - 220)), top: MARGIN.top }} role="tooltip">
          <div>{formatTime(series.time[hover], timeZone)}</div>
          <div>
            {series.feature}: <strong>{formatValue(series.value[hover], series.unit)}</strong>
          </div>
          {showBand && series.expected[hover] !== null && (
            <div>
              expected {formatValue(series.expected[hover], series.unit)} ({formatValue(series.lower[hover], series.unit)} to{' '}
              {formatValue(series.upper[hover], series.unit)})
            </div>
          )}
          {series.score[hover] !== null && <div>score {formatValue(series.score[hover], undefined, 2)}</div>}
        </div>
      )}
      <div className={styles.legend}>
        <span>
          <span className={styles.swatch} style={{ background: colors.value }} />
          {series.feature}
        </span>
        {showBand && (
          <span>
            <span className={styles.swatch} style={{ background: colors.band, opacity: 0.3 }} />
            expected band
          </span>
        )}
        {scoreTrack && (
          <span>
            <span className={styles.swatch} style={{ background: colors.score }} />
            score (threshold {scoreThreshold})
          </span>
        )}
        {(['critical', 'high', 'medium', 'low'] as const).map((s) => (
          <span key={s}>
            <span className={styles.swatch} style={{ background: theme.visualization.getColorByName(severityColorName(s)), opacity: 0.6 }} />
            {s}
          </span>
        ))}
      </div>
    </div>
  );
}
