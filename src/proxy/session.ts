import type { Socket } from 'node:net';
import type { SecureContext } from 'node:tls';
import { Backend, Frontend, type TxStatus } from '../protocol/codes.js';
import {
  MalformedMessageError,
  decodeBackendKeyData,
  decodeBind,
  decodeCommandComplete,
  decodeErrorSeverity,
  decodeExecute,
  decodeParameterStatus,
  decodeParse,
  decodeQuery,
  decodeReadyForQuery,
  decodeTarget,
} from '../protocol/decode.js';
import { encodeErrorResponse, encodeMessage, encodeNegotiateProtocolVersion, encodeReadyForQuery } from '../protocol/encode.js';
import { frontendTypeLimits, serverRefusesLength } from '../protocol/limits.js';
import { MessageScanner, type BufferBudget, type MessageSink } from '../protocol/scanner.js';
import { ProxyError, SqlState } from '../protocol/sqlstate.js';
import { encodeStartupMessage } from '../protocol/startup.js';
import type { Logger } from '../util/log.js';
import type { GateDecision, HeldRequest, WriteGate } from './gate.js';
import type { SessionInspector } from './inspector.js';
import { AuthPhaseInput, ClientStartup, type ClientStartupEvents, type StartupMessagePacket } from './startup-phase.js';
import { UpstreamLink, type UpstreamEndpoint } from './upstream-connect.js';

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
  /** Refuse a new session (too many clients, shutting down): the error it gets. */
  admit(session: Session): ProxyError | null;
  /** A client sent its next request this long after its previous one was answered, ms. */
  clientRoundTrip(ms: number): void;
  /** Shutting down: close sessions as soon as they are idle. */
  readonly draining: boolean;
  closed(session: Session): void;
  protocolError(sqlState: string): void;
  /**
   * A StartupMessage arrived (after TLS, if any). Return true to take the client connection over
   * (the session lets go of the socket and forwards nothing); `rest` is what the client sent after it.
   */
  readonly claimStartup?: ((client: Socket, params: ReadonlyMap<string, string>, rest: Buffer) => boolean) | undefined;
}

const CLIENT_WANTED = MessageScanner.types(
  Frontend.Query,
  Frontend.Parse,
  Frontend.Bind,
  Frontend.Execute,
  Frontend.Sync,
  Frontend.Close,
  Frontend.Flush,
  Frontend.FunctionCall,
  Frontend.Terminate,
);
const CLIENT_LIMITS = frontendTypeLimits();
/** Authentication requests the client must answer: cleartext, md5, GSS, GSS continue, SSPI, SASL, SASL continue. */
const AUTH_NEEDS_ANSWER = new Set([2, 3, 5, 7, 8, 9, 10, 11]);
const SERVER_WANTED = MessageScanner.types(
  Backend.Authentication,
  Backend.NotificationResponse,
  Backend.PortalSuspended,
  Backend.EmptyQueryResponse,
  Backend.ReadyForQuery,
  Backend.CommandComplete,
  Backend.ErrorResponse,
  Backend.CopyInResponse,
  Backend.CopyOutResponse,
  Backend.CopyBothResponse,
  Backend.BackendKeyData,
  Backend.ParameterStatus,
);

/** Entry in the queue of responses owed to the client, one per Query/Sync/FunctionCall sent. */
const enum Owed {
  /** The server's response: forward it. */
  Server = 0,
  /** The server's response to a request the proxy substituted: drop it up to its ReadyForQuery. */
  Swallow = 1,
  /** A response the proxy makes up (a rejection): send when everything before it was sent. */
  Synthetic = 2,
}
interface OwedEntry {
  kind: Owed;
  bytes: Buffer | null;
  /** Partitions registered in flight for drain, released at this entry's ReadyForQuery. */
  inflight: ReadonlySet<string> | null;
}

/** startup: before the StartupMessage; relay: the server answers a packet it refuses, bytes pass unread. */
type Phase = 'startup' | 'relay' | 'auth' | 'ready' | 'closed';

/**
 * One client connection and its own server connection (session mode). Bytes are forwarded as
 * they arrive; messages are framed on the way to keep transaction state and, while a window is
 * open, to decide on whole requests before they go to the server.
 */
export class Session implements MessageSink {
  phase: Phase = 'startup';
  txStatus: TxStatus = 'I';
  user = '';
  database = '';
  private client: Socket;
  private server: UpstreamLink | null = null;
  private inspector: SessionInspector | null = null;
  private readonly startup: ClientStartup;

  private readonly clientScanner: MessageScanner;
  private readonly serverScanner: MessageScanner;
  private readonly serverSink: MessageSink;

  // --- request state (client → server)
  /** Bytes of the current request forwarded already (it started when the gate epoch was this). */
  private partialEpoch = -1;
  /** Gated mode: copies of the current request's messages, not yet forwarded. */
  private reqParts: Buffer[] = [];
  private reqBytes = 0;
  /** Gated mode: the current request is being dropped up to its Sync (rejected). */
  private skipToSync = false;
  private gating = false;
  /** Held: a request waits in a hold queue; nothing more from this client goes on until it is released. */
  private held: (HeldRequest & { data: Buffer; visible: ReadonlySet<string>; endsWithSync: boolean; partition: string }) | null = null;
  private backlog: Buffer[] = [];
  private copyIn = false;
  private serverPaused = false;

  // --- response state (server → client)
  private owed: OwedEntry[] = [];
  private owedHead = 0;
  /** Server messages are being dropped up to the next ReadyForQuery (a substituted request). */
  private dropping = false;
  /** A ReadyForQuery was just scanned and made-up responses may be due. */
  private afterRfq = false;

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
    this.clientScanner = new MessageScanner(CLIENT_WANTED, host.maxMessageBytes, this, host.bufferBudget ?? null);
    this.clientScanner.typeLimits = CLIENT_LIMITS;
    this.serverSink = {
      message: (type, buf, start, end) => {
        if (type === Backend.ErrorResponse) this.serverError(buf, start, end);
        this.serverMessage(type, buf, start, end);
      },
      invalid: (reason) => this.serverLost(new Error(reason)),
    };
    // Server messages can be large (DataRow); only small wanted ones are ever collected.
    this.serverScanner = new MessageScanner(SERVER_WANTED, 0x7fffffff, this.serverSink);
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
      this.clientData(chunk);
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
    this.connectServer(packet);
    if (rest.length > 0) this.onClientData(Buffer.from(rest));
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
        else this.onServerData(chunk);
        if (this.client.writableLength > 0) this.server?.releaseReadBuffer();
        return !this.serverPaused;
      },
      opened: () => {
        this.serverCounted = true;
        this.host.counters.serverConnections++;
      },
      drain: () => {
        if (this.phase !== 'closed' && !this.held) this.client.resume();
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

  // ---------------------------------------------------------------- client → server

  private clientData(chunk: Buffer): void {
    if (this.answeredAt !== 0) {
      this.host.clientRoundTrip(performance.now() - this.answeredAt);
      this.answeredAt = 0;
    }
    if (this.held) {
      this.backlog.push(Buffer.from(chunk));
      this.client.pause();
      return;
    }
    this.processClientChunk(chunk, 0);
    this.watchPartial();
  }

  private processClientChunk(chunk: Buffer, from: number): void {
    const gate = this.host.gate;
    const scanner = this.clientScanner;
    while (from < chunk.length && this.phase === 'ready') {
      const fast = !gate.active || this.copyIn || (this.partialEpoch >= 0 && this.partialEpoch < gate.epoch && !this.gating);
      if (fast) {
        this.gating = false;
        const end = scanner.scan(chunk, from);
        if (this.phase !== 'ready') return;
        this.forward(from === 0 && end === chunk.length ? chunk : chunk.subarray(from, end));
        if (this.serverEndExpected) return;
        from = end;
        continue;
      }
      // Gated: collect whole requests and decide on each before anything of it is forwarded.
      if (!this.gating) {
        if (!scanner.atBoundary) {
          // The gate opened while a message was half forwarded: let that message finish first.
          const end = scanner.scan(chunk, from);
          this.forward(chunk.subarray(from, end));
          from = end;
          continue;
        }
        this.gating = true;
        scanner.collectAll = true;
      }
      const end = scanner.scan(chunk, from);
      from = end;
      if (this.held) {
        if (from < chunk.length) this.backlog.push(Buffer.from(chunk.subarray(from)));
        this.client.pause();
        return;
      }
      if (!gate.active && scanner.atBoundary && this.reqParts.length === 0 && !this.skipToSync) {
        this.gating = false;
        scanner.collectAll = false;
      }
    }
  }

  /** MessageSink for the client direction. */
  message(type: number, buf: Buffer, start: number, end: number): void {
    const insp = this.inspector!;
    try {
      switch (type) {
        case Frontend.Query:
          insp.query(decodeQuery(buf, start, end));
          break;
        case Frontend.Parse:
          insp.parse(decodeParse(buf, start, end));
          break;
        case Frontend.Bind:
          insp.bind(decodeBind(buf, start, end));
          break;
        case Frontend.Execute:
          insp.execute(decodeExecute(buf, start, end));
          break;
        case Frontend.Close:
          {
            const t = decodeTarget(buf, start, end);
            insp.close(t.kind, t.name);
          }
          break;
        case Frontend.FunctionCall:
          insp.functionCall();
          break;
        default:
          break;
      }
    } catch (err) {
      // The server reads the same bytes and refuses them with an ERROR (nothing of the message
      // runs): forward it unread and let the server answer, the session goes on.
      if (!(err instanceof MalformedMessageError)) throw err;
      this.host.log.debug({ err: err.message }, 'malformed client message forwarded for the server to refuse');
    }
    const boundary = type === Frontend.Query || type === Frontend.Sync || type === Frontend.FunctionCall;
    if (!this.gating) {
      // Fast path: the bytes go out with the chunk. Track the request for drain and responses.
      if (this.partialEpoch < 0) this.partialEpoch = this.host.gate.epoch;
      if (insp.visible.size !== this.registered.size) this.registerInflight(insp.visible);
      if (boundary) {
        this.sentBoundary(insp.takeRequest());
        if (this.host.gate.active && !this.copyIn) this.clientScanner.stop();
      } else if (type === Frontend.Terminate) {
        this.closing = true;
      }
      return;
    }
    this.gatedMessage(type, buf, start, end, boundary);
  }

  invalid(reason: string, type: number, length: number, overloaded?: boolean): void {
    if (overloaded) {
      this.fatal(new ProxyError(SqlState.OutOfMemory, reason, 'FATAL', undefined, 'Send smaller messages, or raise limits.maxBufferedBytes.'));
      return;
    }
    if (!serverRefusesLength(CLIENT_LIMITS, type, length)) {
      // Within the server's limits but past quietcut's own (limits.maxMessageBytes).
      this.fatal(new ProxyError(SqlState.ProtocolViolation, `invalid message from client: ${reason} (quietcut limits.maxMessageBytes)`, 'FATAL'));
      return;
    }
    // The server closes on this without a word: let it read everything up to the offending header
    // (the scanner stops there) and end as it does.
    this.host.log.debug({ reason }, 'client message the server refuses: ending with the server');
    this.serverEndExpected = true;
    this.client.pause();
    if (this.gating) this.closeQuietly();
    else setTimeout(() => this.closeQuietly(), this.host.upstream.connectTimeoutMs).unref();
  }

  /** A partial message pins buffer space: it must keep arriving (not while we hold the client). */
  private partialTimer: NodeJS.Timeout | null = null;
  private watchPartial(): void {
    const ms = this.host.messageTimeoutMs ?? 0;
    if (ms <= 0 || this.clientScanner.atBoundary || this.phase !== 'ready') {
      if (this.partialTimer) clearTimeout(this.partialTimer);
      this.partialTimer = null;
    } else if (this.partialTimer) this.partialTimer.refresh();
    else {
      this.partialTimer = setTimeout(() => {
        this.partialTimer = null;
        if (this.held) this.watchPartial();
        else this.fatal(new ProxyError(SqlState.MessageTimeout, `invalid message from client: a message stopped arriving for ${ms} ms (limits.messageTimeoutMs)`, 'FATAL'));
      }, ms);
      this.partialTimer.unref();
    }
  }

  private gatedMessage(type: number, buf: Buffer, start: number, end: number, boundary: boolean): void {
    if (this.skipToSync) {
      // A rejected extended-protocol request: drop everything up to Sync, as the server does after an error.
      if (type === Frontend.Sync) {
        this.skipToSync = false;
        this.inspector!.takeRequest();
        this.owe({ kind: Owed.Synthetic, bytes: encodeReadyForQuery(this.txStatus), inflight: null });
      }
      return;
    }
    if (type === Frontend.Terminate) {
      this.flushRequest();
      this.forward(buf.subarray(start, end));
      this.closing = true;
      return;
    }
    this.reqParts.push(Buffer.from(buf.subarray(start, end)));
    this.reqBytes += end - start;
    if (!boundary && type !== Frontend.Flush) return;
    this.decideRequest(type !== Frontend.Flush);
  }

  /** Evaluate the collected request at a boundary and forward, hold or reject it. */
  private decideRequest(endsWithSync: boolean): void {
    const insp = this.inspector!;
    const visible = insp.visible;
    const inTx = this.txStatus !== 'I';
    let decision: GateDecision = { action: 'pass' };
    if (visible.size > 0) decision = this.host.gate.decide(visible, inTx, this.registered);
    const data = this.reqParts.length === 1 ? this.reqParts[0]! : Buffer.concat(this.reqParts, this.reqBytes);
    this.reqParts = [];
    this.reqBytes = 0;
    if (decision.action === 'pass') {
      this.sendRequest(data, endsWithSync);
      return;
    }
    if (decision.action === 'reject') {
      this.rejectRequest(decision.error, data, endsWithSync);
      return;
    }
    const held = {
      bytes: data.length,
      heldAtMs: performance.now(),
      data,
      visible: new Set(visible),
      endsWithSync,
      partition: decision.partition,
      release: () => this.releaseHeld(),
    };
    if (!decision.enqueue(held)) {
      this.rejectRequest(
        new ProxyError(
          SqlState.HoldQueueFull,
          `quietcut: hold queue of partition ${decision.partition} is full during its backup window; write rejected`,
          'ERROR',
          undefined,
          'Retry the statement shortly.',
        ),
        data,
        endsWithSync,
      );
      return;
    }
    this.held = held;
    this.clientScanner.stop();
  }

  private sendRequest(data: Buffer, endsWithSync: boolean): void {
    if (this.partialEpoch < 0) this.partialEpoch = this.host.gate.epoch;
    const insp = this.inspector!;
    if (insp.visible.size !== this.registered.size) this.registerInflight(insp.visible);
    this.forward(data);
    if (endsWithSync) this.sentBoundary(insp.takeRequest());
  }

  /**
   * Visibility-making writes forwarded in the current request, registered with the gate as soon
   * as they go out (not only at Sync), so a window that starts mid-request drains them.
   */
  private registered: Set<string> = new Set();
  private registerInflight(visible: ReadonlySet<string>): void {
    const add = new Set<string>();
    for (const p of visible) if (!this.registered.has(p)) add.add(p);
    if (add.size === 0) return;
    for (const p of add) this.registered.add(p);
    this.host.gate.inflightAdd(add);
  }

  /** A request boundary went to the server: its response is owed to the client. */
  private sentBoundary(visible: ReadonlySet<string>): void {
    this.partialEpoch = -1;
    if (visible.size !== this.registered.size) this.registerInflight(visible);
    let inflight: ReadonlySet<string> | null = null;
    if (this.registered.size > 0) {
      inflight = this.registered;
      this.registered = new Set();
    }
    this.owe({ kind: Owed.Server, bytes: null, inflight });
  }

  private rejectRequest(error: ProxyError, data: Buffer, endsWithSync: boolean): void {
    const first = data[0];
    const extended = first !== Frontend.Query && first !== Frontend.FunctionCall;
    if (this.txStatus !== 'I') {
      // A COMMIT of a transaction that wrote the partition: roll it back on the server so
      // nothing of it can commit, hide the server's answer, and report the error.
      this.forward(ROLLBACK_QUERY);
      this.owe({ kind: Owed.Swallow, bytes: null, inflight: null });
      this.txStatus = 'I';
    } else if (this.partialEpoch >= 0) {
      // Part of this extended request already ran in an implicit transaction: make it fail on
      // the server so that nothing of it commits at the Sync.
      this.forward(ABORT_IMPLICIT);
      this.owe({ kind: Owed.Swallow, bytes: null, inflight: null });
    }
    this.partialEpoch = -1;
    this.inspector!.takeRequest();
    const err = encodeErrorResponse(error);
    if (!extended || endsWithSync) {
      this.owe({ kind: Owed.Synthetic, bytes: Buffer.concat([err, encodeReadyForQuery('I')]), inflight: null });
    } else {
      // Flush-terminated part of an extended request: the client gets the error now and a
      // ReadyForQuery at its Sync, which we skip to, as the server does after an error.
      this.owe({ kind: Owed.Synthetic, bytes: err, inflight: null });
      this.skipToSync = true;
    }
  }

  private flushRequest(): void {
    if (this.reqParts.length === 0) return;
    const data = Buffer.concat(this.reqParts, this.reqBytes);
    this.reqParts = [];
    this.reqBytes = 0;
    this.forward(data);
  }

  /** The window released this session's held request: forward it and go on with the backlog. */
  private releaseHeld(): void {
    const held = this.held;
    if (!held || this.phase === 'closed') return;
    this.held = null;
    // Another partition's window may hold it too.
    const decision = held.visible.size > 0 ? this.host.gate.decide(held.visible, this.txStatus !== 'I', NO_PARTITIONS) : ({ action: 'pass' } as const);
    if (decision.action === 'hold') {
      const again = { ...held, heldAtMs: held.heldAtMs, partition: decision.partition, release: () => this.releaseHeld() };
      if (decision.enqueue(again)) {
        this.held = again;
        return;
      }
    }
    if (decision.action === 'reject') {
      this.rejectRequest(decision.error, held.data, held.endsWithSync);
    } else {
      this.sendRequest(held.data, held.endsWithSync);
    }
    const backlog = this.backlog;
    this.backlog = [];
    for (let i = 0; i < backlog.length; i++) {
      this.processClientChunk(backlog[i]!, 0);
      if (this.held) {
        // Held again: keep the rest for later, in order.
        this.backlog.push(...backlog.slice(i + 1));
        return;
      }
    }
    if (this.phase === 'ready') this.client.resume();
    this.watchPartial();
  }

  private forward(data: Buffer): void {
    if (data.length === 0 || !this.server) return;
    this.host.counters.clientToServer += data.length;
    if (!this.server.write(data)) this.client.pause();
  }

  // ---------------------------------------------------------------- server → client

  private owe(e: OwedEntry): void {
    if (this.owedHead === this.owed.length) {
      // Nothing before it is outstanding.
      if (e.kind === Owed.Synthetic) {
        if (e.bytes) this.writeClient(e.bytes);
        return;
      }
      if (e.kind === Owed.Swallow) this.startDropping();
    }
    this.owed.push(e);
  }

  private startDropping(): void {
    this.dropping = true;
    this.serverScanner.collectAll = true;
  }

  private onServerData(chunk: Buffer): void {
    if (this.phase === 'closed') return;
    this.host.counters.serverToClient += chunk.length;
    let from = 0;
    while (from < chunk.length && (this.phase as Phase) !== 'closed') {
      const dropping = this.dropping;
      const end = this.serverScanner.scan(chunk, from);
      if (!dropping) this.writeClient(from === 0 && end === chunk.length ? chunk : chunk.subarray(from, end));
      from = end;
      if (this.afterRfq) {
        this.afterRfq = false;
        this.emitOwedAtHead();
      }
    }
  }

  /** After a ReadyForQuery: send made-up responses now due, or start dropping a substituted one. */
  private emitOwedAtHead(): void {
    while (this.owedHead < this.owed.length) {
      const head = this.owed[this.owedHead]!;
      if (head.kind === Owed.Synthetic) {
        this.owedHead++;
        if (head.bytes) this.writeClient(head.bytes);
        continue;
      }
      if (head.kind === Owed.Swallow) this.startDropping();
      break;
    }
    this.compactOwed();
  }

  private compactOwed(): void {
    if (this.owedHead === this.owed.length) {
      this.owed.length = 0;
      this.owedHead = 0;
    } else if (this.owedHead > 64 && this.owedHead * 2 > this.owed.length) {
      this.owed = this.owed.slice(this.owedHead);
      this.owedHead = 0;
    }
  }

  private serverMessage(type: number, buf: Buffer, start: number, end: number): void {
    if (this.phase !== 'ready') {
      this.startupServerMessage(type, buf, start, end);
      return;
    }
    const insp = this.inspector!;
    if (this.dropping) {
      // Inside the answer to a request the proxy substituted: only async notifications go on.
      if (type === Backend.NotificationResponse) this.writeClient(Buffer.from(buf.subarray(start, end)));
      if (type !== Backend.ReadyForQuery) return;
    }
    switch (type) {
      case Backend.ReadyForQuery: {
        this.txStatus = decodeReadyForQuery(buf, start);
        this.copyIn = false;
        insp.readyForQuery(this.txStatus);
        const head = this.owed[this.owedHead];
        if (head) {
          this.owedHead++;
          if (head.inflight) this.host.gate.inflightDone(head.inflight);
        }
        const wasDropping = this.dropping;
        if (wasDropping) {
          this.dropping = false;
          this.serverScanner.collectAll = false;
        }
        const next = this.owed[this.owedHead];
        if (wasDropping || (next && next.kind !== Owed.Server)) {
          this.afterRfq = true;
          this.serverScanner.stop();
        } else if (!next) {
          this.owed.length = 0;
          this.owedHead = 0;
          this.answeredAt = performance.now();
          if (this.host.draining && this.idle) setImmediate(() => this.shutdown());
        }
        return;
      }
      case Backend.CommandComplete:
        insp.commandComplete(decodeCommandComplete(buf, start, end));
        return;
      case Backend.ErrorResponse:
        insp.error();
        return;
      case Backend.PortalSuspended:
      case Backend.EmptyQueryResponse:
        insp.statementEnded();
        return;
      case Backend.CopyInResponse:
        this.copyIn = true;
        return;
      case Backend.ParameterStatus: {
        const ps = decodeParameterStatus(buf, start, end);
        insp.parameterStatus(ps.name, ps.value);
        return;
      }
      default:
        return;
    }
  }

  private startupServerMessage(type: number, buf: Buffer, start: number, end: number): void {
    switch (type) {
      case Backend.BackendKeyData: {
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
      case Backend.Authentication:
        // The server waits for an answer now: whatever the client sent meanwhile is what it reads
        // (and refuses, if it is not a password message), as it would directly.
        if (end - start >= 9 && AUTH_NEEDS_ANSWER.has(buf.readInt32BE(start + 5))) this.authInput?.serverAsks();
        break;
      case Backend.ReadyForQuery: {
        this.txStatus = decodeReadyForQuery(buf, start);
        this.phase = 'ready';
        this.server?.started();
        // What the client pipelined behind its startup goes on now, through the request path,
        // once this chunk (with the ReadyForQuery) has been written to the client.
        const pipelined = this.authInput?.take() ?? null;
        this.authInput = null;
        if (pipelined) {
          queueMicrotask(() => {
            this.onClientData(pipelined);
            if (this.phase === 'ready' && !this.held) this.client.resume();
          });
        }
        break;
      }
      default:
        break;
    }
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
    this.clientScanner.reset(); // gives its partial message back to the shared budget
    this.watchPartial();
    if (this.held) {
      // Never execute a held request whose client went away.
      this.host.gate.forget(this.held);
      this.held = null;
    }
    this.backlog = [];
    for (let i = this.owedHead; i < this.owed.length; i++) {
      const e = this.owed[i]!;
      if (e.inflight) this.host.gate.inflightDone(e.inflight);
    }
    if (this.registered.size > 0) this.host.gate.inflightDone(this.registered);
    this.registered = new Set();
    this.owed = [];
    this.owedHead = 0;
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
    return this.held ? { partition: this.held.partition, sinceMs: this.held.heldAtMs } : null;
  }

  get clientAddress(): string {
    return `${this.client.remoteAddress ?? '?'}:${this.client.remotePort ?? '?'}`;
  }

  get idle(): boolean {
    return this.phase === 'ready' && this.txStatus === 'I' && this.owedHead === this.owed.length && !this.held;
  }
}


const ROLLBACK_QUERY = encodeMessage(Frontend.Query, Buffer.from('ROLLBACK\0', 'utf8'));
/** Parse of a statement that cannot parse, then Sync: the server rolls back the implicit transaction. */
const ABORT_IMPLICIT = Buffer.concat([
  encodeMessage(Frontend.Parse, Buffer.from('\0quietcut: write rejected during a backup window\0\0\0', 'utf8')),
  encodeMessage(Frontend.Sync, Buffer.alloc(0)),
]);
const NO_PARTITIONS: ReadonlySet<string> = new Set();
