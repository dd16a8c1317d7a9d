import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import { Backend, type TxStatus } from '../protocol/codes.js';
import { decodeAuthType, decodeBackendKeyData, decodeErrorSeverity, decodeParameterStatus, decodeReadyForQuery } from '../protocol/decode.js';
import { encodeErrorResponse, encodeNegotiateProtocolVersion } from '../protocol/encode.js';
import type { BufferBudget } from '../protocol/scanner.js';
import { ProxyError, SqlState } from '../protocol/sqlstate.js';
import { encodeStartupMessage } from '../protocol/startup.js';
import { ReadyPhase, type ReadyPhaseHost } from './ready-phase.js';
import type { Logger } from '../util/log.js';
import type { WriteGate } from './gate.js';
import type { SessionInspector } from './inspector.js';
import { AuthPhaseInput, ClientStartup, type ClientStartupEvents, type StartupMessagePacket } from './startup-phase.js';
import { UpstreamLink, type UpstreamEndpoint } from './upstream-connect.js';
import { AUTH_SASL, dropPlusOffer, offersPlus, saslBinding } from './sasl.js';
import { cancelKeyRule, ServerStartupRewriter, type StartupRule } from './startup-rewrite.js';

/** What a session needs from the server that owns it. */
export interface SessionHost {
  readonly upstream: UpstreamEndpoint;
  readonly maxMessageBytes: number;
  /** Shared by every client: bytes of incomplete messages buffered (scanner.ts). */
  readonly bufferBudget?: BufferBudget | null;
  /** A message that stops arriving halfway for this long closes the connection; 0: never. */
  readonly messageTimeoutMs?: number;
  readonly startupTimeoutMs: number;
  readonly tls: SecureContext | null;
  readonly gate: WriteGate;
  readonly log: Logger;
  readonly counters: { clientToServer: number; serverToClient: number; serverConnections: number };
  newInspector(params: ReadonlyMap<string, string>): SessionInspector;
  /** A CancelRequest arrived on a fresh connection. */
  cancel(pid: number, secret: number): void;
  registerKey(session: Session, pid: number, secret: number): void;
  /**
   * The secret the client is given for the server's (pid, secret), when it is not the server's
   * own (workers: the key names the worker, cancel-key.ts). Absent: the server's key passes as is.
   */
  readonly clientCancelSecret?: ((pid: number, secret: number) => number) | undefined;
  /** Refuse a new session (too many clients, shutting down): the error it gets. */
  admit(session: Session): ProxyError | null;
  /** A client sent its next request this long after its previous one was answered, ms. */
  clientRoundTrip(ms: number): void;
  /** Shutting down: close sessions as soon as they are idle. */
  readonly draining: boolean;
  /** A held request's client gets a NOTICE after this long (null/absent: never). */
  readonly heldNoticeAfterMs?: number | null;
  closed(session: Session): void;
  protocolError(sqlState: string): void;
  /**
   * A StartupMessage arrived (after TLS, if any). Return true to take the client connection over
   * (the session lets go of the socket and forwards nothing); `rest` is what the client sent after it.
   */
  readonly claimStartup?: ((client: Socket, params: ReadonlyMap<string, string>, rest: Buffer) => boolean) | undefined;
}

/** Authentication requests the client must answer: cleartext, md5, GSS, GSS continue, SSPI, SASL, SASL continue. */
const AUTH_NEEDS_ANSWER = new Set([2, 3, 5, 7, 8, 9, 10, 11]);

/** startup: before the StartupMessage; relay: the server answers a packet it refuses, bytes pass unread. */
type Phase = 'startup' | 'relay' | 'auth' | 'ready' | 'closed';

/**
 * One client connection and its own server connection (session mode). Bytes are forwarded as
 * they arrive; messages are framed on the way to keep transaction state and, while a window is
 * open, to decide on whole requests before they go to the server.
 */
export class Session {
  phase: Phase = 'startup';
  user = '';
  database = '';
  private client: Socket;
  private server: UpstreamLink | null = null;
  private inspector: SessionInspector | null = null;
  private readonly startup: ClientStartup;

  /** Requests to the server and answers back, once startup is done. */
  private readonly ready: ReadyPhase;
  private serverPaused = false;
  /** Writes to the server are backed up: the client is paused until they drain. */
  private serverFull = false;

  pid = 0;
  secret = 0;
  readonly connectedAtMs = Date.now();
  private closing = false;
  /** When the last outstanding request was answered (performance.now()), 0 after the next one came. */
  private answeredAt = 0;

  constructor(
    client: Socket,
    private readonly host: SessionHost,
  ) {
    this.client = client;
    client.setNoDelay(true);
    this.ready = new ReadyPhase(this.readyHost(), { maxMessageBytes: host.maxMessageBytes, bufferBudget: host.bufferBudget ?? null, messageTimeoutMs: host.messageTimeoutMs ?? 0 }, (reason) => this.serverLost(new Error(reason)));
    this.attachClient(client);
    this.startup = new ClientStartup(client, host, this.startupEvents());
  }

  private attachClient(sock: Socket): void {
    sock.on('data', (chunk: Buffer) => this.onClientData(chunk));
    sock.on('error', (err) => {
      this.host.log.debug({ err }, 'client socket error');
      this.close();
    });
    sock.on('close', () => this.close());
    sock.on('drain', () => {
      if (this.serverPaused && this.server) {
        this.serverPaused = false;
        this.server.resume();
      }
    });
  }

  // ---------------------------------------------------------------- startup (startup-phase.ts, upstream-connect.ts)

  private onClientData(chunk: Buffer): void {
    if (this.serverEndExpected) return;
    if (this.phase === 'ready') {
      if (this.answeredAt !== 0) {
        this.host.clientRoundTrip(performance.now() - this.answeredAt);
        this.answeredAt = 0;
      }
      this.ready.clientData(chunk);
      return;
    }
    if (this.phase === 'auth') {
      // Bounded: a client that pipelines a lot behind its startup waits until the server is ready.
      if (this.authInput && !this.authInput.feed(chunk)) this.client.pause();
      return;
    }
    if (this.phase === 'startup') this.startup.feed(chunk);
  }

  private startupEvents(): ClientStartupEvents {
    return {
      socket: (sock) => {
        this.client = sock;
        this.attachClient(sock);
      },
      startup: (p, raw, rest) => this.onStartupMessage(p, raw, rest),
      cancel: (pid, secret) => {
        this.host.cancel(pid, secret);
        this.closeQuietly();
      },
      relay: (raw, reason) => {
        this.host.log.debug({ reason }, 'startup packet the server refuses: relaying its answer');
        this.phase = 'relay';
        this.connectServer(raw);
      },
      refuse: (err, reason) => {
        this.host.protocolError(err?.sqlState ?? SqlState.ProtocolViolation);
        if (err) {
          this.fatal(err);
          return;
        }
        // What PostgreSQL only logs: close without a word.
        this.host.log.debug({ reason }, 'startup failed');
        this.closeQuietly();
      },
    };
  }

  private onStartupMessage(p: StartupMessagePacket, raw: Buffer, rest: Buffer): void {
    if (this.host.claimStartup?.(this.client, p.params, rest)) {
      // Someone else serves this connection now (e.g. a virtual database): let go of the socket.
      for (const ev of ['data', 'close', 'error', 'drain']) this.client.removeAllListeners(ev);
      this.phase = 'closed';
      this.host.closed(this);
      return;
    }
    const refusal = this.host.admit(this);
    if (refusal) {
      this.fatal(refusal);
      return;
    }
    this.user = p.params.get('user') ?? '';
    this.database = p.params.get('database') || this.user;
    let packet: Buffer;
    if (p.minor !== 0 || p.pqOptions.length > 0) {
      // We speak 3.0 with no protocol options: negotiate down as PostgreSQL does, and send the
      // server a plain 3.0 packet so that it has nothing to negotiate.
      this.client.write(encodeNegotiateProtocolVersion(0, p.pqOptions));
      packet = encodeStartupMessage(p.params);
    } else {
      packet = Buffer.from(raw); // the chunk may be reused; keep our own copy until sent
    }
    this.inspector = this.host.newInspector(p.params);
    this.phase = 'auth';
    this.authInput = new AuthPhaseInput(
      (b) => {
        this.host.counters.clientToServer += b.length;
        this.server?.write(b);
      },
      // The server closes on this without a word.
      () => (this.serverEndExpected = true),
    );
    const rules: StartupRule[] = [];
    // A plain client must not be offered what only a TLS one can take (the server offers it to us).
    if ((this.client as Partial<TLSSocket>).encrypted !== true) rules.push(dropPlusOffer);
    if (this.host.clientCancelSecret) rules.push(cancelKeyRule((pid, secret) => this.serverKey(pid, secret), this.host.clientCancelSecret));
    if (rules.length > 0) this.startupRewrite = new ServerStartupRewriter(rules);
    this.connectServer(packet);
    if (rest.length > 0) this.onClientData(Buffer.from(rest));
  }

  /** Rewrites the server's SASL offer (client not on TLS) and cancel key (workers), until the first ReadyForQuery. */
  private startupRewrite: ServerStartupRewriter | null = null;

  /** The server's cancel key, kept here (forwarded cancels use it) when the client gets another. */
  private serverKey(pid: number, secret: number): void {
    this.pid = pid;
    this.secret = secret;
    this.host.registerKey(this, pid, secret);
  }
  /** Client bytes between the StartupMessage and the server's first ReadyForQuery. */
  private authInput: AuthPhaseInput | null = null;
  /** The client sent what the server closes on silently (a bad length): so do we, after it. */
  private serverEndExpected = false;
  /** The server sent a FATAL (or PANIC) ErrorResponse: its closing needs no word from us. */
  private serverSaidFatal = false;

  private connectServer(startupPacket: Buffer): void {
    this.server = new UpstreamLink(this.host.upstream, startupPacket, {
      data: (chunk) => {
        if (this.phase === 'relay') this.writeClient(Buffer.from(chunk));
        else if (this.phase !== 'closed') {
          this.host.counters.serverToClient += chunk.length;
          if (this.startupRewrite) {
            chunk = this.startupRewrite.feed(chunk);
            if (this.phase === 'ready') this.startupRewrite = null;
          }
          this.ready.serverData(chunk);
        }
        if (this.client.writableLength > 0) this.server?.releaseReadBuffer();
        return !this.serverPaused;
      },
      opened: () => {
        this.serverCounted = true;
        this.host.counters.serverConnections++;
      },
      drain: () => {
        this.serverFull = false;
        if (this.phase !== 'closed' && this.ready.accepting) this.client.resume();
      },
      lost: (err, closed) => {
        if (closed) this.uncountServer();
        this.serverLost(err);
      },
    });
  }

  /** Any ErrorResponse from the server, in every phase, before it is handled or forwarded. */
  private serverError(buf: Buffer, start: number, end: number): void {
    const severity = decodeErrorSeverity(buf, start, end);
    if (severity === 'FATAL' || severity === 'PANIC') this.serverSaidFatal = true;
  }

  private serverCounted = false;
  private uncountServer(): void {
    if (!this.serverCounted) return;
    this.serverCounted = false;
    this.host.counters.serverConnections--;
  }

  private serverLost(err: Error): void {
    if (this.phase === 'closed') return;
    if (this.closing || this.serverSaidFatal || this.phase === 'relay' || this.serverEndExpected) {
      // The server hung up after saying why (a FATAL), or as it should (the client said Terminate,
      // or sent what PostgreSQL closes on without a word): end as quietly as it did.
      this.closeQuietly();
      return;
    }
    this.host.log.debug({ err: err.message }, 'server connection lost');
    this.fatal(new ProxyError(SqlState.ConnectionFailure, `quietcut: server connection lost: ${err.message}`, 'FATAL'));
  }

  // ---------------------------------------------------------------- ready phase (ready-phase.ts)

  /** What the ready phase is waiting for (diagnostics). */
  describe(): string {
    return `${this.phase} ${this.ready.describe()}`;
  }

  /** Transaction status the client was last told. */
  get txStatus(): TxStatus {
    return this.ready.txStatus;
  }

  /** A message of quietcut's own for the client, between two server messages (never inside one). */
  notify(message: Buffer): void {
    if (this.phase === 'ready') this.ready.notify(message);
  }

  private readyHost(): ReadyPhaseHost {
    const inspector = (): SessionInspector => this.inspector!;
    const sessionHost = this.host;
    const ready = (): boolean => this.phase === 'ready';
    return {
      gate: this.host.gate,
      get inspector(): SessionInspector {
        return inspector();
      },
      get ready(): boolean {
        return ready();
      },
      log: this.host.log,
      get heldNoticeAfterMs(): number | null {
        return sessionHost.heldNoticeAfterMs ?? null;
      },
      startupMessage: (type, buf, start, end) => this.startupServerMessage(type, buf, start, end),
      serverError: (buf, start, end) => this.serverError(buf, start, end),
      serverWillEnd: (nothingForwarded) => {
        // The client sent what the server closes on without a word: end as it does, after it.
        this.serverEndExpected = true;
        this.client.pause();
        if (nothingForwarded) this.closeQuietly();
        else setTimeout(() => this.closeQuietly(), this.host.upstream.connectTimeoutMs).unref();
      },
      toServer: (data) => this.forward(data),
      toClient: (data) => this.writeClient(data),
      pauseClient: () => this.client.pause(),
      resumeClient: () => {
        if (!this.serverFull && this.phase === 'ready') this.client.resume();
      },
      fatal: (err) => this.fatal(err),
      terminated: () => {
        this.closing = true;
      },
      settled: () => {
        // Everything asked is answered: the client's next bytes measure its round trip.
        this.answeredAt = performance.now();
        if (this.host.draining && this.idle) setImmediate(() => this.shutdown());
      },
    };
  }

  private forward(data: Buffer): void {
    if (data.length === 0 || !this.server) return;
    this.host.counters.clientToServer += data.length;
    if (!this.server.write(data)) {
      this.serverFull = true;
      this.client.pause();
    }
  }

  private startupServerMessage(type: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case Backend.BackendKeyData: {
        if (this.pid !== 0) break; // recorded by the startup rewrite (the client got another key)
        const k = decodeBackendKeyData(buf, start);
        this.pid = k.pid;
        this.secret = k.secret;
        this.host.registerKey(this, k.pid, k.secret);
        break;
      }
      case Backend.ParameterStatus: {
        const ps = decodeParameterStatus(buf, start, end);
        this.inspector?.parameterStatus(ps.name, ps.value);
        break;
      }
      case Backend.Authentication: {
        if (end - start < 9) break;
        const auth = decodeAuthType(buf, start);
        // The server waits for an answer now: whatever the client sent meanwhile is what it reads
        // (and refuses, if it is not a password message), as it would directly.
        if (AUTH_NEEDS_ANSWER.has(auth)) this.authInput?.serverAsks();
        if (auth === AUTH_SASL) this.watchChannelBinding(buf.subarray(start, end));
        break;
      }
      case Backend.ReadyForQuery: {
        this.ready.txStatus = decodeReadyForQuery(buf, start);
        this.phase = 'ready';
        this.server?.started();
        // What the client pipelined behind its startup goes on now, through the request path,
        // once this chunk (with the ReadyForQuery) has been written to the client.
        const pipelined = this.authInput?.take() ?? null;
        this.authInput = null;
        if (pipelined) {
          queueMicrotask(() => {
            this.onClientData(pipelined);
            if (this.phase === 'ready' && this.ready.accepting) this.client.resume();
          });
        }
        break;
      }
      default:
        break;
    }
  }

  /**
   * Channel binding cannot pass a hop that ends the client's TLS: the client binds to quietcut's
   * certificate, the server checks its own. When the server offers SCRAM-SHA-256-PLUS over TLS and
   * the client is on TLS to quietcut with another certificate, a client that binds (or says it
   * could, which the server treats as a downgrade) would be refused by the server in words that
   * do not say why; quietcut refuses it first, naming what to change. A client that does not bind
   * ('n') goes on.
   */
  private watchChannelBinding(offer: Buffer): void {
    if (!this.server?.encrypted || !this.authInput || !offersPlus(offer)) return;
    const client = this.client as Partial<TLSSocket>;
    if (client.encrypted !== true) return;
    const ours = client.getCertificate?.();
    const theirs = this.server.serverCertificate;
    if (ours && 'raw' in ours && theirs && ours.raw.equals(theirs)) return; // the server's own certificate: binding holds
    const input = this.authInput;
    input.inspect = (msg) => {
      input.inspect = null;
      const binding = saslBinding(msg);
      if (binding === 'none') return true;
      this.fatal(
        new ProxyError(
          SqlState.InvalidAuthorization,
          'quietcut: SCRAM channel binding cannot pass quietcut',
          'FATAL',
          `The client's TLS ends at quietcut, whose certificate is not the server's, and the server checks ${binding === 'bind' ? 'the binding against its own certificate' : 'that a client able to bind does so'}.`,
          "Connect to quietcut with channel_binding=disable (or without TLS), set upstream.tls.mode: disable, or give quietcut the server's own certificate and key (tls.cert, tls.key).",
        ),
      );
      return false;
    };
  }

  private writeClient(data: Buffer): void {
    if (this.phase === 'closed') return;
    if (!this.client.write(data) && this.server && !this.serverPaused) {
      this.serverPaused = true;
      this.server.pause();
    }
  }

  // ---------------------------------------------------------------- closing

  /** Send an error to this client alone and close its connection. */
  fatal(err: ProxyError): void {
    if (this.phase === 'closed') return;
    this.host.protocolError(err.sqlState);
    try {
      if (this.client.writable) this.client.end(encodeErrorResponse(err));
    } catch {
      // the socket may already be gone
    }
    this.close();
  }

  private closeQuietly(): void {
    this.client.end();
    this.close();
  }

  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.startup.stop();
    this.ready.close();
    if (this.server) {
      this.uncountServer();
      this.server.destroy();
    }
    // Give a pending error a moment to flush, then make sure the socket is gone.
    if (!this.client.destroyed) {
      this.client.end();
      setTimeout(() => this.client.destroy(), 1000).unref();
    }
    this.host.closed(this);
  }

  /** Polite end for shutdown: tell the client why. */
  shutdown(): void {
    if (this.closing) {
      this.close();
      return;
    }
    this.fatal(new ProxyError(SqlState.AdminShutdown, 'terminating connection due to administrator command (quietcut shutting down)', 'FATAL'));
  }

  /** The partition this session's held request waits for, and since when (performance.now()); null: not held. */
  get heldFor(): { partition: string; sinceMs: number } | null {
    return this.ready.heldFor;
  }

  /** A CancelRequest for this session: a held request ends with 57014 here (the server runs nothing of it). False: none is held. */
  cancelHeld(): boolean {
    return this.phase === 'ready' && this.ready.cancelHeld();
  }

  get clientAddress(): string {
    return `${this.client.remoteAddress ?? '?'}:${this.client.remotePort ?? '?'}`;
  }

  get idle(): boolean {
    return this.phase === 'ready' && this.ready.idle;
  }
}

