import { connect, type Socket } from 'node:net';
import { parse, serialize } from 'pg-protocol';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';

/**
 * A bare protocol client for tests that need exact control over bytes (pipelining, garbage,
 * partial messages): it sends what it is told and records every parsed server message.
 */
export class RawClient {
  readonly messages: BackendMessage[] = [];
  closed = false;
  private waiters: Array<() => void> = [];

  private constructor(readonly socket: Socket) {
    void parse(socket, (m) => {
      this.messages.push(m);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  static async open(port: number): Promise<RawClient> {
    const s = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', resolve);
      s.once('error', reject);
    });
    return new RawClient(s);
  }

  /** Connect and authenticate (trust) as user to database. */
  static async startup(port: number, user = 'postgres', database = 'demo'): Promise<RawClient> {
    const c = await RawClient.open(port);
    c.send(serialize.startup({ user, database }));
    await c.until((m) => m.name === 'readyForQuery');
    c.messages.length = 0;
    return c;
  }

  send(b: Buffer): void {
    this.socket.write(b);
  }

  /** Wait until `pred` holds for some message received so far (or the socket closes). */
  async until(pred: (m: BackendMessage) => boolean, timeoutMs = 10_000): Promise<BackendMessage | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.messages.find(pred);
      if (hit) return hit;
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error(`timeout; got ${this.messages.map((m) => m.name).join(',')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async countOf(name: string, n: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.messages.filter((m) => m.name === name).length < n) {
      if (this.closed || Date.now() > deadline) throw new Error(`expected ${n} ${name}, got ${this.messages.map((m) => m.name).join(',')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  end(): void {
    this.socket.destroy();
  }
}

export { serialize };
