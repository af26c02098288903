import { DataSourcePlugin } from '@grafana/data';

import { ConfigEditor } from './components/ConfigEditor';
import { QueryEditor } from './components/QueryEditor';
import { SentinelDataSource } from './datasource';
import type { SentinelOptions, SentinelQuery, SentinelSecureOptions } from './types';

export const plugin = new DataSourcePlugin<SentinelDataSource, SentinelQuery, SentinelOptions, SentinelSecureOptions>(
  SentinelDataSource
)
  .setConfigEditor(ConfigEditor)
  .setQueryEditor(QueryEditor);
