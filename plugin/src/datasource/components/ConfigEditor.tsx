import type { DataSourcePluginOptionsEditorProps } from '@grafana/data';
import { Field, FieldSet, Input, SecretInput } from '@grafana/ui';
import React, { type ChangeEvent } from 'react';

import type { SentinelOptions, SentinelSecureOptions } from '../types';

/** Props Grafana passes to a datasource config page. */
export type ConfigEditorProps = DataSourcePluginOptionsEditorProps<SentinelOptions, SentinelSecureOptions>;

/** Whether a URL is one the data proxy can forward to. */
export function isValidSentinelUrl(url: string | undefined): boolean {
  if (!url) {
    return false;
  }
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:';
  } catch {
    return false;
  }
}

/**
 * Datasource settings: the Sentinel URL (jsonData, used by the proxy route) and the API key
 * (secureJsonData: write-only, Grafana stores it encrypted and only the proxy route reads it).
 */
export function ConfigEditor({ options, onOptionsChange }: ConfigEditorProps) {
  const url = options.jsonData.url ?? '';
  const keyConfigured = Boolean(options.secureJsonFields?.apiKey);
  const urlInvalid = url !== '' && !isValidSentinelUrl(url);

  const onUrlChange = (event: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, jsonData: { ...options.jsonData, url: event.target.value.trim() } });
  };
  const onApiKeyChange = (event: ChangeEvent<HTMLInputElement>) => {
    onOptionsChange({ ...options, secureJsonData: { ...options.secureJsonData, apiKey: event.target.value } });
  };
  const onApiKeyReset = () => {
    onOptionsChange({
      ...options,
      secureJsonFields: { ...options.secureJsonFields, apiKey: false },
      secureJsonData: { ...options.secureJsonData, apiKey: '' },
    });
  };

  return (
    <FieldSet label="LLM-Sentinel">
      <Field
        label="URL"
        description="Root URL of the Sentinel service as Grafana's server reaches it, e.g. http://sentinel:8080."
        invalid={urlInvalid}
        error={urlInvalid ? 'Enter an http:// or https:// URL' : undefined}
        required
      >
        <Input id="sentinel-url" width={48} value={url} placeholder="http://localhost:8080" onChange={onUrlChange} />
      </Field>
      <Field
        label="API key"
        description="Sent as 'Authorization: Bearer <key>' by Grafana's data proxy. Leave empty when Sentinel runs without SENTINEL_API_KEYS."
      >
        <SecretInput
          id="sentinel-api-key"
          width={48}
          isConfigured={keyConfigured}
          value={options.secureJsonData?.apiKey ?? ''}
          placeholder="API key"
          onChange={onApiKeyChange}
          onReset={onApiKeyReset}
        />
      </Field>
    </FieldSet>
  );
}
