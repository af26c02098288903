import { css } from '@emotion/css';
import type { GrafanaTheme2, QueryEditorProps, SelectableValue } from '@grafana/data';
import { InlineField, InlineFieldRow, Input, MultiSelect, RadioButtonGroup, Select, useStyles2 } from '@grafana/ui';
import React, { useEffect, useMemo, useState } from 'react';

import { ANOMALY_TYPES, SEVERITIES, type AnomalyRecord, type SeriesInfo } from '../../shared/api-types';
import type { SentinelDataSource } from '../datasource';
import { anomalyOptions, editorOptions, parseLimit, toSelectOptions } from '../editor-options';
import { queryTypeOf } from '../query';
import { MAX_ANOMALY_LIMIT, MAX_POINTS_LIMIT, QueryType, type SentinelOptions, type SentinelQuery } from '../types';

/** Props Grafana passes to the query editor. */
export type SentinelQueryEditorProps = QueryEditorProps<SentinelDataSource, SentinelQuery, SentinelOptions>;

const QUERY_TYPES: Array<SelectableValue<QueryType>> = [
  { label: 'Score & band', value: QueryType.Scores, description: 'Anomaly score and a feature with its expected band' },
  { label: 'Anomalies', value: QueryType.Anomalies, description: 'Anomaly records as a table' },
  { label: 'Explanation', value: QueryType.Explanation, description: "One anomaly's explanation and evidence" },
  { label: 'Raw feature', value: QueryType.Features, description: 'A feature series without score or band' },
];

const LABEL_WIDTH = 14;

const getStyles = (theme: GrafanaTheme2) => ({
  loadError: css({ color: theme.colors.warning.text, fontSize: theme.typography.bodySmall.fontSize }),
});

/**
 * Query editor. Pickers are filled from the backend (`/api/v1/series`, recent anomalies) but accept
 * custom values and template variables, so a dashboard can be built before data arrives.
 */
export function QueryEditor({ query, onChange, onRunQuery, datasource, range }: SentinelQueryEditorProps) {
  const styles = useStyles2(getStyles);
  const queryType = queryTypeOf(query);
  const [series, setSeries] = useState<SeriesInfo[]>([]);
  const [anomalies, setAnomalies] = useState<AnomalyRecord[]>([]);
  const [loadError, setLoadError] = useState<string>();
  const variables = useMemo(() => datasource.variableOptions(), [datasource]);

  useEffect(() => {
    let live = true;
    datasource
      .listSeries()
      .then((items) => live && setSeries(items))
      .catch((err: Error) => live && setLoadError(`Could not load series: ${err.message}`));
    return () => {
      live = false;
    };
  }, [datasource]);

  const fromMs = range?.from.valueOf();
  const toMs = range?.to.valueOf();
  useEffect(() => {
    if (queryType !== QueryType.Explanation) {
      return;
    }
    let live = true;
    const now = Date.now();
    datasource
      .listAnomalies({ from: fromMs ?? now - 24 * 3600_000, to: toMs ?? now })
      .then((items) => live && setAnomalies(items))
      .catch((err: Error) => live && setLoadError(`Could not load anomalies: ${err.message}`));
    return () => {
      live = false;
    };
  }, [datasource, queryType, fromMs, toMs]);

  const options = useMemo(() => editorOptions(series, query), [series, query]);

  const update = (patch: Partial<SentinelQuery>) => {
    onChange({ ...query, ...patch });
    onRunQuery();
  };
  const pick =
    (key: 'service' | 'model' | 'seriesKey' | 'feature' | 'anomalyType' | 'anomalyId') =>
    (value: SelectableValue<string> | null) =>
      update({ [key]: value?.value || undefined });

  const stringSelect = (
    id: string,
    label: string,
    key: 'service' | 'model' | 'seriesKey' | 'feature',
    values: string[],
    tooltip: string,
    width = 28
  ) => (
    <InlineField label={label} labelWidth={LABEL_WIDTH} tooltip={tooltip}>
      <Select
        inputId={id}
        width={width}
        isClearable
        allowCustomValue
        placeholder="any"
        value={query[key] ?? null}
        options={toSelectOptions(values, variables, query[key])}
        onChange={pick(key)}
      />
    </InlineField>
  );

  return (
    <div data-testid="sentinel-query-editor">
      <InlineFieldRow>
        <InlineField label="Query type" labelWidth={LABEL_WIDTH}>
          <RadioButtonGroup<QueryType>
            options={QUERY_TYPES}
            value={queryType}
            onChange={(value) => update({ queryType: value })}
          />
        </InlineField>
      </InlineFieldRow>

      {(queryType === QueryType.Scores || queryType === QueryType.Features) && (
        <>
          <InlineFieldRow>
            {stringSelect('sentinel-service', 'Service', 'service', options.services, 'Only series of this service')}
            {stringSelect('sentinel-model', 'Model', 'model', options.models, 'Only series of this model')}
          </InlineFieldRow>
          <InlineFieldRow>
            {stringSelect('sentinel-series', 'Series', 'seriesKey', options.seriesKeys, 'One series key; empty = all matching', 40)}
            {stringSelect('sentinel-feature', 'Feature', 'feature', options.features, "Feature to plot; empty = the series' primary feature")}
          </InlineFieldRow>
        </>
      )}

      {queryType === QueryType.Anomalies && (
        <>
          <InlineFieldRow>
            {stringSelect('sentinel-service', 'Service', 'service', options.services, 'Only anomalies of this service')}
            {stringSelect('sentinel-model', 'Model', 'model', options.models, 'Only anomalies of this model')}
          </InlineFieldRow>
          <InlineFieldRow>
            {stringSelect(
              'sentinel-series',
              'Series',
              'seriesKey',
              options.seriesKeys,
              "Only this series' anomalies. Set it (or service/model) when a panel shows one series: the newest anomalies of all series may leave its own out.",
              40
            )}
          </InlineFieldRow>
          <InlineFieldRow>
            <InlineField label="Severity" labelWidth={LABEL_WIDTH}>
              <MultiSelect<string>
                inputId="sentinel-severity"
                width={36}
                placeholder="any"
                value={query.severity ?? []}
                options={toSelectOptions([...SEVERITIES], variables)}
                onChange={(values) => update({ severity: values.map((v) => v.value!).filter(Boolean) })}
              />
            </InlineField>
            <InlineField label="Type" labelWidth={8}>
              <Select
                inputId="sentinel-type"
                width={24}
                isClearable
                allowCustomValue
                placeholder="any"
                value={query.anomalyType ?? null}
                options={toSelectOptions([...ANOMALY_TYPES], variables, query.anomalyType)}
                onChange={pick('anomalyType')}
              />
            </InlineField>
          </InlineFieldRow>
        </>
      )}

      {queryType === QueryType.Explanation && (
        <InlineFieldRow>
          <InlineField label="Anomaly" labelWidth={LABEL_WIDTH} tooltip="Anomaly id, picked from this time range or typed">
            <Select
              inputId="sentinel-anomaly"
              width={72}
              allowCustomValue
              placeholder="choose an anomaly"
              value={query.anomalyId ?? null}
              options={[
                ...toSelectOptions(variables),
                ...anomalyOptions(anomalies),
                ...(query.anomalyId && !anomalies.some((a) => a.id === query.anomalyId) && !variables.includes(query.anomalyId)
                  ? [{ label: query.anomalyId, value: query.anomalyId }]
                  : []),
              ]}
              onChange={pick('anomalyId')}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {queryType !== QueryType.Explanation && (
        <InlineFieldRow>
          <InlineField
            label="Limit"
            labelWidth={LABEL_WIDTH}
            tooltip={
              queryType === QueryType.Anomalies
                ? `Newest anomalies to fetch (1-${MAX_ANOMALY_LIMIT}, default 100)`
                : `Points per series (1-${MAX_POINTS_LIMIT}, default 1000)`
            }
          >
            <Input
              // Remounted per query type so the shown value is the clamped one of that type.
              key={queryType === QueryType.Anomalies ? 'rows' : 'points'}
              id="sentinel-limit"
              type="number"
              width={12}
              min={1}
              max={queryType === QueryType.Anomalies ? MAX_ANOMALY_LIMIT : MAX_POINTS_LIMIT}
              step={1}
              defaultValue={query.limit ?? ''}
              placeholder="default"
              onBlur={(e) => {
                const limit = parseLimit(e.currentTarget.value, queryType === QueryType.Anomalies ? MAX_ANOMALY_LIMIT : MAX_POINTS_LIMIT);
                // Show what will be sent: the backend refuses a limit above its maximum.
                e.currentTarget.value = limit === undefined ? '' : String(limit);
                if (limit !== query.limit) {
                  update({ limit });
                }
              }}
            />
          </InlineField>
        </InlineFieldRow>
      )}

      {loadError && (
        <div role="status" className={styles.loadError}>
          {loadError}
        </div>
      )}
    </div>
  );
}

