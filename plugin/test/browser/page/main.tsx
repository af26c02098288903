/**
 * The browser test page: the real panel and the real query editor, with @grafana/ui, against a running
 * backend. It stands in for Grafana only where Grafana is absent: a fetch-based backendSrv, a
 * templateSrv without variables, a datasource lookup that returns this page's datasource, and the
 * panel props a dashboard would pass. Requests go to `<origin>/api/datasources/proxy/uid/<uid>/sentinel`
 * like Grafana's data proxy; the test's server forwards them to the backend and adds the API key.
 */
import {
  createTheme,
  dateTime,
  EventBusSrv,
  LoadingState,
  ThemeContext,
  type DataQueryRequest,
  type DataSourceInstanceSettings,
  type PanelData,
  type PanelProps,
  type TimeRange,
} from '@grafana/data';
import React, { useState } from 'react';
import { createRoot } from 'react-dom/client';

import { QueryEditor } from '../../../src/datasource/components/QueryEditor';
import { SentinelDataSource } from '../../../src/datasource/datasource';
import { QueryType, type SentinelOptions, type SentinelQuery } from '../../../src/datasource/types';
import { SentinelPanel } from '../../../src/panel/components/SentinelPanel';
import { DatasourceLookupContext } from '../../../src/panel/sentinel-api-resolver';
import { DEFAULT_PANEL_OPTIONS, type SentinelPanelOptions } from '../../../src/panel/types';
import { OrgRoleContext } from '../../../src/panel/user-role';
import { FetchBackendSrv } from './fetch-backend-srv';

/** What the test reads back from the page. */
export interface PageHandle {
  health: () => Promise<{ status: string; message: string }>;
  variable: (query: string) => Promise<string[]>;
  annotations: () => Promise<Array<{ title?: string; color?: string; isRegion?: boolean; time?: number; timeEnd?: number }>>;
  /** Posts feedback through the datasource; `ok` or the error message. */
  feedback: (anomalyId: string) => Promise<string>;
}

declare global {
  interface Window {
    sentinelPage?: PageHandle;
    sentinelPageError?: string;
  }
}

const UID = 'sentinel-browser';
const params = new URLSearchParams(window.location.search);
const theme = createTheme({ colors: { mode: params.get('theme') === 'light' ? 'light' : 'dark' } });
const from = Number(params.get('from'));
const to = Number(params.get('to'));
// The signed-in user's org role, as Grafana's boot data would give it (the test's proxy checks the same).
const orgRole = params.get('role') ?? 'Editor';
const range: TimeRange = { from: dateTime(from), to: dateTime(to), raw: { from: dateTime(from), to: dateTime(to) } };
const ref = { uid: UID, type: 'llmsentinel-sentinel-datasource' };

const settings = {
  id: 1,
  uid: UID,
  type: ref.type,
  name: 'LLM-Sentinel',
  url: `${window.location.origin}/api/datasources/proxy/uid/${UID}`,
  jsonData: {},
  meta: { id: ref.type, name: 'LLM-Sentinel', type: 'datasource', info: {}, module: '', baseUrl: '' },
  access: 'proxy',
  readOnly: false,
} as unknown as DataSourceInstanceSettings<SentinelOptions>;

const datasource = new SentinelDataSource(settings, new FetchBackendSrv(), {
  replace: (target?: string) => target ?? '',
  getVariables: () => [],
});

function request(targets: SentinelQuery[]): DataQueryRequest<SentinelQuery> {
  return {
    requestId: 'page',
    interval: '1m',
    intervalMs: 60_000,
    range,
    scopedVars: {},
    targets,
    timezone: 'utc',
    app: 'dashboard',
    startTime: Date.now(),
  };
}

const panelTargets: SentinelQuery[] = [
  { refId: 'A', queryType: QueryType.Scores, service: 'chat', feature: params.get('feature') ?? 'latency_p95_ms', datasource: ref },
  { refId: 'B', queryType: QueryType.Anomalies, datasource: ref },
];

function QueryEditorHost() {
  const [query, setQuery] = useState<SentinelQuery>({ refId: 'A', queryType: QueryType.Scores, datasource: ref });
  const [runs, setRuns] = useState(0);
  return (
    <div>
      <QueryEditor query={query} datasource={datasource} onChange={setQuery} onRunQuery={() => setRuns((n) => n + 1)} range={range} />
      <pre data-testid="query-json" style={{ color: theme.colors.text.secondary }}>
        {JSON.stringify({ ...query, datasource: undefined })}
      </pre>
      <div style={{ color: theme.colors.text.secondary }}>
        query runs: <span data-testid="query-runs">{runs}</span>
      </div>
    </div>
  );
}

async function main() {
  document.body.style.background = theme.colors.background.canvas;
  document.body.style.color = theme.colors.text.primary;
  document.body.style.fontFamily = theme.typography.fontFamily;
  document.body.style.margin = '16px';

  const response = await datasource.query(request(panelTargets));
  const data: PanelData = {
    state: response.state ?? LoadingState.Done,
    series: response.data,
    errors: response.errors,
    timeRange: range,
    request: request(panelTargets),
  };
  const props = {
    id: 1,
    data,
    timeRange: range,
    timeZone: 'utc',
    options: { ...DEFAULT_PANEL_OPTIONS } as SentinelPanelOptions,
    fieldConfig: { defaults: {}, overrides: [] },
    width: 1200,
    height: 540,
    title: 'LLM-Sentinel',
    transparent: false,
    renderCounter: 0,
    eventBus: new EventBusSrv(),
    replaceVariables: (s: string) => s,
    onOptionsChange: () => undefined,
    onFieldConfigChange: () => undefined,
    onChangeTimeRange: () => undefined,
  } as unknown as PanelProps<SentinelPanelOptions>;

  const frame = {
    width: props.width,
    height: props.height,
    padding: 8,
    background: theme.colors.background.primary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
  };

  createRoot(document.getElementById('root')!).render(
    <ThemeContext.Provider value={theme}>
      <DatasourceLookupContext.Provider value={async () => datasource}>
        <OrgRoleContext.Provider value={() => orgRole}>
          <div data-testid="panel-frame" style={frame}>
            <SentinelPanel {...props} />
          </div>
        </OrgRoleContext.Provider>
        <h3 style={{ margin: '24px 0 8px', fontSize: theme.typography.h5.fontSize }}>Query editor</h3>
        <div data-testid="query-editor-frame" style={{ ...frame, width: 1200, height: 'auto', minHeight: 160 }}>
          <QueryEditorHost />
        </div>
      </DatasourceLookupContext.Provider>
    </ThemeContext.Provider>
  );

  window.sentinelPage = {
    health: async () => {
      const r = await datasource.testDatasource();
      return { status: r.status, message: r.message };
    },
    variable: async (query) => (await datasource.metricFindQuery(query)).map((v) => String(v.text)),
    annotations: async () => {
      const annotationQuery = datasource.annotations!.prepareAnnotation!({ name: 'Anomalies', enable: true, iconColor: 'red' });
      const target = datasource.annotations!.prepareQuery!(annotationQuery)!;
      const res = await datasource.query(request([target]));
      return new Promise((resolve) => {
        datasource.annotations!.processEvents!(annotationQuery, res.data).subscribe((events) => resolve(events ?? []));
      });
    },
    feedback: async (anomalyId) => {
      try {
        await datasource.postFeedback({ anomalyId, verdict: 'true_positive' });
        return 'ok';
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    },
  };
}

main().catch((err: unknown) => {
  window.sentinelPageError = err instanceof Error ? `${err.message}\n${err.stack}` : String(err);
});
