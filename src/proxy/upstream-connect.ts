import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { NO_TLS, tlsConnectOptions, verifyServer, type UpstreamTls } from '../util/pg-tls.js';

/** Where a session's server connection goes, and the deadline of each step. */
export interface UpstreamEndpoint {
  host: string;
  port: number;
  /** TCP connect, TLS negotiation and the server's first answer to the startup packet. */
  connectTimeoutMs: number;
  /** From the start to the server's first ReadyForQuery (authentication included). */
  startupTimeoutMs?: number;
  tls?: UpstreamTls;
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
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
/** Longer than PostgreSQL's authentication_timeout (60 s), so that a live server's own timeout wins. */
export const DEFAULT_SERVER_STARTUP_TIMEOUT_MS = 65_000;

/**
 * A session's own server connection, opened for one startup packet, which always goes first:
 * whatever the session writes before the connection (and its TLS) is up waits behind it.
 *
 * Without TLS, server bytes are read into a buffer that is reused (no Buffer and no stream event
 * per read): the callback forwards them at once, and a fresh buffer is taken only when the caller
 * says the old one may still be referenced (`releaseReadBuffer`).
 */
export class UpstreamLink {
  /** The socket bytes travel on (the TLS socket once TLS is up). */
  private sock: Socket;
  private readonly raw: Socket;
  private readBuf: Buffer | null = null;
  private pending: Buffer[] | null = [];
  private answered = false;
  private stepTimer: NodeJS.Timeout | null = null;
  private startupTimer: NodeJS.Timeout | null = null;
  private ended = false;

  constructor(
    private readonly endpoint: UpstreamEndpoint,
    private readonly startupPacket: Buffer,
    private readonly events: UpstreamEvents,
  ) {
    const { host, port, connectTimeoutMs } = endpoint;
    const tls = endpoint.tls ?? NO_TLS;
    // Once TLS is up the TLS socket takes the handle over and its 'data' events carry the bytes.
    const raw = connect({
      host,
      port,
      onread: {
        buffer: () => (this.readBuf ??= Buffer.allocUnsafe(SERVER_READ_BYTES)),
        callback: (n: number, buf: Uint8Array) => {
          const chunk = (buf as Buffer).subarray(0, n);
          if (this.negotiating) {
            this.negotiating = false;
            this.answerToSslRequest(tls, chunk);
            return true;
          }
          return this.onData(chunk);
        },
      },
    });
    this.raw = raw;
    this.sock = raw;
    raw.setNoDelay(true);
    this.stepTimer = setTimeout(() => this.fail(new Error(`no answer from the server within ${connectTimeoutMs} ms (upstream.connectTimeoutMs)`)), connectTimeoutMs);
    this.stepTimer.unref();
    const startupMs = endpoint.startupTimeoutMs ?? DEFAULT_SERVER_STARTUP_TIMEOUT_MS;
    this.startupTimer = setTimeout(() => this.fail(new Error(`the server did not finish startup within ${startupMs} ms (upstream.startupTimeoutMs)`)), startupMs);
    this.startupTimer.unref();
    raw.once('connect', () => {
      events.opened();
      if (tls.mode === 'disable') this.sendStartup();
      else this.negotiateTls();
    });
    raw.on('error', (err) => this.fail(err));
    raw.on('close', () => this.closed());
  }

  private negotiating = false;

  private negotiateTls(): void {
    this.negotiating = true;
    this.raw.write(SSL_REQUEST);
  }

  private answerToSslRequest(tls: UpstreamTls, b: Buffer): void {
    const raw = this.raw;
    if (b.length !== 1) {
      // CVE-2021-23222: nothing may follow the answer before the handshake.
      this.fail(new Error('received unencrypted data after SSL response'));
      return;
    }
    if (b[0] === 0x4e /* N */) {
      if (tls.mode !== 'prefer') {
        this.fail(new Error(`the server does not support SSL, but upstream.tls.mode is ${tls.mode}`));
        return;
      }
      this.sendStartup();
      return;
    }
    if (b[0] !== 0x53 /* S */) {
      this.fail(new Error(`unexpected answer to SSLRequest: 0x${b[0]!.toString(16)}`));
      return;
    }
    // Leave the read callback before the TLS socket takes the handle over.
    setImmediate(() => {
      if (this.ended) return;
      const secure: TLSSocket = tlsConnect({ socket: raw, ...tlsConnectOptions(tls, this.endpoint.host) });
      this.sock = secure;
      secure.setNoDelay(true);
      secure.on('error', (err) => this.fail(err));
      secure.on('close', () => this.closed());
      secure.once('secureConnect', () => {
        const err = verifyServer(tls, this.endpoint.host, secure);
        if (err) {
          this.fail(err);
          return;
        }
        secure.on('data', (d: Buffer) => this.onData(d));
        secure.on('drain', () => this.events.drain());
        this.sendStartup();
      });
    });
  }

  private sendStartup(): void {
    if (this.sock === this.raw) this.raw.on('drain', () => this.events.drain());
    const pending = this.pending ?? [];
    this.pending = null;
    this.sock.write(this.startupPacket);
    for (const b of pending) this.sock.write(b);
  }

  private onData(chunk: Buffer): boolean {
    if (!this.answered) {
      this.answered = true;
      this.clearStep();
    }
    return this.events.data(chunk);
  }

  /** The server's first ReadyForQuery: startup is over, no deadline applies any more. */
  started(): void {
    this.clearStep();
    if (this.startupTimer) clearTimeout(this.startupTimer);
    this.startupTimer = null;
  }

  /** The connection is what PostgreSQL calls encrypted (TLS up), for channel binding decisions. */
  get encrypted(): boolean {
    return this.sock !== this.raw;
  }

  /** The server's certificate (DER) on an encrypted connection, else null. */
  get serverCertificate(): Buffer | null {
    if (this.sock === this.raw) return null;
    const c = (this.sock as TLSSocket).getPeerCertificate();
    return c && c.raw ? c.raw : null;
  }

  /** The last read buffer may still be referenced (a client write is pending): read into a new one. */
  releaseReadBuffer(): void {
    this.readBuf = null;
  }

  write(data: Buffer): boolean {
    if (this.pending) {
      // Not connected yet: keep it behind the startup packet (the caller may reuse its buffer).
      this.pending.push(Buffer.from(data));
      return true;
    }
    return this.sock.write(data);
  }

  pause(): void {
    this.sock.pause();
  }

  resume(): void {
    this.sock.resume();
  }

  destroy(): void {
    this.ended = true;
    this.clearTimers();
    this.sock.destroy();
    this.raw.destroy();
  }

  private clearStep(): void {
    if (this.stepTimer) clearTimeout(this.stepTimer);
    this.stepTimer = null;
  }

  private clearTimers(): void {
    this.clearStep();
    if (this.startupTimer) clearTimeout(this.startupTimer);
    this.startupTimer = null;
  }

  private fail(err: Error): void {
    this.clearTimers();
    if (this.ended) return;
    this.events.lost(err, false);
    this.sock.destroy();
    this.raw.destroy();
  }

  private closed(): void {
    this.clearTimers();
    if (this.ended) return;
    this.ended = true;
    this.events.lost(new Error('server closed the connection'), true);
  }
}
