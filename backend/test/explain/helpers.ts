import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { rng } from '../../src/demo/traffic';
import { createLogger, type Logger } from '../../src/logger';

/** Polls `cond` every 5 ms until it holds, failing after `ms`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A logger whose JSON lines are kept in memory, so tests can assert what never reaches the logs. */
export function memoryLogger(level = 'debug'): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return { log: createLogger(level, dest as unknown as Parameters<typeof createLogger>[1]), lines };
}

/** A started app on a temp data dir; `stop` closes it and removes the dir. */
export async function startApp(env: Record<string, string>, log: Logger = createLogger('silent')): Promise<{ app: App; dir: string; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'sentinel-test-'));
  const config = loadConfig({ SENTINEL_DATA_DIR: dir, SENTINEL_PORT: '0', SENTINEL_WARMUP_WINDOWS: '10', SENTINEL_LOG_LEVEL: 'silent', ...env });
  const app = await createApp(config, log);
  return {
    app,
    dir,
    stop: async () => {
      await app.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Identities in the generated traffic: PII the prompt and alerts must never carry in clear. */
export const PII = {
  user: 'alice.smith@example.com',
  apiKeyId: 'sk-live-9f8e7d6c5b4a39281706f5e4d3c2b1a0',
};

/**
 * Event-time traffic of one series (service chat, model gpt-4o, user = an email): `windows` one-minute
 * windows of 30 requests with ~850 ms latency, where windows in `spikes` have ~6 s latency. Seeded.
 */
export function latencyTraffic(startMs: number, windows: number, spikes: ReadonlySet<number>, seed = 7): Record<string, unknown>[] {
  const r = rng(seed);
  const events: Record<string, unknown>[] = [];
  for (let w = 0; w < windows; w++) {
    const spike = spikes.has(w);
    for (let i = 0; i < 30; i++) {
      events.push({
        timestamp: startMs + w * 60_000 + i * 2_000,
        service: 'chat',
        model: 'gpt-4o',
        user: PII.user,
        apiKeyId: PII.apiKeyId,
        inputTokens: 500 + Math.round(r() * 100),
        outputTokens: 200 + Math.round(r() * 50),
        latencyMs: spike ? 6_000 + r() * 500 : 800 + r() * 100,
        costUsd: 0.01,
      });
    }
  }
  return events;
}

/** Start of generated traffic: whole minutes, far enough in the past for every window to close. */
export function trafficStart(minutesAgo = 120): number {
  return Math.floor((Date.now() - minutesAgo * 60_000) / 60_000) * 60_000;
}

/** Posts events through the real HTTP API and waits until every closed window is scored. */
export async function ingest(app: App, events: Record<string, unknown>[]): Promise<void> {
  const res = await app.http.inject({ method: 'POST', url: '/api/v1/events', payload: events });
  if (res.statusCode !== 202) throw new Error(`ingest answered ${res.statusCode}: ${res.body}`);
  await app.pipeline.idle();
}

/** What the fake LLM answers to one request. */
export interface FakeReply {
  status?: number;
  /** Assistant message content (wrapped in a chat.completion); ignored when `raw` is set. */
  content?: string;
  /** A raw body instead of a chat.completion. */
  raw?: string;
  /** Wait before sending the headers. */
  delayMs?: number;
  /** Send headers and then never finish the body. */
  stallBody?: boolean;
  headers?: Record<string, string>;
}

/** One request the fake LLM received. */
export interface FakeRequest {
  url: string;
  headers: IncomingHttpHeaders;
  body: { model: string; messages: { role: string; content: string }[]; response_format?: { type: string }; [k: string]: unknown };
  raw: string;
}

/**
 * An OpenAI-compatible endpoint on loopback (`/v1/chat/completions`), answering with whatever `reply`
 * returns for the n-th request (0-based) and recording every request.
 */
export class FakeLlm {
  readonly requests: FakeRequest[] = [];
  reply: (req: FakeRequest, n: number) => FakeReply = () => ({ content: '{}' });
  private server!: Server;
  private readonly open = new Set<ServerResponse>();
  baseUrl = '';

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        if (req.url !== '/v1/chat/completions' || req.method !== 'POST') {
          res.writeHead(404).end();
          return;
        }
        const r: FakeRequest = { url: req.url, headers: req.headers, body: JSON.parse(raw), raw };
        const n = this.requests.length;
        this.requests.push(r);
        const reply = this.reply(r, n);
        const send = () => {
          const status = reply.status ?? 200;
          const body =
            reply.raw ??
            JSON.stringify({
              id: `chatcmpl-${n}`,
              object: 'chat.completion',
              created: Math.floor(Date.now() / 1000),
              model: r.body.model,
              choices: [{ index: 0, message: { role: 'assistant', content: reply.content ?? '' }, finish_reason: 'stop' }],
              usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
            });
          res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
          if (reply.stallBody) {
            this.open.add(res);
            res.write(body.slice(0, 10));
            return;
          }
          res.end(body);
        };
        if (reply.delayMs) {
          this.open.add(res);
          setTimeout(() => {
            if (!res.destroyed) send();
          }, reply.delayMs).unref();
        } else send();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
    return this;
  }

  async stop(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** A valid answer citing the given refs. */
export function validAnswer(refs: string[] = ['F1'], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    summary: 'Latency of chat on gpt-4o rose about sevenfold against its normal band.',
    rootCause: 'Upstream model latency degraded; the same pattern as a confirmed retry storm before.',
    immediateFix: 'Fail over to the secondary region and cap client retries.',
    longTermFix: 'Add per-key retry budgets and a latency SLO alert on the provider.',
    confidence: 0.72,
    evidenceRefs: refs,
    ...extra,
  });
}
