// Jest for both plugins: jsdom, tests next to the code in src/, esbuild as the transformer.
// ESM-only packages that @grafana/ui and @grafana/data pull in must be transformed too.
const esModules = [
  'd3',
  'd3-[a-z-]+',
  'internmap',
  'delaunator',
  'robust-predicates',
  'ol',
  'uuid',
  'marked',
  'rxjs',
  '@grafana/[a-z-]+',
  'react-colorful',
  'react-calendar',
  'get-user-locale',
  'memoize',
  'mimic-function',
  '@wojtekmaj/[a-z-]+',
  'monaco-promql',
  'ml-[a-z-]+',
  'is-[a-z-]+',
  'color-[a-z-]+',
  'quick-lru',
  'yocto-queue',
  '@openfeature/[a-z-]+',
].join('|');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  setupFilesAfterEnv: ['<rootDir>/.config/jest/setup.ts'],
  transform: {
    '^.+\\.(t|j)sx?$': '<rootDir>/.config/jest/esbuild-transform.cjs',
    '^.+\\.mjs$': '<rootDir>/.config/jest/esbuild-transform.cjs',
  },
  transformIgnorePatterns: [`node_modules/(?!(${esModules})/)`],
  moduleNameMapper: {
    '\\.(css|scss|sass)$': '<rootDir>/.config/jest/style-mock.cjs',
    '^react-inlinesvg$': '<rootDir>/.config/jest/inline-svg-mock.cjs',
  },
  globalSetup: '<rootDir>/.config/jest/global-setup.cjs',
};
