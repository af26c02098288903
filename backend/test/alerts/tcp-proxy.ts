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
  /**
   * Connections (1 = the first) cut as soon as the client sends channel.open (an AMQP method frame of class 20,
   * method 10): the connection is up and the client is in the middle of setting up its channel.
   */
  cutAtChannelOpen = new Set<number>();

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
      const n = ++this.connections;
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
      if (this.cutAtChannelOpen.has(n)) {
        client.on('data', (d: Buffer) => {
          // frame type 1 (method), channel, size, then class 20 (channel) and method 10 (open)
          for (let i = 0; i + 11 <= d.length; i++) {
            if (d[i] === 1 && d.readUInt16BE(i + 7) === 20 && d.readUInt16BE(i + 9) === 10) return drop();
          }
          upstream.write(d);
        });
      } else client.pipe(upstream);
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
