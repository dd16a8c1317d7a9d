import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP relay in front of a server, which a test can cut (every relayed connection reset,
 * new ones closed at once) and restore: one node's database connections go through it, so that
 * node alone loses the database while its clients' sessions keep theirs.
 */
export class Relay {
  private readonly sockets = new Set<Socket>();
  private cutOff = false;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target: { host: string; port: number }): Promise<Relay> {
    let relay: Relay | null = null;
    const server = createServer((client) => {
      if (!relay || relay.cutOff) {
        client.destroy();
        return;
      }
      const upstream = connect(target);
      const r = relay;
      for (const s of [client, upstream]) {
        r.sockets.add(s);
        s.on('error', () => undefined);
        s.on('close', () => {
          r.sockets.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const a = server.address();
    relay = new Relay(server, typeof a === 'object' && a ? a.port : 0);
    return relay;
  }

  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.resetAndDestroy();
  }

  restore(): void {
    this.cutOff = false;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
