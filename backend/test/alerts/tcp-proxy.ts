import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/**
 * A loopback TCP proxy in front of the broker, so a test can cut the connection mid-stream (as a network
 * failure would) or refuse new ones for a while, without touching the broker or the client's internals.
 */
export class TcpProxy {
  private server!: Server;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;
  /** While true, new connections are dropped at once. */
  refusing = false;
  connections = 0;

  constructor(
    private readonly targetPort = 5672,
    private readonly targetHost = '127.0.0.1',
  ) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (this.refusing) {
        client.destroy();
        return;
      }
      this.connections++;
      const upstream = connect(this.targetPort, this.targetHost);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.pairs.delete(pair);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  /** amqp URL through the proxy. */
  url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Local ports of the proxy's broker-side sockets (the broker names connections by them). */
  upstreamPorts(): number[] {
    return [...this.pairs].map(([, up]) => up.localPort!).filter(Boolean);
  }

  /** Cuts every open connection abruptly (no AMQP close handshake). */
  cut(): void {
    for (const [c, u] of this.pairs) {
      c.destroy();
      u.destroy();
    }
    this.pairs.clear();
  }

  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
