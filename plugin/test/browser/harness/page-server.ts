/**
 * Loopback server for the browser test: serves the page bundle and plays Grafana's data proxy for the
 * datasource's plugin.json routes, `/api/datasources/proxy/uid/<uid>/sentinel/*` -> `<backend>/*`, as
 * Grafana does (test/fixtures/grafana-proxy.ts): the first matching route by method and path, its
 * `reqRole` checked against the signed-in user's org role (403 otherwise), its header templates filled
 * (`Authorization: Bearer <key>`), and a backend 401 answered as 400 "Authentication to data source
 * failed". The page never sees the key.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';

import { applyRoute, matchRoute, PROXY_AUTH_FAILED_MESSAGE, type ProxyRoute } from '../../fixtures/grafana-proxy';

const PLUGIN_JSON = resolve(import.meta.dirname, '../../../src/datasource/plugin.json');

/** A running page server. */
export interface PageServer {
  url: string;
  /** `METHOD path?query` of each proxied request, in order. */
  proxied: string[];
  /** Changes the API key stored in the datasource settings (secureJsonData.apiKey). */
  setApiKey: (key: string) => void;
  /** Changes the signed-in user's org role the proxy checks routes' reqRole against. */
  setOrgRole: (role: string) => void;
  close: () => Promise<void>;
}

/** Options of {@link startPageServer}. */
export interface PageServerOptions {
  pageDir: string;
  backendUrl: string;
  apiKey: string;
  datasourceUid: string;
  /** Org role of the signed-in user; default Editor. */
  orgRole?: string;
}

const TYPES: Record<string, string> = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

export async function startPageServer({ pageDir, backendUrl, apiKey, datasourceUid, orgRole = 'Editor' }: PageServerOptions): Promise<PageServer> {
  const proxyPrefix = `/api/datasources/proxy/uid/${datasourceUid}/`;
  const routes = (JSON.parse(readFileSync(PLUGIN_JSON, 'utf8')) as { routes: ProxyRoute[] }).routes;
  const settings = { jsonData: { url: backendUrl }, secureJsonData: { apiKey } };
  let role = orgRole;
  const proxied: string[] = [];
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://page.invalid');
      if (url.pathname.startsWith(proxyPrefix)) {
        const proxyPath = url.pathname.slice(proxyPrefix.length);
        const method = req.method ?? 'GET';
        proxied.push(`${method} ${proxyPath.replace(/^sentinel/, '')}${url.search}`);
        const match = matchRoute(routes, method, proxyPath, role);
        if ('denied' in match) {
          res.writeHead(403, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: 'plugin proxy route access denied' }));
          return;
        }
        if (!match.route) {
          // Grafana would send it to the datasource's own URL, which this datasource does not set.
          res.writeHead(502, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: 'no plugin route matches' }));
          return;
        }
        const target = applyRoute(match.route, proxyPath, url.search, settings);
        const body = method === 'GET' || method === 'HEAD' ? undefined : await readBody(req);
        const upstream = await fetch(target.url, {
          method,
          headers: {
            Accept: 'application/json',
            ...(req.headers['content-type'] ? { 'Content-Type': req.headers['content-type'] } : {}),
            ...target.headers,
          },
          body: body ? new Uint8Array(body) : undefined,
        });
        if (upstream.status === 401) {
          // Grafana's ds_proxy modifyResponse: a 401 would log the user out of Grafana, so it becomes a 400.
          res.writeHead(400).end(PROXY_AUTH_FAILED_MESSAGE);
          return;
        }
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
    setApiKey: (key) => {
      settings.secureJsonData.apiKey = key;
    },
    setOrgRole: (next) => {
      role = next;
    },
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
