/**
 * The two plugins as Grafana sees them: plugin.json contracts (ids provisioning depends on, Grafana
 * version, proxy route with the API key) and the production build loading as an AMD module that
 * exports the plugin.
 */
import { describe, expect, it, jest } from '@jest/globals';
import { DataSourcePlugin, PanelPlugin } from '@grafana/data';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const ROOT = resolve(__dirname, '..');

interface PluginJson {
  id: string;
  type: string;
  info: { logos: { small: string; large: string }; screenshots: Array<{ path: string }>; version: string };
  dependencies: { grafanaDependency: string };
  routes?: Array<{ path: string; url: string; headers: Array<{ name: string; content: string }> }>;
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

  it('proxies the API through a route that injects the secure API key', () => {
    expect(ds.routes).toEqual([
      {
        path: 'sentinel',
        url: '{{ .JsonData.url }}',
        headers: [{ name: 'Authorization', content: 'Bearer {{ .SecureJsonData.apiKey }}' }],
      },
    ]);
  });
});

describe('production build', () => {
  it('emits AMD module.js files that export the datasource and panel plugins', () => {
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
      expect(ds.pluginJson.info.version).toBe('0.1.0');

      const panel = load('llmsentinel-sentinel-panel');
      expect(panel.exported?.plugin).toBeInstanceOf(PanelPlugin);
      for (const id of ['llmsentinel-sentinel-datasource', 'llmsentinel-sentinel-panel']) {
        expect(existsSync(join(out, id, 'img/logo.svg'))).toBe(true);
        expect(existsSync(join(out, id, 'README.md'))).toBe(true);
      }
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
