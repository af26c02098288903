/**
 * Loopback server for the browser test: serves the page bundle and plays Grafana's data proxy for the
 * datasource route, `/api/datasources/proxy/uid/<uid>/sentinel/*` -> `<backend>/*`, adding
 * `Authorization: Bearer <key>` exactly as the plugin.json route does. The page never sees the key.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

/** A running page server. */
export interface PageServer {
  url: string;
  /** `METHOD path?query` of each proxied request, in order. */
  proxied: string[];
  close: () => Promise<void>;
}

/** Options of {@link startPageServer}. */
export interface PageServerOptions {
  pageDir: string;
  backendUrl: string;
  apiKey: string;
  datasourceUid: string;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

export async function startPageServer({ pageDir, backendUrl, apiKey, datasourceUid }: PageServerOptions): Promise<PageServer> {
  const proxyPrefix = `/api/datasources/proxy/uid/${datasourceUid}/sentinel/`;
  const proxied: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://page.invalid');
      if (url.pathname.startsWith(proxyPrefix)) {
        const target = `${backendUrl}/${url.pathname.slice(proxyPrefix.length)}${url.search}`;
        proxied.push(`${req.method} ${url.pathname.slice(proxyPrefix.length - 1)}${url.search}`);
        const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await readBody(req);
        const upstream = await fetch(target, {
          method: req.method,
          headers: {
            Accept: 'application/json',
            ...(req.headers['content-type'] ? { 'Content-Type': req.headers['content-type'] } : {}),
            Authorization: `Bearer ${apiKey}`,
          },
          body: body ? new Uint8Array(body) : undefined,
        });
        res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'application/json' });
        res.end(Buffer.from(await upstream.arrayBuffer()));
        return;
      }
      const file = url.pathname === '/' ? 'index.html' : url.pathname === '/bundle.js' ? 'bundle.js' : undefined;
      if (!file) {
        res.writeHead(404).end('not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': TYPES[file.slice(file.lastIndexOf('.'))] });
      res.end(readFileSync(join(pageDir, file)));
    })().catch((err: unknown) => {
      // A proxy failure looks like Grafana's: 502 with a message.
      if (!res.headersSent) {
        res.writeHead(502, { 'Content-Type': 'application/json' });
      }
      res.end(JSON.stringify({ message: `proxy error: ${err instanceof Error ? err.message : String(err)}` }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    proxied,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
