import { connect, type Socket } from 'node:net';

/** Where a session's server connection goes. */
export interface UpstreamEndpoint {
  host: string;
  port: number;
  connectTimeoutMs: number;
}

/** What the server connection reports to its session. */
export interface UpstreamEvents {
  /** Bytes from the server, valid only during the call. Return false to stop reading (back-pressure). */
  data(chunk: Buffer): boolean;
  /** The connection is open (counted as a server connection until it closes). */
  opened(): void;
  /** Writes can go on again. */
  drain(): void;
  /** The connection failed or closed. */
  lost(err: Error, closed: boolean): void;
}

const SERVER_READ_BYTES = 64 * 1024;

/**
 * A session's own server connection: opened for one startup packet, which it sends first.
 * Server bytes are read into a buffer that is reused (no Buffer and no stream event per read): the
 * callback forwards them at once, and a fresh buffer is taken only when the caller says the old
 * one may still be referenced (`releaseReadBuffer`).
 */
export class UpstreamLink {
  readonly socket: Socket;
  private readBuf: Buffer | null = null;

  constructor(endpoint: UpstreamEndpoint, startupPacket: Buffer, events: UpstreamEvents) {
    const { host, port, connectTimeoutMs } = endpoint;
    const server = connect({
      host,
      port,
      onread: {
        buffer: () => (this.readBuf ??= Buffer.allocUnsafe(SERVER_READ_BYTES)),
        callback: (n: number, buf: Uint8Array) => events.data((buf as Buffer).subarray(0, n)),
      },
    });
    this.socket = server;
    server.setNoDelay(true);
    const timer = setTimeout(() => {
      server.destroy(new Error(`timeout after ${connectTimeoutMs} ms`));
    }, connectTimeoutMs);
    timer.unref();
    server.once('connect', () => {
      clearTimeout(timer);
      events.opened();
      server.write(startupPacket);
    });
    server.on('drain', () => events.drain());
    server.on('error', (err) => {
      clearTimeout(timer);
      events.lost(err, false);
    });
    server.on('close', () => events.lost(new Error('server closed the connection'), true));
  }

  /** The last read buffer may still be referenced (a client write is pending): read into a new one. */
  releaseReadBuffer(): void {
    this.readBuf = null;
  }

  write(data: Buffer): boolean {
    return this.socket.write(data);
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  destroy(): void {
    this.socket.destroy();
  }
}
