import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { ProxyError, SqlState } from '../protocol/sqlstate.js';
import { StartupPacketError, decodeStartupPacket, startupPacketLength, type StartupPacket } from '../protocol/startup.js';
import type { Logger } from '../util/log.js';

export type StartupMessagePacket = Extract<StartupPacket, { kind: 'startup' }>;

/** What the client's startup phase reports to its session. */
export interface ClientStartupEvents {
  /** The client socket was replaced (TLS accepted): listen on the new one. */
  socket(sock: Socket): void;
  /** A StartupMessage arrived; `rest` holds bytes the client sent after it (a pipeline). */
  startup(p: StartupMessagePacket, raw: Buffer, rest: Buffer): void;
  cancel(pid: number, secret: number): void;
  /** The startup phase failed: answer `err` (or nothing, where PostgreSQL only logs) and close. */
  refuse(err: ProxyError): void;
}

export interface ClientStartupOptions {
  readonly tls: SecureContext | null;
  readonly startupTimeoutMs: number;
  readonly log: Logger;
}

/**
 * The client's side of a connection before its StartupMessage: SSLRequest / GSSENCRequest
 * negotiation, CancelRequest, and the startup packet itself, as PostgreSQL's
 * ProcessStartupPacket (src/backend/postmaster/postmaster.c) handles them.
 */
export class ClientStartup {
  private buf: Buffer | null = null;
  private timer: NodeJS.Timeout | null;
  private done = false;

  constructor(
    private client: Socket,
    private readonly opts: ClientStartupOptions,
    private readonly events: ClientStartupEvents,
  ) {
    this.timer = setTimeout(() => {
      if (!this.done) this.events.refuse(new ProxyError(SqlState.StartupTimeout, 'timeout waiting for the startup packet', 'FATAL'));
    }, opts.startupTimeoutMs);
    this.timer.unref();
  }

  /** Bytes from the client while no StartupMessage has been seen. */
  feed(chunk: Buffer): void {
    if (this.done) return;
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    try {
      const len = startupPacketLength(this.buf);
      if (len < 0 || this.buf.length < len) return;
      const packet = this.buf.subarray(0, len);
      const rest = this.buf.subarray(len);
      this.buf = null;
      this.packet(decodeStartupPacket(packet), packet, rest);
    } catch (err) {
      if (err instanceof StartupPacketError) this.events.refuse(new ProxyError(err.sqlState, err.message, 'FATAL'));
      else this.events.refuse(new ProxyError(SqlState.ProtocolViolation, 'invalid startup packet', 'FATAL'));
    }
  }

  stop(): void {
    this.done = true;
    this.buf = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private packet(p: StartupPacket, raw: Buffer, rest: Buffer): void {
    switch (p.kind) {
      case 'ssl':
        if (rest.length > 0) {
          // Bytes after SSLRequest before the answer: a buffer-stuffing attempt (CVE-2021-23214).
          this.events.refuse(new ProxyError(SqlState.ProtocolViolation, 'received unencrypted data after SSL request', 'FATAL'));
          return;
        }
        if (this.opts.tls && !(this.client instanceof TLSSocket)) {
          this.client.write('S');
          this.upgradeToTls(this.opts.tls);
        } else {
          this.client.write('N');
        }
        return;
      case 'gssenc':
        this.client.write('N');
        return;
      case 'cancel':
        this.stop();
        this.events.cancel(p.pid, p.secret);
        return;
      case 'startup':
        this.stop();
        this.events.startup(p, raw, rest);
        return;
    }
  }

  private upgradeToTls(ctx: SecureContext): void {
    const plain = this.client;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    plain.removeAllListeners('error');
    plain.removeAllListeners('drain');
    const secure = new TLSSocket(plain, { isServer: true, secureContext: ctx });
    secure.on('error', (err) => {
      this.opts.log.debug({ err }, 'TLS handshake failed');
      secure.destroy();
    });
    plain.on('error', () => secure.destroy());
    this.client = secure;
    this.events.socket(secure);
  }
}
