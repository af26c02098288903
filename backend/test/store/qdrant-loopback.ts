import { readFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback HTTP server (127.0.0.1, port 0) standing where Qdrant would be, for tests on a machine
 * without a Qdrant server. It records every request the adapter sends and answers through a handler:
 * recorded responses (fixtures/qdrant-recorded) or the in-memory emulator (qdrant-emulator.ts). Faults
 * (dropped connections, error statuses, hangs) can be switched on and off to play an outage.
 */

/** One request as the server saw it. */
export interface SeenRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: any;
}

/** What to answer. `body` is sent as JSON. */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export type Handler = (req: SeenRequest) => Reply | Promise<Reply>;

/** A fault applied to every request while set: drop the connection, answer a status, or never answer. */
export type Fault = { kind: 'drop' } | { kind: 'reply'; reply: Reply } | { kind: 'hang' };

const FIXTURES = new URL('./fixtures/qdrant-recorded/', import.meta.url);

/** A recorded response from test/store/fixtures/qdrant-recorded/<name>.json. */
export function recorded(name: string): Reply {
  return JSON.parse(readFileSync(new URL(`${name}.json`, FIXTURES), 'utf8')) as Reply;
}

/** Qdrant's success envelope. */
export function ok(result: unknown): Reply {
  return { status: 200, body: { result, status: 'ok', time: 0.000_1 } };
}

/** Qdrant's error envelope. */
export function fail(status: number, error: string, headers?: Record<string, string>): Reply {
  return { status, ...(headers ? { headers } : {}), body: { status: { error }, time: 0.000_1 } };
}

export class LoopbackQdrant {
  readonly requests: SeenRequest[] = [];
  fault: Fault | null = null;
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    public handler: Handler,
  ) {}

  /** Starts on 127.0.0.1 at a free port. */
  static async start(handler: Handler): Promise<LoopbackQdrant> {
    let self: LoopbackQdrant | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void (async () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const url = new URL(req.url ?? '/', 'http://loopback');
          const seen: SeenRequest = { method: req.method ?? 'GET', path: url.pathname, query: url.searchParams, headers: req.headers, body: text ? JSON.parse(text) : undefined };
          self!.requests.push(seen);
          const fault = self!.fault;
          if (fault?.kind === 'drop') return req.socket.destroy();
          if (fault?.kind === 'hang') return;
          let reply: Reply;
          try {
            reply = fault?.kind === 'reply' ? fault.reply : await self!.handler(seen);
          } catch (err) {
            reply = fail(500, `Service internal error: ${(err as Error).message}`);
          }
          res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
          res.end(reply.body === undefined ? undefined : JSON.stringify(reply.body));
        })();
      });
    });
    self = new LoopbackQdrant(server, handler);
    server.on('connection', (s: Socket) => {
      self!.sockets.add(s);
      s.on('close', () => self!.sockets.delete(s));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return self;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Every request so far, in order, as "METHOD /path". */
  lines(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A URL on 127.0.0.1 where nothing listens (a port that was free a moment ago). */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
