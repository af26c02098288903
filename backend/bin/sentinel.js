#!/usr/bin/env node
// The `sentinel` command (`npx sentinel <command>` in the repository, or on PATH through the workspace's
// node_modules/.bin): runs the TypeScript CLI (backend/src/cli.ts) through tsx, as `npm run sentinel` does.
import { register } from 'tsx/esm/api';

register();
await import('../src/cli.ts');
