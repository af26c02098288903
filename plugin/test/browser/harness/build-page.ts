/**
 * Bundles the browser test page (the real panel and query editor with React, @grafana/ui and
 * @grafana/data) with the plugin's own build tool, esbuild.
 */
import { build } from 'esbuild';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** Builds `page/main.tsx` into `<outDir>/bundle.js` next to an `index.html`; returns outDir. */
export async function buildPage(outDir: string): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: [resolve(import.meta.dirname, '../page/main.tsx')],
    outfile: join(outDir, 'bundle.js'),
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    minify: false,
    sourcemap: false,
    logLevel: 'error',
    define: { 'process.env.NODE_ENV': '"production"', global: 'globalThis' },
    // Assets some dependencies import for features the page does not use.
    loader: { '.svg': 'text', '.css': 'empty', '.woff': 'empty', '.woff2': 'empty', '.ttf': 'empty', '.png': 'empty' },
  });
  writeFileSync(
    join(outDir, 'index.html'),
    '<!doctype html><html><head><meta charset="utf-8"><title>LLM-Sentinel panel</title></head>' +
      '<body><div id="root"></div><script src="/bundle.js"></script></body></html>'
  );
  return outDir;
}
