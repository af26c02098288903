import { PanelPlugin } from '@grafana/data';

import { SentinelPanel } from './components/SentinelPanel';
import { buildPanelOptions } from './options';
import type { SentinelPanelOptions } from './types';

export const plugin = new PanelPlugin<SentinelPanelOptions>(SentinelPanel).setPanelOptions(buildPanelOptions);
