import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import {
  createTheme,
  dateTime,
  getDefaultTimeRange,
  LoadingState,
  ThemeContext,
  type DataFrame,
  type PanelData,
  type PanelProps,
} from '@grafana/data';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import React from 'react';

import { at, latencyAnomaly, scoresResponse, T0, tokenAnomaly } from '../../../test/fixtures/api-responses';
import type { AnomalyRecord, FeedbackRequest } from '../../shared/api-types';
import { anomaliesToFrame, featuresToFrames, scoresToFrames } from '../../datasource/transform';
import { DatasourceLookupContext, type DatasourceLookup } from '../sentinel-api-resolver';
import { DEFAULT_PANEL_OPTIONS, type SentinelPanelOptions } from '../types';
import { canSendFeedback, OrgRoleContext } from '../user-role';
import { SentinelPanel } from './SentinelPanel';

/** In-memory Sentinel API: remembers feedback like the backend does. */
class MemoryApi {
  readonly type = 'llmsentinel-sentinel-datasource';
  readonly posted: FeedbackRequest[] = [];
  constructor(private records: Record<string, AnomalyRecord>) {}
  getAnomaly = jest.fn(async (id: string) => {
    const r = this.records[id];
    if (!r) {
      throw new Error(`Sentinel API 404: unknown anomaly ${id}`);
    }
    return r;
  });
  postFeedback = jest.fn(async (req: FeedbackRequest) => {
    this.posted.push(req);
    this.records[req.anomalyId] = { ...this.records[req.anomalyId], feedback: { verdict: req.verdict, at: at(30) } };
    return { anomalyId: req.anomalyId, verdict: req.verdict, patternsAdded: 2 };
  });
}

const range = { from: dateTime(T0), to: dateTime(T0 + 10 * 60_000), raw: { from: 'a', to: 'b' } };

function panelData(series: DataFrame[], patch: Partial<PanelData> = {}): PanelData {
  return {
    state: LoadingState.Done,
    series,
    timeRange: range,
    request: { targets: [{ refId: 'A', datasource: { uid: 'sentinel', type: 'llmsentinel-sentinel-datasource' } }] },
    ...patch,
  } as PanelData;
}

let api: MemoryApi;
let lookup: DatasourceLookup;
/** The signed-in user's org role the panel sees. */
let orgRole: string;

beforeEach(() => {
  api = new MemoryApi({ [latencyAnomaly.id]: latencyAnomaly, [tokenAnomaly.id]: tokenAnomaly });
  lookup = jest.fn(async () => api) as DatasourceLookup;
  orgRole = 'Editor';
});

async function renderPanel(data: PanelData, options: Partial<SentinelPanelOptions> = {}, theme = createTheme()) {
  const props = {
    id: 1,
    data,
    width: 1000,
    height: 420,
    options: { ...DEFAULT_PANEL_OPTIONS, ...options },
    timeRange: range,
    timeZone: 'utc',
    title: 'Sentinel',
    transparent: false,
    renderCounter: 0,
    fieldConfig: { defaults: {}, overrides: [] },
    onOptionsChange: jest.fn(),
    onFieldConfigChange: jest.fn(),
    onChangeTimeRange: jest.fn(),
    replaceVariables: (s: string) => s,
    eventBus: {},
  } as unknown as PanelProps<SentinelPanelOptions>;
  let view!: ReturnType<typeof render>;
  await act(async () => {
    view = render(
      <ThemeContext.Provider value={theme}>
        <DatasourceLookupContext.Provider value={lookup}>
          <OrgRoleContext.Provider value={() => orgRole}>
            <SentinelPanel {...props} />
          </OrgRoleContext.Provider>
        </DatasourceLookupContext.Provider>
      </ThemeContext.Provider>
    );
  });
  return view;
}

const fullData = () => panelData([...scoresToFrames(scoresResponse, 'A'), anomaliesToFrame([latencyAnomaly, tokenAnomaly], 'B')]);

describe('SentinelPanel', () => {
  it('draws the band, the lines and the anomalies of the shown series, coloured by severity', async () => {
    await renderPanel(fullData());
    expect(screen.getByTestId('expected-band').getAttribute('d')).toMatch(/^M.*Z$/);
    expect(screen.getByTestId('value-line').getAttribute('d')).toMatch(/^M/);
    expect(screen.getByTestId('score-line')).toBeInTheDocument();
    const regions = screen.getAllByTestId('anomaly-region');
    // tokenAnomaly belongs to another series and is not drawn on this one.
    expect(regions).toHaveLength(1);
    expect(regions[0]).toHaveAttribute('data-severity', 'critical');
    const fill = regions[0].querySelector('rect')?.getAttribute('fill');
    expect(fill).toBe(createTheme().visualization.getColorByName('red'));
  });

  it('shows the selected anomaly with its explanation and evidence', async () => {
    await renderPanel(fullData());
    const pane = await screen.findByTestId('explanation-pane');
    await waitFor(() => expect(within(pane).getByTestId('evidence-table')).toBeInTheDocument());
    expect(within(pane).getByText('latency spike')).toBeInTheDocument();
    expect(within(pane).getByRole('heading', { name: 'What moved' })).toBeInTheDocument();
    expect(within(pane).getByTestId('evidence-table')).toHaveTextContent('latency_p95_ms');
    expect(within(pane).getByTestId('evidence-table')).toHaveTextContent('5.20 s');
    expect(within(pane).getByTestId('similar-incidents')).toHaveTextContent('latency spike: provider outage');
    expect(api.getAnomaly).toHaveBeenCalledWith('an_5f3c01');
    expect(lookup).toHaveBeenCalledWith({ uid: 'sentinel', type: 'llmsentinel-sentinel-datasource' });
  });

  it('posts "False positive" through the datasource and shows the stored verdict', async () => {
    await renderPanel(fullData());
    await screen.findByTestId('evidence-table');
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: /False positive/ }));
    });
    await waitFor(() =>
      expect(screen.getByTestId('feedback-status')).toHaveTextContent('Feedback recorded: false positive (2 patterns added).')
    );
    expect(api.posted).toEqual([{ anomalyId: 'an_5f3c01', verdict: 'false_positive' }]);
    expect(api.getAnomaly).toHaveBeenCalledTimes(2);
  });

  it('posts "Confirm" as a true positive', async () => {
    await renderPanel(fullData());
    await screen.findByTestId('evidence-table');
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: /Confirm/ }));
    });
    expect(api.posted).toEqual([{ anomalyId: 'an_5f3c01', verdict: 'true_positive' }]);
    await waitFor(() => expect(screen.getByTestId('feedback-status')).toHaveTextContent('Feedback recorded: confirmed'));
  });

  it('shows a failed feedback post as an error and keeps the buttons', async () => {
    api.postFeedback.mockImplementationOnce(async () => {
      throw new Error('Sentinel API 403: read-only key');
    });
    await renderPanel(fullData());
    await screen.findByTestId('evidence-table');
    await act(async () => {
      fireEvent.click(screen.getByRole('button', { name: /False positive/ }));
    });
    expect(await screen.findByText('Sentinel API 403: read-only key')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /False positive/ })).toBeEnabled();
  });

  it('offers no feedback buttons to Viewers (the proxy would refuse the write)', async () => {
    for (const role of ['Viewer', 'None', '']) {
      orgRole = role;
      const view = await renderPanel(fullData());
      await screen.findByTestId('evidence-table');
      expect(screen.queryByRole('button', { name: /False positive/ })).toBeNull();
      expect(screen.queryByRole('button', { name: /Confirm/ })).toBeNull();
      expect(screen.getByTestId('feedback-status')).toHaveTextContent('Feedback needs the Editor role.');
      view.unmount();
    }
    expect(api.postFeedback).not.toHaveBeenCalled();
    orgRole = 'Admin';
    await renderPanel(fullData());
    expect(await screen.findByRole('button', { name: /False positive/ })).toBeEnabled();
  });

  it('can pick the second of two series with the same key', async () => {
    // A "Score & band" and a "Raw feature" query of the same series and feature.
    const raw = featuresToFrames(scoresResponse, 'C');
    await renderPanel(panelData([...scoresToFrames(scoresResponse, 'A'), ...raw]), { showExplanation: false });
    expect(screen.getByTestId('score-line')).toBeInTheDocument();
    const picker = screen.getByLabelText('Series');
    fireEvent.keyDown(picker, { key: 'ArrowDown' });
    const key = 'service=chat|model=gpt-4o · latency_p95_ms';
    expect(await screen.findByText(`${key} (C)`, { selector: 'span' })).toBeInTheDocument();
    expect(screen.getAllByText(`${key} (A)`).length).toBeGreaterThan(0);
    await act(async () => {
      fireEvent.click(screen.getByText(`${key} (C)`, { selector: 'span' }));
    });
    // The raw feature has no score: the chosen entry, not the first with that key, is drawn.
    expect(screen.queryByTestId('score-line')).toBeNull();
    expect(screen.getByTestId('value-line').getAttribute('d')).toMatch(/^M/);
  });

  it('says so when the series has no points in the time range', async () => {
    const old = {
      items: scoresResponse.items.map((item) => ({ ...item, points: item.points.map((p, i) => ({ ...p, timestamp: at(-2000 + i) })) })),
    };
    await renderPanel(panelData(scoresToFrames(old, 'A')));
    expect(screen.getByTestId('sentinel-panel-empty-range')).toHaveTextContent('No data in this time range');
    expect(screen.queryByTestId('sentinel-timeline')).toBeNull();
  });

  it('shows that the anomalies list was cut off at its limit', async () => {
    const notice = 'Showing the newest 2 anomalies; more match this query.';
    await renderPanel(
      panelData([...scoresToFrames(scoresResponse, 'A'), anomaliesToFrame([latencyAnomaly, tokenAnomaly], 'B', [{ severity: 'warning', text: notice }])])
    );
    expect(screen.getByRole('alert')).toHaveTextContent(notice);
  });

  it('labels the value axis with the decimals its ticks need', async () => {
    const share = {
      items: [{ ...scoresResponse.items[0], feature: 'share', points: scoresResponse.items[0].points.map((p, i) => ({ ...p, value: i / 20, expected: null, lower: null, upper: null })) }],
    };
    await renderPanel(panelData(scoresToFrames(share, 'A')), { showExplanation: false, showScore: false });
    const labels = [...document.querySelectorAll('svg text[text-anchor="end"]')].map((t) => t.textContent);
    expect(labels.length).toBeGreaterThan(2);
    expect(new Set(labels).size).toBe(labels.length);
    expect(labels.some((l) => /\d\.\d/.test(l ?? ''))).toBe(true);
  });

  it('selects another anomaly when its region is clicked', async () => {
    const second = { ...tokenAnomaly, seriesKey: latencyAnomaly.seriesKey, id: 'an_second' };
    api = new MemoryApi({ [latencyAnomaly.id]: latencyAnomaly, an_second: second });
    await renderPanel(panelData([...scoresToFrames(scoresResponse, 'A'), anomaliesToFrame([latencyAnomaly, second], 'B')]));
    const regions = screen.getAllByTestId('anomaly-region');
    expect(regions.map((r) => r.getAttribute('data-selected'))).toEqual(['true', 'false']);
    await act(async () => {
      fireEvent.click(regions[1]);
    });
    expect(api.getAnomaly).toHaveBeenLastCalledWith('an_second');
    expect(screen.getAllByTestId('anomaly-region')[1]).toHaveAttribute('data-selected', 'true');
    expect(await screen.findByText('token abuse')).toBeInTheDocument();
  });

  it('renders hostile explanation text as text', async () => {
    api = new MemoryApi({
      [latencyAnomaly.id]: {
        ...latencyAnomaly,
        explanation: { summary: 's', source: 'llm', markdown: '<img src=x onerror="window.__p=1"><script>window.__p=1</script>' },
      },
    });
    const { container } = await renderPanel(fullData());
    await screen.findByTestId('evidence-table');
    expect(container.querySelector('[data-testid="explanation-pane"] img')).toBeNull();
    expect(container.querySelector('script')).toBeNull();
    expect(screen.getByTestId('explanation-pane')).toHaveTextContent('<img src=x onerror="window.__p=1"><script>');
  });

  it('shows an LLM explanation once: its sections are in the markdown the backend composed (QA)', async () => {
    // As the backend stores it (explain-queue.ts compose): the LLM's sections above the evidence markdown,
    // and the same texts in their own fields. The pane showed root cause and fixes twice.
    api = new MemoryApi({
      [latencyAnomaly.id]: {
        ...latencyAnomaly,
        explanation: {
          ...latencyAnomaly.explanation,
          summary: 'Latency rose 4x',
          source: 'llm',
          markdown:
            '**Latency rose 4x**\n\n_Advisory explanation by gpt-test (confidence 70%), from the evidence below._\n\n' +
            '### Likely root cause\nProvider slowdown\n\n### Immediate fix\nFail over to the backup region\n\n' +
            '### Long-term fix\nRoute by latency SLO\n\nEvidence cited: F1\n\n---\n\n#### Evidence\n\n' +
            (latencyAnomaly.explanation?.markdown ?? ''),
          rootCause: 'Provider slowdown',
          immediateFix: 'Fail over to the backup region',
          longTermFix: 'Route by latency SLO',
          confidence: 0.7,
        },
      },
    });
    await renderPanel(fullData());
    const pane = await screen.findByTestId('explanation-pane');
    await waitFor(() => expect(within(pane).getByTestId('evidence-table')).toBeInTheDocument());
    expect(within(pane).getByText(/Advisory explanation by gpt-test/)).toBeInTheDocument();
    for (const text of ['Provider slowdown', 'Fail over to the backup region', 'Route by latency SLO']) {
      expect(within(pane).getAllByText(text)).toHaveLength(1);
    }
  });

  it('shows the LLM sections from their fields when an explanation has no markdown', async () => {
    api = new MemoryApi({
      [latencyAnomaly.id]: {
        ...latencyAnomaly,
        explanation: { summary: 's', source: 'llm', markdown: '', rootCause: 'Provider slowdown', immediateFix: 'Fail over', longTermFix: 'Route by SLO' },
      },
    });
    await renderPanel(fullData());
    const pane = await screen.findByTestId('explanation-pane');
    await waitFor(() => expect(within(pane).getByTestId('evidence-table')).toBeInTheDocument());
    expect(within(pane).getByRole('heading', { name: 'Root cause' })).toBeInTheDocument();
    expect(within(pane).getByText('Provider slowdown')).toBeInTheDocument();
  });

  it('works in the light theme too', async () => {
    const light = createTheme({ colors: { mode: 'light' } });
    await renderPanel(fullData(), {}, light);
    const rect = screen.getAllByTestId('anomaly-region')[0].querySelector('rect');
    expect(rect?.getAttribute('fill')).toBe(light.visualization.getColorByName('red'));
  });

  it('hides the band and score tracks when switched off', async () => {
    await renderPanel(fullData(), { showBand: false, showScore: false, showExplanation: false });
    expect(screen.queryByTestId('expected-band')).toBeNull();
    expect(screen.queryByTestId('score-line')).toBeNull();
    expect(screen.queryByTestId('explanation-pane')).toBeNull();
  });

  it('shows no data, loading and error states', async () => {
    const empty = await renderPanel(panelData([]));
    expect(screen.getByTestId('sentinel-panel-empty')).toHaveTextContent('No data');
    empty.unmount();

    const loading = await renderPanel(panelData([], { state: LoadingState.Loading }));
    expect(screen.getByText('Loading anomaly scores…')).toBeInTheDocument();
    loading.unmount();

    await renderPanel(panelData([], { state: LoadingState.Error, errors: [{ refId: 'A', message: 'Sentinel API 502: Bad Gateway' }] }));
    expect(screen.getByText('Query failed')).toBeInTheDocument();
    expect(screen.getByText('Sentinel API 502: Bad Gateway')).toBeInTheDocument();
  });

  it('says the backend has no series yet when both queries are set up, and to add them otherwise (QA)', async () => {
    const sentinel = { uid: 'sentinel', type: 'llmsentinel-sentinel-datasource' };
    const withTargets = (targets: Array<Record<string, unknown>>) => panelData([], { request: { targets } as unknown as PanelData['request'] });
    const hint = async (data: PanelData) => {
      const view = await renderPanel(data);
      const text = screen.getByTestId('sentinel-panel-empty').textContent ?? '';
      view.unmount();
      return text;
    };
    const ADD = /Add a "Score & band" query and an "Anomalies" query/;
    const NO_SERIES = /queries are set up, but LLM-Sentinel has no series matching them yet/;
    // A query saved before query types existed is a scores query.
    for (const targets of [
      [{ refId: 'A', datasource: sentinel, queryType: 'scores' }, { refId: 'B', datasource: sentinel, queryType: 'anomalies' }],
      [{ refId: 'A', datasource: sentinel }, { refId: 'B', datasource: sentinel, queryType: 'anomalies' }],
      [{ refId: 'A', datasource: sentinel, queryType: 'features' }, { refId: 'B', queryType: 'anomalies' }],
    ]) {
      const text = await hint(withTargets(targets));
      expect(text).toMatch(NO_SERIES);
      expect(text).not.toMatch(ADD);
    }
    for (const targets of [
      [{ refId: 'A', datasource: sentinel }],
      [{ refId: 'B', datasource: sentinel, queryType: 'anomalies' }],
      [{ refId: 'A', datasource: sentinel, queryType: 'scores' }, { refId: 'B', datasource: sentinel, queryType: 'anomalies', hide: true }],
      [{ refId: 'A', datasource: { uid: 'prom', type: 'prometheus' } }, { refId: 'B', datasource: sentinel, queryType: 'anomalies' }],
      [{ refId: 'A', datasource: sentinel, queryType: 'explanation' }, { refId: 'B', datasource: sentinel, queryType: 'anomalies' }],
    ]) {
      const text = await hint(withTargets(targets));
      expect(text).toMatch(ADD);
      expect(text).not.toMatch(NO_SERIES);
    }
  });

  it('wraps long unbroken labels in the explanation pane instead of clipping them (QA)', async () => {
    const long = `model-${'x'.repeat(300)}`;
    const record = { ...latencyAnomaly, labels: { ...latencyAnomaly.labels, model: long }, type: `type_${'y'.repeat(200)}` };
    await renderPanel(panelData([...scoresToFrames(scoresResponse, 'A'), anomaliesToFrame([record], 'B')]));
    const pane = await screen.findByTestId('explanation-pane');
    const header = pane.firstElementChild as HTMLElement;
    const meta = header.nextElementSibling as HTMLElement;
    const summary = pane.querySelector('p') as HTMLElement;
    expect(meta).toHaveTextContent(long);
    for (const el of [header, meta, summary]) {
      expect(getComputedStyle(el).getPropertyValue('overflow-wrap')).toBe('anywhere');
    }
    expect(getComputedStyle(header.children[1]).getPropertyValue('min-width')).toBe('0');
  });

  it('keeps drawing data when one query failed and names the failure', async () => {
    await renderPanel(
      panelData(scoresToFrames(scoresResponse, 'A'), {
        state: LoadingState.Error,
        errors: [{ refId: 'B', message: 'Sentinel API 500: boom' }],
      })
    );
    expect(screen.getByTestId('value-line')).toBeInTheDocument();
    expect(screen.getByRole('alert')).toHaveTextContent('B: Sentinel API 500: boom');
  });

  it('says why feedback is unavailable when the datasource is not Sentinel', async () => {
    lookup = jest.fn(async () => ({ query() {} })) as DatasourceLookup;
    await renderPanel(fullData());
    expect(await screen.findByText(/not LLM-Sentinel/)).toBeInTheDocument();
    expect(screen.queryByRole('button', { name: /False positive/ })).toBeNull();
    // The summary from the anomalies table still shows.
    expect(screen.getByTestId('explanation-pane')).toHaveTextContent('latency_p95_ms rose to 5200 ms');
  });

  it('says whether the incident is open, and when resolved, why', async () => {
    await renderPanel(fullData());
    expect(await screen.findByTestId('incident-status')).toHaveTextContent('open');
    api = new MemoryApi({ [latencyAnomaly.id]: { ...latencyAnomaly, status: 'resolved', resolution: 'stale' } });
    lookup = jest.fn(async () => api) as DatasourceLookup;
    await renderPanel(fullData());
    await waitFor(() => expect(screen.getAllByTestId('incident-status').at(-1)).toHaveTextContent('resolved: its series stopped reporting'));
  });

  it('shows an explanation that cannot be loaded as an error', async () => {
    api = new MemoryApi({});
    await renderPanel(fullData());
    expect(await screen.findByText('Could not load the explanation')).toBeInTheDocument();
    expect(screen.getByText('Sentinel API 404: unknown anomaly an_5f3c01')).toBeInTheDocument();
  });

  it('shows values under the pointer', async () => {
    await renderPanel(fullData(), { showExplanation: false });
    const svg = screen.getByRole('img');
    svg.getBoundingClientRect = () => ({ left: 0, top: 0, width: 1000, height: 400, right: 1000, bottom: 400, x: 0, y: 0, toJSON() {} });
    // Minute 5 of 10 sits in the middle of the plot (left margin 56, right margin 12).
    fireEvent.mouseMove(svg, { clientX: 56 + (1000 - 68) / 2, clientY: 50 });
    expect(screen.getByRole('tooltip')).toHaveTextContent('latency_p95_ms: 5.20 s');
    expect(screen.getByRole('tooltip')).toHaveTextContent('score 3.10');
  });
});

describe('canSendFeedback', () => {
  it('is for Editors and Admins only', () => {
    expect(['Admin', 'Editor', 'Viewer', 'None', ''].map(canSendFeedback)).toEqual([true, true, false, false, false]);
  });
});

describe('default options', () => {
  it('are complete', () => {
    expect(getDefaultTimeRange()).toBeDefined();
    expect(Object.keys(DEFAULT_PANEL_OPTIONS).sort()).toEqual(['paneWidthPercent', 'scoreThreshold', 'showBand', 'showExplanation', 'showScore']);
  });
});
