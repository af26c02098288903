import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request a {@link Receiver} got, and what it answered. */
export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

/**
 * A loopback HTTP receiver for alert tests: records every request and answers with `answer(n)` (status,
 * optional headers) for the n-th one (0-based).
 */
export class Receiver {
  readonly received: Received[] = [];
  answer: (n: number) => { status: number; headers?: Record<string, string>; body?: string } = () => ({ status: 200 });
  private server!: Server;
  port = 0;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const a = this.answer(this.received.length);
        this.received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8'), status: a.status });
        res.writeHead(a.status, a.headers).end(a.body ?? '');
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  url(path = '/'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Bodies of the requests answered 2xx, parsed. */
  delivered<T = Record<string, unknown>>(): T[] {
    return this.received.filter((r) => r.status >= 200 && r.status < 300).map((r) => JSON.parse(r.body) as T);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
