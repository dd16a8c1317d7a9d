import { Backend, Frontend, type TxStatus } from '../protocol/codes.js';
import {
  MalformedMessageError,
  decodeBind,
  decodeCommandComplete,
  decodeExecute,
  decodeParameterStatus,
  decodeParse,
  decodeQuery,
  decodeReadyForQuery,
  decodeTarget,
} from '../protocol/decode.js';
import { encodeErrorResponse, encodeMessage, encodeNotice, encodeReadyForQuery } from '../protocol/encode.js';
import { frontendTypeLimits, serverRefusesLength } from '../protocol/limits.js';
import { MessageScanner, type BufferBudget, type MessageSink } from '../protocol/scanner.js';
import { ProxyError, SqlState } from '../protocol/sqlstate.js';
import type { Logger } from '../util/log.js';
import type { GateDecision, HeldRequest, WriteGate } from './gate.js';
import type { SessionInspector } from './inspector.js';
import { RequestAssembler, answeredBoundary, eachMessage, type RequestPart } from './request-assembler.js';
import { Owed, ResponseLedger } from './response-ledger.js';
import { RunsWhole } from './runs-whole.js';

/** What the ready phase needs from its session: sockets, and the startup it follows. */
export interface ReadyPhaseHost {
  readonly gate: WriteGate;
  readonly inspector: SessionInspector;
  /** The session reached the ready phase (before that, server messages belong to startup). */
  readonly ready: boolean;
  readonly log: Logger;
  /** A held request's client is told why it waits after this long (null: never). */
  readonly heldNoticeAfterMs: number | null;
  /** A server message before the ready phase (authentication, parameters, key, first ReadyForQuery). */
  startupMessage(type: number, buf: Buffer, start: number, end: number): void;
  /** Every ErrorResponse of the server, in every phase, before it is handled or forwarded. */
  serverError(buf: Buffer, start: number, end: number): void;
  /**
   * The client sent a length the server closes the connection on without a word: the session ends
   * as quietly, at once when nothing of it reached the server, else once the server has read it.
   */
  serverWillEnd(nothingForwarded: boolean): void;
  toServer(data: Buffer): void;
  toClient(data: Buffer): void;
  pauseClient(): void;
  resumeClient(): void;
  fatal(err: ProxyError): void;
  /** The client sent Terminate. */
  terminated(): void;
  /** Nothing is owed to the client any more. */
  settled(): void;
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
  Frontend.CopyDone,
  Frontend.CopyFail,
);
const CLIENT_LIMITS = frontendTypeLimits();
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

interface HeldPart extends HeldRequest {
  part: RequestPart;
  visible: ReadonlySet<string>;
  partition: string;
  /** When the hold ends at the latest (ms since epoch), for the notice; null: not known. */
  releaseBy: number | null;
  /** The client was told why it waits (once per held request, however often it is held again). */
  noticed: boolean;
}

export interface ReadyPhaseLimits {
  maxMessageBytes: number;
  /** Shared by every client: bytes of incomplete messages buffered (scanner.ts). */
  bufferBudget: BufferBudget | null;
  /** A message that stops arriving halfway for this long closes the connection; 0: never. */
  messageTimeoutMs: number;
}

/**
 * The ready phase of a session: client requests to the server and the server's answers back.
 *
 * With no window open, bytes go out as they arrive and messages are only framed on the way
 * (the inspector reads them, the ledger counts the answers owed). While a window is open, requests
 * are assembled whole and decided before any byte of them is forwarded; a request that runs
 * something waits until every earlier request has been answered, so it is decided in the
 * transaction state the server is really in (pipelining clients lose their pipelining for the
 * length of a window, nothing else). A rejected request is replaced by a sequence that leaves the
 * server idle whatever state it was in, and the client is told exactly that: the error, then an
 * idle ReadyForQuery.
 *
 * A request whose first part went out before the window began (Parse/Bind now, Execute/Sync later)
 * is gated from where it is: if the part already sent has writes in flight, a window over those
 * partitions is waiting for it in its drain and admits the rest; any other window holds or rejects
 * the rest. A message half sent when the window began is completed only once the gate allows it
 * (the server waits for its last bytes meanwhile); rejected, it is completed with bytes that make it
 * invalid, so it fails on the server. Only messages that run nothing by themselves are ever half
 * sent (Query, whose NUL comes last, Parse, Bind, ...): one that runs is forwarded only whole
 * (runs-whole.ts), since a filler can make an Execute or a FunctionCall valid.
 */
export class ReadyPhase implements MessageSink {
  /** The transaction status the client was last told. */
  txStatus: TxStatus = 'I';
  readonly serverScanner: MessageScanner;
  private readonly clientScanner: MessageScanner;
  private readonly ledger: ResponseLedger;
  private readonly parts = new RequestAssembler();
  private gating = false;
  /** The inspector's number of the current request. */
  private request = 1;
  /** Partitions the current request has in flight (registered with the gate as it was forwarded). */
  private registered: Set<string> = new Set();
  /** CopyDone/CopyFail forwarded since the last answered boundary. */
  private copyEnds = 0;
  /** Simple-protocol COPYs in copy-in whose copy end the client has still to send. */
  private simpleCopyEnds = 0;
  /** A rejected extended-protocol request: drop everything up to its Sync, as the server does after an error. */
  private skipToSync = false;
  private held: HeldPart | null = null;
  /** Bytes of the current request have been forwarded (its answers so far are the client's). */
  private started = false;
  /** The server message just scanned is the substitute's: drop it. */
  private dropCurrent = false;
  /** A ReadyForQuery was scanned: made-up answers or waiting requests may be due. */
  private afterAnswer = false;
  private notices: Buffer[] = [];
  private closed = false;
  /** Ungated forwarding, which keeps back a half-read message that runs. */
  private readonly ungated: RunsWhole;

  constructor(
    private readonly host: ReadyPhaseHost,
    private readonly limits: ReadyPhaseLimits,
    onServerInvalid: (reason: string) => void,
  ) {
    this.ungated = new RunsWhole((b) => this.host.toServer(b));
    this.clientScanner = new MessageScanner(CLIENT_WANTED, limits.maxMessageBytes, this, limits.bufferBudget);
    this.clientScanner.typeLimits = CLIENT_LIMITS;
    // Server messages can be large (DataRow); only small wanted ones are ever collected.
    this.serverScanner = new MessageScanner(SERVER_WANTED, 0x7fffffff, {
      message: (type, buf, start, end) => this.serverMessage(type, buf, start, end),
      invalid: (reason) => onServerInvalid(reason),
    });
    this.ledger = new ResponseLedger({
      toClient: (b) => this.host.toClient(b),
      inflightDone: (p) => this.host.gate.inflightDone(p),
    });
  }

  get idle(): boolean {
    return this.txStatus === 'I' && this.ledger.empty && this.held === null && this.parts.idle;
  }

  /** What the phase is waiting for (diagnostics). */
  describe(): string {
    return `gating=${this.gating} held=${this.held !== null} waiting=${this.parts.waiting} collecting=${this.parts.collecting} skipToSync=${this.skipToSync} request=${this.request} ledger=${this.ledger.describe()}`;
  }

  /** The client may send more now (nothing held, nothing waiting to be decided). */
  get accepting(): boolean {
    return this.held === null && this.parts.waiting === 0;
  }

  /** Requests forwarded (or substituted) whose answer the server still owes. */
  get outstanding(): number {
    return this.ledger.outstanding;
  }

  // ---------------------------------------------------------------- client → server

  clientData(chunk: Buffer): void {
    if (this.closed) return;
    let from = 0;
    if (!this.gating) {
      if (!this.host.gate.active) {
        // The fast path: forwarded as it came, framed on the way (up to a length the server refuses).
        const end = this.clientScanner.scan(chunk);
        if (!this.closed) this.ungated.forward(chunk, end, this.clientScanner);
        if (this.partialTimer !== null || !this.clientScanner.atBoundary) this.watchPartial();
        return;
      }
      from = this.startGating(chunk);
      if (from >= chunk.length) return;
    }
    this.clientScanner.scan(chunk, from);
    this.pump();
    this.watchPartial();
  }

  /** A window is open: from here on requests are assembled whole. Returns where gated scanning starts. */
  private startGating(chunk: Buffer): number {
    const scanner = this.clientScanner;
    let from = 0;
    const skip = scanner.skipping;
    if (skip > 0) {
      // Inside a message nobody reads (CopyData, Describe): it has no say; let it finish.
      const end = Math.min(skip, chunk.length);
      const part = chunk.subarray(0, end);
      scanner.scan(part);
      this.host.toServer(part);
      from = end;
      if (!scanner.atBoundary) return from;
    }
    this.gating = true;
    scanner.collectAll = true;
    // A message half sent: the rest waits for the decision; its first bytes count as sent. A
    // message that runs was withheld whole: it is decided like any other.
    if (!scanner.atBoundary) this.parts.markSent(scanner.partialBytes - this.ungated.withheld);
    this.ungated.drop();
    return from;
  }

  /** MessageSink for the client direction. */
  message(type: number, buf: Buffer, start: number, end: number): void {
    if (this.gating) {
      this.parts.add(type, buf, start, end);
      return;
    }
    this.feed(type, buf, start, end);
    const insp = this.host.inspector;
    if (insp.visible.size !== this.registered.size) this.registerInflight(insp.visible);
    if (answeredBoundary(type)) this.sentBoundary(type !== Frontend.Sync);
    else this.started = true;
    if (type === Frontend.CopyDone || type === Frontend.CopyFail) this.copyEnded(1);
    else if (type === Frontend.Terminate) this.host.terminated();
  }

  invalid(reason: string, type: number, length: number, overloaded?: boolean): void {
    if (overloaded) {
      this.host.fatal(new ProxyError(SqlState.OutOfMemory, reason, 'FATAL', undefined, 'Send smaller messages, or raise limits.maxBufferedBytes.'));
      return;
    }
    if (!serverRefusesLength(CLIENT_LIMITS, type, length)) {
      // Within the server's limits but past quietcut's own (limits.maxMessageBytes).
      this.host.fatal(new ProxyError(SqlState.ProtocolViolation, `invalid message from client: ${reason} (quietcut limits.maxMessageBytes)`, 'FATAL'));
      return;
    }
    // The server closes on this without a word. Ungated, everything up to the offending header has
    // gone out (the scanner stops there) and the server ends the session; gated, nothing of the
    // request it is in was forwarded, so the proxy ends it.
    this.host.log.debug({ reason }, 'client message the server refuses: ending with the server');
    this.host.serverWillEnd(this.gating);
  }

  /** A partial message pins buffer space: it must keep arriving (not while we hold the client). */
  private partialTimer: NodeJS.Timeout | null = null;
  private watchPartial(): void {
    const ms = this.limits.messageTimeoutMs;
    if (ms <= 0 || this.clientScanner.atBoundary || this.closed) {
      if (this.partialTimer) clearTimeout(this.partialTimer);
      this.partialTimer = null;
    } else if (this.partialTimer) this.partialTimer.refresh();
    else {
      this.partialTimer = setTimeout(() => {
        this.partialTimer = null;
        if (!this.accepting) this.watchPartial();
        else this.host.fatal(new ProxyError(SqlState.MessageTimeout, `invalid message from client: a message stopped arriving for ${ms} ms (limits.messageTimeoutMs)`, 'FATAL'));
      }, ms);
      this.partialTimer.unref();
    }
  }

  /** The partition this session's held request waits for, and since when (performance.now()); null: not held. */
  get heldFor(): { partition: string; sinceMs: number } | null {
    return this.held ? { partition: this.held.partition, sinceMs: this.held.heldAtMs } : null;
  }

  /**
   * Tell the inspector what a client message does. A message quietcut cannot decode is forwarded
   * for the server to refuse (it refuses it with an ERROR and nothing of it runs, as it would
   * directly); while a window is open it counts as a write of unknown reach, so that a decoder
   * stricter than the server's can never let a write past the gate.
   */
  private feed(type: number, buf: Buffer, start: number, end: number): void {
    const insp = this.host.inspector;
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
        case Frontend.Close: {
          const t = decodeTarget(buf, start, end);
          insp.close(t.kind, t.name);
          break;
        }
        case Frontend.FunctionCall:
          insp.functionCall();
          break;
        default:
          break;
      }
    } catch (err) {
      if (!(err instanceof MalformedMessageError)) throw err;
      this.host.log.debug({ err: err.message }, 'malformed client message forwarded for the server to refuse');
      if (this.gating) insp.functionCall('unparsed');
    }
  }

  /**
   * Visibility-making writes forwarded in the current request, registered with the gate as soon
   * as they go out (not only at Sync), so a window that starts mid-request drains them.
   */
  private registerInflight(visible: ReadonlySet<string>): void {
    let add: Set<string> | null = null;
    for (const p of visible) {
      if (this.registered.has(p)) continue;
      this.registered.add(p);
      (add ??= new Set()).add(p);
    }
    if (add) this.host.gate.inflightAdd(add);
  }

  /** A boundary the server answers went out: its answer is owed to the client. */
  private sentBoundary(simple: boolean): void {
    const insp = this.host.inspector;
    const visible = insp.takeRequest();
    if (visible.size > 0) this.registerInflight(visible);
    const inflight = this.registered.size > 0 ? this.registered : null;
    if (inflight) this.registered = new Set();
    this.ledger.oweServer(this.request, inflight, simple, this.copyEnds);
    this.request++;
    this.copyEnds = 0;
    this.started = false;
  }

  /**
   * Copy ends forwarded: the first ones end simple-protocol COPYs the server is reading (their
   * Query is answered after them); the rest belong to the segment up to the next boundary.
   */
  private copyEnded(n: number): void {
    while (n > 0 && this.simpleCopyEnds > 0) {
      this.simpleCopyEnds--;
      this.ledger.simpleCopyEnded();
      n--;
    }
    this.copyEnds += n;
  }

  /** Work through assembled parts in order, as far as the gate and the server's answers allow. */
  private pump(): void {
    while (!this.closed && this.held === null) {
      const part = this.parts.peek();
      if (!part) break;
      if (this.skipToSync) {
        this.parts.shift();
        if (part.end === Frontend.Sync) {
          this.skipToSync = false;
          this.ledger.owe(Owed.Synthetic, this.request, { bytes: RFQ_IDLE });
        }
        continue;
      }
      if (part.copyOnly) {
        this.parts.shift();
        this.host.toServer(part.sent > 0 ? part.data.subarray(part.sent) : part.data);
        this.copyEnded(part.copyEnds);
        continue;
      }
      if (part.end === Frontend.Terminate) {
        // Nothing collected before it can commit without a Sync: only the goodbye goes on.
        this.parts.shift();
        this.host.toServer(part.data.subarray(part.data.length - 5));
        this.host.terminated();
        continue;
      }
      // Decided in the state the server is really in: after every earlier request's answer.
      if (part.runs && this.ledger.outstanding > 0) break;
      this.parts.shift();
      this.evaluate(part);
    }
    if (this.closed) return;
    if (this.held !== null || this.parts.waiting > 0) {
      this.host.pauseClient();
      return;
    }
    this.host.resumeClient();
    if (this.gating && !this.host.gate.active && !this.skipToSync && !this.parts.collecting && this.clientScanner.atBoundary) {
      this.gating = false;
      this.clientScanner.collectAll = false;
    }
  }

  private evaluate(part: RequestPart): void {
    eachMessage(part.data, (type, start, end) => this.feed(type, part.data, start, end));
    const visible = this.host.inspector.visible;
    const decision: GateDecision = visible.size > 0 ? this.host.gate.decide(visible, this.txStatus !== 'I', this.registered) : PASS;
    this.act(decision, part, visible);
  }

  private act(decision: GateDecision, part: RequestPart, visible: ReadonlySet<string>, heldAtMs = performance.now(), noticed = false): void {
    if (decision.action === 'pass') {
      this.sendPart(part);
      return;
    }
    if (decision.action === 'reject') {
      this.rejectPart(part, decision.error);
      return;
    }
    const held: HeldPart = {
      part,
      visible: new Set(visible),
      partition: decision.partition,
      releaseBy: decision.releaseBy ?? null,
      noticed,
      bytes: part.data.length,
      heldAtMs,
      release: () => this.releaseHeld(),
    };
    if (!decision.enqueue(held)) {
      this.rejectPart(
        part,
        new ProxyError(
          SqlState.HoldQueueFull,
          `quietcut: hold queue of partition ${decision.partition} is full during its backup window; write rejected`,
          'ERROR',
          undefined,
          'Retry the statement shortly.',
        ),
      );
      return;
    }
    this.held = held;
    this.armHeldNotice(held);
  }

  private noticeTimer: NodeJS.Timeout | null = null;

  /** Tell a held client why it waits, after heldNoticeAfterMs of its wait (counted from when it was first held). */
  private armHeldNotice(held: HeldPart): void {
    const after = this.host.heldNoticeAfterMs;
    if (after === null || held.noticed) return;
    this.clearHeldNotice();
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = null;
      if (this.held !== held || this.closed) return;
      held.noticed = true;
      const by = held.releaseBy === null ? 'when its snapshot is taken' : `by ${new Date(held.releaseBy).toISOString()} at the latest`;
      this.notify(encodeNotice(`quietcut: this write waits for a backup window on partition ${held.partition}; it is sent on ${by}`));
    }, Math.max(0, after - (performance.now() - held.heldAtMs)));
    this.noticeTimer.unref();
  }

  private clearHeldNotice(): void {
    if (this.noticeTimer) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
  }

  private sendPart(part: RequestPart): void {
    const insp = this.host.inspector;
    if (insp.visible.size !== this.registered.size) this.registerInflight(insp.visible);
    this.host.toServer(part.sent > 0 ? part.data.subarray(part.sent) : part.data);
    this.copyEnded(part.copyEnds);
    if (answeredBoundary(part.end)) this.sentBoundary(part.end !== Frontend.Sync);
    else this.started = true;
  }

  /**
   * Nothing of a rejected part reaches the server (but the first bytes of a message half sent,
   * which are completed so that it fails). Then a sequence that leaves the server idle whatever it
   * was doing: a Parse that cannot parse and a Sync end an implicit block (rolling it back) or put
   * a transaction into the failed state; a ROLLBACK ends that. Its answers are dropped, and the
   * client gets the error and an idle ReadyForQuery: what the server did.
   */
  private rejectPart(part: RequestPart, error: ProxyError): void {
    let answers = 2;
    if (part.sent > 0) {
      const whole = 1 + part.data.readInt32BE(1);
      // Its header as it is; its body's rest as bytes no NUL ends, so the server finds it malformed.
      if (part.sent < 5) this.host.toServer(part.data.subarray(part.sent, 5));
      this.host.toServer(Buffer.alloc(whole - Math.max(part.sent, 5), 1));
      const first = part.data[0];
      if (first === Frontend.Query || first === Frontend.FunctionCall) answers++;
    }
    this.host.toServer(ABORT_ALL);
    const r = this.request;
    this.host.inspector.takeRequest();
    const inflight = this.registered.size > 0 ? this.registered : null;
    if (inflight) this.registered = new Set();
    // Answers to parts of this request already sent still come first: they are the client's.
    const marked = this.started && part.sent === 0;
    for (let i = 1; i <= answers; i++) this.ledger.owe(Owed.Swallow, r, { inflight: i === answers ? inflight : null, simple: true, marked: marked && i === 1 });
    this.request++;
    this.copyEnds = 0;
    this.started = false;
    this.txStatus = 'I';
    const err = encodeErrorResponse(error);
    if (answeredBoundary(part.end)) {
      this.ledger.owe(Owed.Synthetic, r, { bytes: Buffer.concat([err, RFQ_IDLE]) });
    } else {
      // The error now, the ReadyForQuery at the client's Sync, as the server does after an error.
      this.ledger.owe(Owed.Synthetic, r, { bytes: err });
      this.skipToSync = true;
    }
  }

  /**
   * A CancelRequest names this session while its request is held: the request leaves the queue
   * unsent and ends as a cancelled statement does (57014, then ReadyForQuery), through the same
   * substitute as a rejected one, so a held COMMIT rolls its transaction back. False: nothing held.
   */
  cancelHeld(): boolean {
    const held = this.held;
    if (!held || this.closed) return false;
    this.held = null;
    this.clearHeldNotice();
    this.host.gate.forget(held);
    this.rejectPart(held.part, ProxyError.canceled());
    this.pump();
    return true;
  }

  /** The window released this session's held request: forward it (unless another window holds it) and go on. */
  private releaseHeld(): void {
    const held = this.held;
    if (!held || this.closed) return;
    this.held = null;
    this.clearHeldNotice();
    const decision: GateDecision = held.visible.size > 0 ? this.host.gate.decide(held.visible, this.txStatus !== 'I', this.registered) : PASS;
    this.act(decision, held.part, held.visible, held.heldAtMs, held.noticed);
    this.pump();
  }

  // ---------------------------------------------------------------- server → client

  serverData(chunk: Buffer): void {
    let from = 0;
    const scanner = this.serverScanner;
    while (from < chunk.length && !this.closed) {
      const dropping = this.ledger.dropping;
      this.dropCurrent = false;
      scanner.collectAll = dropping || this.ledger.marked || this.notices.length > 0;
      const end = scanner.scan(chunk, from);
      if (!dropping && !this.dropCurrent) this.host.toClient(from === 0 && end === chunk.length ? chunk : chunk.subarray(from, end));
      from = end;
      if (this.notices.length > 0 && scanner.atBoundary) this.flushNotices();
      if (this.afterAnswer) {
        this.afterAnswer = false;
        this.ledger.flushSynthetic();
        if (this.ledger.empty) this.host.settled();
        if (this.gating) this.pump();
      }
    }
  }

  private serverMessage(type: number, buf: Buffer, start: number, end: number): void {
    if (type === Backend.ErrorResponse) this.host.serverError(buf, start, end);
    if (!this.host.ready) {
      this.host.startupMessage(type, buf, start, end);
      return;
    }
    if (this.notices.length > 0) this.serverScanner.stop();
    const insp = this.host.inspector;
    if (this.ledger.marked) {
      // One message at a time until the substitute's own error shows where its answer starts.
      this.serverScanner.stop();
      if (type === Backend.ErrorResponse && buf.indexOf(ABORT_MARK, start) >= 0 && buf.indexOf(ABORT_MARK, start) < end) {
        this.dropCurrent = true;
        this.ledger.unmark();
        return;
      }
      if (type === Backend.ReadyForQuery) {
        // An error in the parts sent skipped the marker: this answers the substitute's Sync.
        this.dropCurrent = true;
        this.ledger.unmark();
      }
    }
    const dropping = this.ledger.dropping;
    if (dropping) {
      // Inside the answer to a request the proxy sent in the client's place: only async notifications go on.
      if (type === Backend.NotificationResponse) this.host.toClient(Buffer.from(buf.subarray(start, end)));
      if (type !== Backend.ReadyForQuery) return;
    }
    switch (type) {
      case Backend.ReadyForQuery: {
        const status = decodeReadyForQuery(buf, start);
        const e = this.ledger.answered();
        if (e) insp.readyForQuery(status, e.request);
        if (!dropping) this.txStatus = status;
        const next = this.ledger.headKind;
        if (dropping || this.gating || (next !== null && next !== Owed.Server)) {
          this.afterAnswer = true;
          this.serverScanner.stop();
        } else if (this.ledger.empty) {
          this.host.settled();
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
        if (this.ledger.copyIn()) this.simpleCopyEnds++;
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

  /**
   * A message of quietcut's own for the client (a NoticeResponse, say), sent between two server
   * messages, never inside one.
   */
  notify(message: Buffer): void {
    this.notices.push(message);
    if (this.serverScanner.atBoundary && !this.ledger.dropping) this.flushNotices();
  }

  private flushNotices(): void {
    const n = this.notices;
    this.notices = [];
    for (const m of n) this.host.toClient(m);
  }

  /** The session ends: a held request never runs, and nothing stays in flight. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ungated.drop();
    this.clearHeldNotice();
    this.clientScanner.reset(); // gives its partial message back to the shared budget
    this.watchPartial();
    if (this.held) {
      this.host.gate.forget(this.held);
      this.held = null;
    }
    this.parts.clear();
    this.ledger.clear();
    if (this.registered.size > 0) this.host.gate.inflightDone(this.registered);
    this.registered = new Set();
  }
}

const PASS: GateDecision = { action: 'pass' };
const RFQ_IDLE = encodeReadyForQuery('I');

/** Leaves the server idle from any state; answered by two ReadyForQuery (see rejectPart). */
const ABORT_MARK = Buffer.from('quietcut_rejected_during_backup_window');
const ABORT_ALL = Buffer.concat([
  encodeMessage(Frontend.Parse, Buffer.concat([Buffer.from('\0'), ABORT_MARK, Buffer.from('\0\0\0')])),
  encodeMessage(Frontend.Sync, Buffer.alloc(0)),
  encodeMessage(Frontend.Query, Buffer.from('ROLLBACK\0', 'utf8')),
]);
