import { beforeEach, describe, expect, it, jest } from '@jest/globals';
import { dateTime, type DataSourceInstanceSettings } from '@grafana/data';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import React from 'react';

import { latencyAnomaly, seriesResponse, T0, tokenAnomaly } from '../../../test/fixtures/api-responses';
import { FakeBackend, INSTANCE_URL } from '../../../test/fixtures/fake-backend';
import { SentinelDataSource } from '../datasource';
import { QueryType, type SentinelOptions, type SentinelQuery } from '../types';
import { QueryEditor } from './QueryEditor';

const settings = { uid: 'u', type: 'llmsentinel-sentinel-datasource', url: INSTANCE_URL, jsonData: {}, meta: {} };
const range = { from: dateTime(T0), to: dateTime(T0 + 3600_000), raw: { from: 'now-1h', to: 'now' } };

let backend: FakeBackend;
let ds: SentinelDataSource;

beforeEach(() => {
  backend = new FakeBackend()
    .on('GET /api/v1/series', () => seriesResponse)
    .on('GET /api/v1/anomalies', () => ({ items: [latencyAnomaly, tokenAnomaly], nextCursor: null }));
  ds = new SentinelDataSource(settings as unknown as DataSourceInstanceSettings<SentinelOptions>, backend, {
    replace: (s?: string) => s ?? '',
    getVariables: () => [{ name: 'service' }] as never,
  });
});

async function renderEditor(query: SentinelQuery) {
  const onChange = jest.fn();
  const onRunQuery = jest.fn();
  await act(async () => {
    render(<QueryEditor query={query} datasource={ds} onChange={onChange} onRunQuery={onRunQuery} range={range} />);
  });
  return { onChange, onRunQuery };
}

/** Opens a react-select by its input id and clicks the option with that text. */
async function choose(inputId: string, optionText: string) {
  const input = document.getElementById(inputId) as HTMLElement;
  fireEvent.keyDown(input, { key: 'ArrowDown' });
  fireEvent.click(await screen.findByText(optionText, { selector: 'span, div' }));
}

describe('QueryEditor', () => {
  it('switches the query type and runs the query', async () => {
    const { onChange, onRunQuery } = await renderEditor({ refId: 'A' });
    fireEvent.click(screen.getByLabelText('Anomalies'));
    expect(onChange).toHaveBeenCalledWith({ refId: 'A', queryType: QueryType.Anomalies });
    expect(onRunQuery).toHaveBeenCalled();
  });

  it('offers services from /api/v1/series plus template variables', async () => {
    const { onChange } = await renderEditor({ refId: 'A', queryType: QueryType.Scores });
    await choose('sentinel-service', 'search');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: QueryType.Scores, service: 'search' });
    await choose('sentinel-service', '$service');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: QueryType.Scores, service: '$service' });
  });

  it('offers the features of the chosen series', async () => {
    const { onChange } = await renderEditor({ refId: 'A', queryType: QueryType.Scores, seriesKey: 'service=chat|model=gpt-4o' });
    await choose('sentinel-feature', 'latency_p95_ms');
    expect(onChange).toHaveBeenLastCalledWith(expect.objectContaining({ feature: 'latency_p95_ms' }));
    fireEvent.keyDown(document.getElementById('sentinel-feature')!, { key: 'ArrowDown' });
    expect(screen.queryByText('output_tokens_mean')).not.toBeInTheDocument();
  });

  it('filters anomalies by severity', async () => {
    const { onChange } = await renderEditor({ refId: 'B', queryType: QueryType.Anomalies });
    await choose('sentinel-severity', 'critical');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'B', queryType: QueryType.Anomalies, severity: ['critical'] });
  });

  it('filters anomalies by series and model, so a panel of one series gets its own anomalies', async () => {
    const { onChange } = await renderEditor({ refId: 'B', queryType: QueryType.Anomalies, service: 'chat' });
    await choose('sentinel-model', 'gpt-4o-mini');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'B', queryType: QueryType.Anomalies, service: 'chat', model: 'gpt-4o-mini' });
    await choose('sentinel-series', 'service=chat|model=gpt-4o');
    expect(onChange).toHaveBeenLastCalledWith({
      refId: 'B',
      queryType: QueryType.Anomalies,
      service: 'chat',
      seriesKey: 'service=chat|model=gpt-4o',
    });
  });

  it('caps the limit at the API maximum and says the maximum', async () => {
    const user = userEvent.setup();
    const { onChange } = await renderEditor({ refId: 'A', queryType: QueryType.Scores });
    const input = screen.getByPlaceholderText('default') as HTMLInputElement;
    expect(input.max).toBe('10000');
    await user.type(input, '20000');
    await user.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'A', queryType: QueryType.Scores, limit: 10_000 });
    expect(input.value).toBe('10000');
  });

  it('lets the user pick an anomaly of the time range for an explanation', async () => {
    const { onChange } = await renderEditor({ refId: 'C', queryType: QueryType.Explanation });
    await waitFor(() => expect(backend.requestsTo('/api/v1/anomalies')).toHaveLength(1));
    expect(backend.requestsTo('/api/v1/anomalies')[0].params).toMatchObject({ from: String(T0), to: String(T0 + 3600_000) });
    await choose('sentinel-anomaly', 'critical latency_spike · chat · 2026-11-22 10:05Z');
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'C', queryType: QueryType.Explanation, anomalyId: 'an_5f3c01' });
  });

  it('sets the limit when the field is left, not on every keystroke', async () => {
    const user = userEvent.setup();
    const { onChange, onRunQuery } = await renderEditor({ refId: 'B', queryType: QueryType.Anomalies });
    await user.type(screen.getByPlaceholderText('default'), '250');
    expect(onRunQuery).not.toHaveBeenCalled();
    await user.tab();
    expect(onChange).toHaveBeenLastCalledWith({ refId: 'B', queryType: QueryType.Anomalies, limit: 250 });
    expect(onRunQuery).toHaveBeenCalledTimes(1);
  });

  it('says so when the series cannot be loaded', async () => {
    backend.on('GET /api/v1/series', () => {
      throw { status: 502, data: { message: 'Bad Gateway' } };
    });
    await renderEditor({ refId: 'A' });
    expect(await screen.findByRole('status')).toHaveTextContent('Could not load series: Sentinel API 502: Bad Gateway');
  });
});
