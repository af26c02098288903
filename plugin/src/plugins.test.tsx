/**
 * The two plugins as Grafana sees them: plugin.json contracts (ids provisioning depends on, Grafana
 * version, proxy routes with the API key and who may use them) and the production build loading as an AMD module that
 * exports the plugin.
 */
import { describe, expect, it, jest } from '@jest/globals';
import {
  dateTime,
  DataSourcePlugin,
  LoadingState,
  PanelPlugin,
  type DataSourcePluginOptionsEditorProps,
  type PanelProps,
} from '@grafana/data';
import { act, render, screen } from '@testing-library/react';
import React, { type ComponentType } from 'react';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { latencyAnomaly, scoresResponse, T0 } from '../test/fixtures/api-responses';
import { applyRoute, matchRoute, type ProxyRoute } from '../test/fixtures/grafana-proxy';
import { anomaliesToFrame, scoresToFrames } from './datasource/transform';

const ROOT = resolve(__dirname, '..');

interface PluginJson {
  id: string;
  type: string;
  info: { logos: { small: string; large: string }; screenshots: Array<{ path: string }>; version: string };
  dependencies: { grafanaDependency: string };
  routes?: ProxyRoute[];
}

const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as PluginJson;

describe('plugin.json', () => {
  const ds = readJson(join(ROOT, 'src/datasource/plugin.json'));
  const panel = readJson(join(ROOT, 'src/panel/plugin.json'));

  it('keeps the ids provisioning depends on', () => {
    expect([ds.id, ds.type]).toEqual(['llmsentinel-sentinel-datasource', 'datasource']);
    expect([panel.id, panel.type]).toEqual(['llmsentinel-sentinel-panel', 'panel']);
  });

  it('requires Grafana 12 and ships logos and screenshots', () => {
    for (const [dir, json] of [
      ['src/datasource', ds],
      ['src/panel', panel],
    ] as const) {
      expect(json.dependencies.grafanaDependency).toBe('>=12.0.0');
      expect(existsSync(join(ROOT, dir, json.info.logos.small))).toBe(true);
      expect(existsSync(join(ROOT, dir, json.info.logos.large))).toBe(true);
      expect(json.info.screenshots.length).toBeGreaterThan(0);
      for (const s of json.info.screenshots) {
        expect(existsSync(join(ROOT, dir, s.path))).toBe(true);
      }
    }
  });

  it('proxies the API through routes that inject the secure API key', () => {
    const settings = { jsonData: { url: 'http://sentinel:8080' }, secureJsonData: { apiKey: 'k1' } };
    for (const [method, path] of [
      ['GET', 'sentinel/api/v1/anomalies'],
      ['POST', 'sentinel/api/v1/feedback'],
      ['POST', 'sentinel/api/v1/anomalies/an_1/explain'],
    ]) {
      const match = matchRoute(ds.routes!, method, path, 'Admin');
      expect('route' in match && match.route).toBeTruthy();
      const target = applyRoute((match as { route: ProxyRoute }).route, path, '?limit=1', settings);
      expect(target).toEqual({ url: `http://sentinel:8080/${path.slice('sentinel/'.length)}?limit=1`, headers: { Authorization: 'Bearer k1' } });
    }
  });

  it('lets Viewers read but only Editors write with the stored key', () => {
    const routes = ds.routes!;
    const allowed = (method: string, path: string, role: string) => {
      const match = matchRoute(routes, method, path, role);
      return 'denied' in match ? 'denied' : match.route ? 'keyed' : 'no route';
    };
    expect(allowed('GET', 'sentinel/api/v1/scores', 'Viewer')).toBe('keyed');
    expect(allowed('GET', 'sentinel/api/v1/anomalies/an_1', 'Viewer')).toBe('keyed');
    expect(allowed('POST', 'sentinel/api/v1/feedback', 'Viewer')).toBe('denied');
    expect(allowed('POST', 'sentinel/api/v1/feedback', 'None')).toBe('denied');
    expect(allowed('POST', 'sentinel/api/v1/anomalies/an_1/explain', 'Viewer')).toBe('denied');
    // The feedback path needs Editor whatever the method.
    expect(allowed('GET', 'sentinel/api/v1/feedback', 'Viewer')).toBe('denied');
    expect(allowed('POST', 'sentinel/api/v1/feedback', 'Editor')).toBe('keyed');
    expect(allowed('POST', 'sentinel/api/v1/feedback', 'Admin')).toBe('keyed');
    // Other methods match no route, so they never carry the key.
    expect(allowed('DELETE', 'sentinel/api/v1/anomalies/an_1', 'Admin')).toBe('no route');
    expect(allowed('PUT', 'sentinel/api/v1/feedback', 'Viewer')).toBe('denied');
    for (const route of routes) {
      expect(route.method === 'GET' || route.reqRole === 'Editor').toBe(true);
    }
  });
});

describe('production build', () => {
  it('emits AMD module.js files that export the datasource and panel plugins, and they render', async () => {
    const out = mkdtempSync(join(tmpdir(), 'sentinel-plugin-build-'));
    try {
      const run = spawnSync(process.execPath, ['--import', 'tsx', '.config/build.ts', '--out', out], {
        cwd: ROOT,
        encoding: 'utf8',
      });
      expect(run.stderr).toBe('');
      expect(run.status).toBe(0);

      const load = (id: string) => {
        const code = readFileSync(join(out, id, 'module.js'), 'utf8');
        let exported: { plugin?: unknown } | undefined;
        let deps: string[] = [];
        // What Grafana's SystemJS does for an AMD module: resolve the listed shared deps, call the factory.
        const define = (names: string[], factory: (...mods: unknown[]) => { plugin?: unknown }) => {
          deps = names;
          exported = factory(...names.map((n) => jest.requireActual(n)));
        };
        new Function('define', code)(define);
        return { exported, deps, pluginJson: readJson(join(out, id, 'plugin.json')) };
      };

      const ds = load('llmsentinel-sentinel-datasource');
      expect(ds.exported?.plugin).toBeInstanceOf(DataSourcePlugin);
      expect(ds.deps).toEqual(expect.arrayContaining(['@grafana/data', '@grafana/runtime', 'react']));
      // Only modules Grafana shares with plugins; nothing it may lack (e.g. react/jsx-runtime).
      const shared = ['@emotion/css', '@grafana/data', '@grafana/runtime', '@grafana/ui', 'react', 'rxjs'];
      expect(ds.deps.filter((d) => !shared.includes(d))).toEqual([]);
      expect(ds.pluginJson.info.version).toBe('0.1.0');

      const panel = load('llmsentinel-sentinel-panel');
      expect(panel.exported?.plugin).toBeInstanceOf(PanelPlugin);
      expect(panel.deps.filter((d) => !shared.includes(d))).toEqual([]);

      // The bundled components work with the React and Grafana modules they are given.
      const dsPlugin = ds.exported!.plugin as DataSourcePlugin<never>;
      const ConfigEditor = dsPlugin.components.ConfigEditor as unknown as ComponentType<DataSourcePluginOptionsEditorProps>;
      const config = render(
        <ConfigEditor
          options={{ jsonData: { url: 'http://sentinel:8080' }, secureJsonFields: {} } as never}
          onOptionsChange={() => undefined}
        />
      );
      expect(screen.getByDisplayValue('http://sentinel:8080')).toBeInTheDocument();
      config.unmount();

      const Panel = (panel.exported!.plugin as PanelPlugin).panel as ComponentType<PanelProps>;
      const range = { from: dateTime(T0), to: dateTime(T0 + 600_000), raw: { from: 'a', to: 'b' } };
      await act(async () => {
        render(
          <Panel
            {...({
              data: {
                state: LoadingState.Done,
                series: [...scoresToFrames(scoresResponse, 'A'), anomaliesToFrame([latencyAnomaly], 'B')],
                timeRange: range,
              },
              timeRange: range,
              width: 900,
              height: 400,
              options: {},
              timeZone: 'utc',
            } as unknown as PanelProps)}
          />
        );
      });
      expect(screen.getByTestId('expected-band')).toBeInTheDocument();
      expect(screen.getAllByTestId('anomaly-region')).toHaveLength(1);
      expect(screen.getByTestId('explanation-pane')).toHaveTextContent('latency_p95_ms rose to 5200 ms');
      for (const id of ['llmsentinel-sentinel-datasource', 'llmsentinel-sentinel-panel']) {
        expect(existsSync(join(out, id, 'img/logo.svg'))).toBe(true);
        expect(existsSync(join(out, id, 'README.md'))).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
