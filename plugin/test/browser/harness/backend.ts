/**
 * Starts the real Sentinel backend (`backend/src/cli.ts serve`) on a free loopback port with a fresh
 * data directory, and finds its address in the `"msg":"listening"` log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** A running backend. */
export interface Backend {
  url: string;
  /** Log lines so far (stdout and stderr), for failure messages. */
  logs: string[];
  stop: () => Promise<void>;
}

/** Options of {@link startBackend}. */
export interface BackendOptions {
  /** Repository root (where backend/ lives). */
  repoRoot: string;
  /** Value of SENTINEL_API_KEYS; requests then need the key, as in production. */
  apiKeys?: string;
  /** How long to wait for the listening line. */
  timeoutMs?: number;
}

export async function startBackend({ repoRoot, apiKeys, timeoutMs = 90_000 }: BackendOptions): Promise<Backend> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sentinel-browser-data-'));
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'backend/src/cli.ts', 'serve'], {
    cwd: repoRoot,
    env: {
      ...process.env,
      SENTINEL_PORT: '0',
      SENTINEL_HOST: '127.0.0.1',
      SENTINEL_DATA_DIR: dataDir,
      ...(apiKeys ? { SENTINEL_API_KEYS: apiKeys } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (line) => logs.push(line));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dataDir, { recursive: true, force: true });
  };

  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`backend did not log "listening" within ${timeoutMs} ms:\n${logs.join('\n')}`)), timeoutMs);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // not a JSON log line
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`backend exited (${code ?? signal}) before listening:\n${logs.join('\n')}`));
    });
  }).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return { url, logs, stop };
}
