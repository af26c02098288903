import { describe, expect, it, jest } from '@jest/globals';
import type { DataSourceSettings } from '@grafana/data';
import { fireEvent, render, screen } from '@testing-library/react';
import React from 'react';

import type { SentinelOptions, SentinelSecureOptions } from '../types';
import { ConfigEditor, isValidSentinelUrl } from './ConfigEditor';

function settings(patch: Partial<DataSourceSettings<SentinelOptions, SentinelSecureOptions>> = {}) {
  return {
    id: 1,
    uid: 'x',
    name: 'Sentinel',
    type: 'llmsentinel-sentinel-datasource',
    access: 'proxy',
    url: '',
    jsonData: {},
    secureJsonFields: {},
    ...patch,
  } as DataSourceSettings<SentinelOptions, SentinelSecureOptions>;
}

describe('ConfigEditor', () => {
  it('stores the URL in jsonData', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings()} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByPlaceholderText('http://localhost:8080'), { target: { value: ' http://sentinel:8080 ' } });
    expect(onOptionsChange).toHaveBeenCalledWith(expect.objectContaining({ jsonData: { url: 'http://sentinel:8080' } }));
  });

  it('stores the API key only in secureJsonData', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings({ jsonData: { url: 'http://s' } })} onOptionsChange={onOptionsChange} />);
    fireEvent.change(screen.getByPlaceholderText('API key'), { target: { value: 'k-123' } });
    const next = onOptionsChange.mock.calls[0][0] as DataSourceSettings<SentinelOptions, SentinelSecureOptions>;
    expect(next.secureJsonData).toEqual({ apiKey: 'k-123' });
    expect(JSON.stringify(next.jsonData)).not.toContain('k-123');
  });

  it('shows a configured key as configured and resets it', () => {
    const onOptionsChange = jest.fn();
    render(<ConfigEditor options={settings({ secureJsonFields: { apiKey: true } })} onOptionsChange={onOptionsChange} />);
    expect(screen.getByDisplayValue('configured')).toBeDisabled();
    fireEvent.click(screen.getByRole('button', { name: 'Reset' }));
    expect(onOptionsChange).toHaveBeenCalledWith(
      expect.objectContaining({ secureJsonFields: { apiKey: false }, secureJsonData: { apiKey: '' } })
    );
  });

  it('flags a URL that is not http(s)', () => {
    render(<ConfigEditor options={settings({ jsonData: { url: 'sentinel:8080' } })} onOptionsChange={jest.fn()} />);
    expect(screen.getByText('Enter an http:// or https:// URL')).toBeInTheDocument();
    expect(isValidSentinelUrl('https://x.example')).toBe(true);
    expect(isValidSentinelUrl('ftp://x')).toBe(false);
  });
});
