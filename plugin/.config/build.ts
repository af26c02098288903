/**
 * Builds both plugins the way create-plugin lays them out for Grafana: one folder per plugin id under
 * dist/, each with an AMD `module.js` (Grafana's SystemJS loader expects AMD and supplies the shared
 * libraries below), its plugin.json with version and date filled in, img/, README.md and CHANGELOG.md.
 *
 * esbuild instead of create-plugin's webpack+swc: one small dependency, seconds on two cores. esbuild
 * has no AMD output, so the CommonJS bundle is wrapped in `define([...externals], ...)` here.
 *
 * Usage: tsx .config/build.ts [--dev] [--out DIR]
 */
import { build, type Metafile } from 'esbuild';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const DIST = join(ROOT, 'dist');

/** Libraries Grafana shares with plugins at runtime; never bundled (create-plugin's externals). */
export const GRAFANA_EXTERNALS = [
  'react',
  'react-dom',
  '@grafana/data',
  '@grafana/ui',
  '@grafana/runtime',
  '@grafana/i18n',
  '@emotion/css',
  '@emotion/react',
  'rxjs',
  'rxjs/operators',
  'lodash',
  'moment',
  'd3',
];

/** The plugins this workspace builds: source folder and the plugin id (its dist folder name). */
export const PLUGINS = [
  { dir: 'src/datasource', id: 'llmsentinel-sentinel-datasource' },
  { dir: 'src/panel', id: 'llmsentinel-sentinel-panel' },
] as const;

/**
 * Wraps a CommonJS bundle as an AMD module whose dependencies are the externals it requires, and
 * whose value is its `exports` (Grafana reads `plugin` from it).
 */
export function wrapAmd(cjs: string, deps: string[]): string {
  const params = deps.map((_, i) => `__dep${i}`);
  const table = deps.map((d, i) => `${JSON.stringify(d)}: __dep${i}`).join(', ');
  return [
    `define(${JSON.stringify(deps)}, function(${params.join(', ')}) {`,
    `var __deps = {${table}};`,
    `var require = function(name) { if (Object.prototype.hasOwnProperty.call(__deps, name)) return __deps[name]; throw new Error('module ' + name + ' is not provided by Grafana'); };`,
    `var module = { exports: {} }; var exports = module.exports;`,
    cjs,
    `return module.exports;`,
    `});`,
    '',
  ].join('\n');
}

/** Externals a bundle actually requires, from esbuild's metafile, in a stable order. */
export function requiredExternals(metafile: Metafile): string[] {
  const found = new Set<string>();
  for (const output of Object.values(metafile.outputs)) {
    for (const imp of output.imports) {
      if (imp.external) {
        found.add(imp.path);
      }
    }
  }
  return [...found].sort();
}

/** Options of {@link buildPlugin}. */
export interface BuildOptions {
  /** Unminified with inline source maps. */
  dev: boolean;
  /** Written into plugin.json's info.version. */
  version: string;
  /** Folder that receives `<plugin id>/`; default dist/. */
  outDir?: string;
}

/** Builds one plugin into `<outDir>/<plugin id>/`; returns that folder. */
export async function buildPlugin(plugin: (typeof PLUGINS)[number], { dev, version, outDir = DIST }: BuildOptions): Promise<string> {
  const src = join(ROOT, plugin.dir);
  const out = join(outDir, plugin.id);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });

  const result = await build({
    entryPoints: [join(src, 'module.ts')],
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'browser',
    target: 'es2020',
    // Classic JSX: the bundle then needs nothing from React but what Grafana's shared 'react' module
    // certainly has (createElement, Fragment), not react/jsx-runtime, which Grafana may not share.
    jsx: 'transform',
    jsxFactory: 'React.createElement',
    jsxFragment: 'React.Fragment',
    // Overrides tsconfig.json's "react-jsx" (meant for tsc and Jest); keeps imports as written.
    tsconfigRaw: { compilerOptions: { jsx: 'react', verbatimModuleSyntax: true } },
    minify: !dev,
    sourcemap: dev ? 'inline' : false,
    legalComments: 'none',
    external: GRAFANA_EXTERNALS,
    define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
    metafile: true,
    logLevel: 'warning',
    outfile: join(out, 'module.js'),
    absWorkingDir: ROOT,
  });
  const code = result.outputFiles[0].text;
  writeFileSync(join(out, 'module.js'), wrapAmd(code, requiredExternals(result.metafile)));

  const today = new Date().toISOString().slice(0, 10);
  const pluginJson = readFileSync(join(src, 'plugin.json'), 'utf8').replaceAll('%VERSION%', version).replaceAll('%TODAY%', today);
  writeFileSync(join(out, 'plugin.json'), pluginJson);
  cpSync(join(src, 'img'), join(out, 'img'), { recursive: true });
  for (const doc of ['README.md', 'CHANGELOG.md', 'LICENSE']) {
    const path = existsSync(join(src, doc)) ? join(src, doc) : join(ROOT, doc);
    if (existsSync(path)) {
      cpSync(path, join(out, doc));
    }
  }
  const size = (Buffer.byteLength(readFileSync(join(out, 'module.js'))) / 1024).toFixed(1);
  console.log(`built ${relative(process.cwd(), out) || '.'}/module.js (${size} KiB)`);
  return out;
}

async function main(): Promise<void> {
  const dev = process.argv.includes('--dev');
  const outIndex = process.argv.indexOf('--out');
  const outDir = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : DIST;
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const plugin of PLUGINS) {
    await buildPlugin(plugin, { dev, version, outDir });
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
