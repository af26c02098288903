// Jest transformer: TypeScript/TSX and the ESM-only dependencies of @grafana/ui (d3, ol, ...) to
// CommonJS with esbuild, which is already the build tool, instead of adding babel or swc.
const { transformSync, version } = require('esbuild');
const { createHash } = require('node:crypto');

function loaderFor(filename) {
  if (filename.endsWith('.tsx')) return 'tsx';
  if (filename.endsWith('.ts') || filename.endsWith('.mts') || filename.endsWith('.cts')) return 'ts';
  if (filename.endsWith('.jsx')) return 'jsx';
  return 'js';
}

module.exports = {
  process(source, filename) {
    const result = transformSync(source, {
      loader: loaderFor(filename),
      format: 'cjs',
      target: 'node20',
      jsx: 'automatic',
      sourcemap: 'inline',
      sourcefile: filename,
      supported: { 'dynamic-import': false },
    });
    return { code: result.code };
  },
  getCacheKey(source, filename) {
    return createHash('sha256').update(version).update('\0').update(filename).update('\0').update(source).digest('hex');
  },
};
