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
  /** A packet the server refuses by itself (version, layout): send it to the server and relay its answer. */
  relay(raw: Buffer, reason: string): void;
  /**
   * The startup phase failed: answer `err` and close, or close without a word (`err` null) where
   * PostgreSQL only logs `reason`.
   */
  refuse(err: ProxyError | null, reason: string): void;
}

export interface ClientStartupOptions {
  readonly tls: SecureContext | null;
  readonly startupTimeoutMs: number;
  readonly log: Logger;
}

/** PostgreSQL's words for plaintext sent after an encryption request (CVE-2021-23214). */
const MITM_DETAIL = 'This could be either a client-software bug or evidence of an attempted man-in-the-middle attack.';

/**
 * The client's side of a connection before its StartupMessage: SSLRequest / GSSENCRequest
 * negotiation, CancelRequest, and the startup packet itself, answered as PostgreSQL 15's
 * ProcessStartupPacket (src/backend/postmaster/postmaster.c) answers them: what the server only
 * logs (bad lengths, an incomplete packet, the timeout) closes the connection without a word.
 */
export class ClientStartup {
  private buf: Buffer | null = null;
  private timer: NodeJS.Timeout | null;
  private done = false;
  private sslDone = false;
  private gssDone = false;

  constructor(
    private client: Socket,
    private readonly opts: ClientStartupOptions,
    private readonly events: ClientStartupEvents,
  ) {
    // authentication_timeout: the server's child exits silently when it fires during startup.
    this.timer = setTimeout(() => {
      if (!this.done) this.finish(() => this.events.refuse(null, 'timeout waiting for the startup packet'));
    }, opts.startupTimeoutMs);
    this.timer.unref();
  }

  /** Bytes from the client while no StartupMessage has been seen. */
  feed(chunk: Buffer): void {
    if (this.done) return;
    this.buf = this.buf ? Buffer.concat([this.buf, chunk]) : chunk;
    let len: number;
    try {
      len = startupPacketLength(this.buf);
    } catch (err) {
      this.finish(() => this.events.refuse(null, (err as Error).message));
      return;
    }
    if (len < 0 || this.buf.length < len) return;
    const packet = this.buf.subarray(0, len);
    const rest = this.buf.subarray(len);
    this.buf = null;
    let p: StartupPacket;
    try {
      p = decodeStartupPacket(packet, this.sslDone, this.gssDone);
    } catch (err) {
      if (!(err instanceof StartupPacketError)) throw err;
      this.finish(() => this.events.refuse(null, err.message));
      return;
    }
    this.packet(p, packet, rest);
  }

  stop(): void {
    this.done = true;
    this.buf = null;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private finish(then: () => void): void {
    this.stop();
    then();
  }

  private packet(p: StartupPacket, raw: Buffer, rest: Buffer): void {
    switch (p.kind) {
      case 'ssl': {
        this.sslDone = true;
        const accept = this.opts.tls !== null && !(this.client instanceof TLSSocket);
        this.client.write(accept ? 'S' : 'N');
        if (accept) {
          this.gssDone = true;
          const secure = this.upgradeToTls(this.opts.tls!);
          if (rest.length > 0) {
            // Bytes sent before the handshake were not encrypted: the server says so once TLS is up.
            this.stop();
            secure.once('secure', () => this.plaintextAfterRequest('SSL'));
          }
        } else if (rest.length > 0) {
          this.plaintextAfterRequest('SSL');
        }
        return;
      }
      case 'gssenc':
        // quietcut offers no GSSAPI encryption.
        this.gssDone = true;
        this.client.write('N');
        if (rest.length > 0) this.plaintextAfterRequest('GSSAPI encryption');
        return;
      case 'cancel':
        this.finish(() => this.events.cancel(p.pid, p.secret));
        return;
      case 'refused':
        if (/^unsupported frontend protocol 1234\.(5679|5680)$/.test(p.reason)) {
          // A second encryption request: the server would never see it (we answered the first).
          this.finish(() =>
            this.events.refuse(new ProxyError(SqlState.FeatureNotSupported, `${p.reason}: server supports 3.0 to 3.0`, 'FATAL'), p.reason),
          );
          return;
        }
        this.finish(() => this.events.relay(Buffer.from(raw), p.reason));
        return;
      case 'startup':
        this.finish(() => this.events.startup(p, raw, rest));
        return;
    }
  }

  private plaintextAfterRequest(what: string): void {
    this.finish(() =>
      this.events.refuse(new ProxyError(SqlState.ProtocolViolation, `received unencrypted data after ${what} request`, 'FATAL', MITM_DETAIL), 'plaintext after an encryption request'),
    );
  }

  private upgradeToTls(ctx: SecureContext): TLSSocket {
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
    return secure;
  }
}

/** PG_MAX_AUTH_TOKEN_LENGTH: the server's limit for a password or SASL message. */
const MAX_AUTH_MESSAGE_BYTES = 65_535;
const PASSWORD_MESSAGE = 0x70; // 'p' (PasswordMessage, SASLInitialResponse, SASLResponse)
/** Pipelined bytes kept before the server is ready; past this the client is paused, not refused. */
const AUTH_PHASE_QUEUE_BYTES = 1024 * 1024;

/**
 * Client bytes between its StartupMessage and the server's first ReadyForQuery. Password and SASL
 * messages go straight to the server, which judges them; the first other message, and everything
 * after it, is what the client pipelined behind its startup: it waits for the request path (where
 * it is framed, counted and gated like any request) and is never sent before the startup packet.
 */
export class AuthPhaseInput {
  private header: Buffer | null = null;
  /** Bytes of a password message still to forward. */
  private remaining = 0;
  private queued: Buffer[] | null = null;
  private passthrough = false;
  /**
   * Sees each password message that arrived whole before it is forwarded; false stops the phase
   * (nothing more is forwarded: the session refuses the client itself).
   */
  inspect: ((message: Buffer) => boolean) | null = null;
  private stopped = false;

  constructor(
    private readonly forward: (b: Buffer) => void,
    /** A message the server closes on without a word went out. */
    private readonly refused: () => void,
  ) {}

  private queuedBytes = 0;

  /** Returns false when enough is queued that the client should stop sending for now. */
  feed(chunk: Buffer): boolean {
    this.step(chunk);
    return this.queuedBytes < AUTH_PHASE_QUEUE_BYTES;
  }

  private step(chunk: Buffer): void {
    if (this.stopped) return;
    if (this.queued) {
      this.queued.push(Buffer.from(chunk));
      this.queuedBytes += chunk.length;
      return;
    }
    if (this.passthrough) {
      this.forward(chunk);
      return;
    }
    let buf = chunk;
    if (this.header) {
      buf = Buffer.concat([this.header, chunk]);
      this.header = null;
    }
    let off = 0;
    if (this.remaining > 0) {
      const take = Math.min(this.remaining, buf.length);
      this.forward(buf.subarray(0, take));
      this.remaining -= take;
      off = take;
    }
    while (off < buf.length) {
      if (buf.length - off < 5) {
        this.header = Buffer.from(buf.subarray(off));
        return;
      }
      if (buf[off] !== PASSWORD_MESSAGE && !this.awaiting) {
        this.queued = [Buffer.from(buf.subarray(off))];
        this.queuedBytes = buf.length - off;
        return;
      }
      const len = buf.readInt32BE(off + 1);
      if (len < 4 || len > MAX_AUTH_MESSAGE_BYTES + 4) {
        // The server closes on this; let it see exactly what was sent.
        this.passthrough = true;
        this.refused();
        this.forward(buf.subarray(off));
        return;
      }
      // This message is the server's answer (refused by the server if it is not a password message).
      this.awaiting = false;
      const end = off + 1 + len;
      if (end > buf.length) {
        this.forward(buf.subarray(off));
        this.remaining = end - buf.length;
        return;
      }
      if (this.inspect && !this.inspect(buf.subarray(off, end))) {
        this.stopped = true;
        return;
      }
      this.forward(buf.subarray(off, end));
      off = end;
    }
  }

  private awaiting = false;

  /**
   * The server asked for an answer: the client's next message is what it reads, whatever its type.
   * If the client already sent something else, the server reads that (and refuses it).
   */
  serverAsks(): void {
    if (!this.queued) {
      this.awaiting = true;
      return;
    }
    const queued = this.take();
    this.passthrough = true;
    if (queued) this.forward(queued);
  }

  /** Startup is over: what the client pipelined (or a partial header), in order, or null. */
  take(): Buffer | null {
    const parts = [...(this.header ? [this.header] : []), ...(this.queued ?? [])];
    this.header = null;
    this.queued = null;
    return parts.length === 0 ? null : Buffer.concat(parts);
  }
}
