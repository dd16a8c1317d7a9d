import { connect, createServer, type Server, type Socket } from 'node:net';
import { BufferBudget } from '../protocol/scanner.js';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContext } from 'node:tls';
import { encodeCancelRequest } from '../protocol/startup.js';
import { workerOfSecret, workerSecret } from './cancel-key.js';
import { ProxyError, SqlState } from '../protocol/sqlstate.js';
import { silentLogger, type Logger } from '../util/log.js';
import { openGate, type WriteGate } from './gate.js';
import { NullInspector, type SessionInspector } from './inspector.js';
import { Session, type SessionHost } from './session.js';
import type { UpstreamEndpoint } from './upstream-connect.js';

export interface ProxyServerOptions {
  listen: { host: string; port: number };
  upstream: UpstreamEndpoint;
  maxClientConnections: number;
  maxMessageBytes: number;
  /** Cap on bytes of incomplete client messages buffered across all clients; default: no cap. */
  maxBufferedBytes?: number;
  /** A client message that stops arriving halfway for this long closes its connection; default 0: never. */
  messageTimeoutMs?: number;
  startupTimeoutMs: number;
  shutdownTimeoutMs: number;
  tls?: { cert: string; key: string } | null;
  gate?: WriteGate;
  inspectorFactory?: (params: ReadonlyMap<string, string>) => SessionInspector;
  log?: Logger;
  /** See SessionHost.claimStartup: take over a connection once its StartupMessage is known. */
  claimStartup?: SessionHost['claimStartup'];
  /**
   * One of several worker processes on one port: client cancel keys name this worker's slot
   * (cancel-key.ts), and a cancel naming another slot is handed to `relay` (which reaches that
   * worker's cancelLocal).
   */
  worker?: { slot: number; relay: (slot: number, pid: number, secret: number) => void } | null;
}

/** Totals kept as plain numbers on the hot path; metrics read them when scraped. */
export interface ProxyCounters {
  clientToServer: number;
  serverToClient: number;
  serverConnections: number;
  clientErrors: Map<string, number>;
  /** CancelRequests by what became of them (quietcut_cancel_requests_total). */
  cancels: Record<CancelOutcome, number>;
}

export type CancelOutcome = 'forwarded' | 'held' | 'relayed' | 'ignored';

/**
 * The listener: one Session per client connection, each with its own server connection.
 */
export class ProxyServer implements SessionHost {
  readonly upstream: SessionHost['upstream'];
  maxMessageBytes: number;
  readonly bufferBudget: BufferBudget | null;
  readonly messageTimeoutMs: number;
  startupTimeoutMs: number;
  tls: SecureContext | null;
  gate: WriteGate;
  readonly log: Logger;
  readonly counters: ProxyCounters = { clientToServer: 0, serverToClient: 0, serverConnections: 0, clientErrors: new Map(), cancels: { forwarded: 0, held: 0, relayed: 0, ignored: 0 } };
  readonly sessions = new Set<Session>();
  private readonly byKey = new Map<string, Session>();
  private readonly server: Server;
  draining = false;
  /** A held client gets a NOTICE after this long (windows.noticeAfterMs; a reload changes it). */
  heldNoticeAfterMs: number | null = null;
  private inspectorFactory: (params: ReadonlyMap<string, string>) => SessionInspector;
  claimStartup: SessionHost['claimStartup'];
  readonly clientCancelSecret: SessionHost['clientCancelSecret'];

  constructor(private readonly opts: ProxyServerOptions) {
    this.upstream = opts.upstream;
    this.maxMessageBytes = opts.maxMessageBytes;
    this.bufferBudget = opts.maxBufferedBytes ? new BufferBudget(opts.maxBufferedBytes) : null;
    this.messageTimeoutMs = opts.messageTimeoutMs ?? 0;
    this.startupTimeoutMs = opts.startupTimeoutMs;
    this.tls = opts.tls ? tlsContext(opts.tls) : null;
    this.gate = opts.gate ?? openGate;
    this.log = opts.log ?? silentLogger;
    this.inspectorFactory = opts.inspectorFactory ?? (() => new NullInspector());
    this.claimStartup = opts.claimStartup;
    const worker = opts.worker ?? null;
    this.clientCancelSecret = worker ? (_pid, secret) => workerSecret(worker.slot, secret) : undefined;
    this.server = createServer({ noDelay: true }, (sock) => this.accept(sock));
    this.server.on('error', (err) => this.log.error({ err }, 'listener error'));
  }

  /**
   * Limits and TLS files from a reloaded configuration: new sessions get them, sessions already
   * open keep what they started with. TLS files are read here, so a bad file throws and nothing
   * changes.
   */
  reconfigure(o: Pick<ProxyServerOptions, 'maxClientConnections' | 'maxMessageBytes' | 'startupTimeoutMs' | 'shutdownTimeoutMs' | 'tls'>): void {
    const tls = o.tls ? tlsContext(o.tls) : null;
    this.opts.maxClientConnections = o.maxClientConnections;
    this.opts.shutdownTimeoutMs = o.shutdownTimeoutMs;
    this.maxMessageBytes = o.maxMessageBytes;
    this.startupTimeoutMs = o.startupTimeoutMs;
    this.tls = tls;
  }

  setInspectorFactory(f: (params: ReadonlyMap<string, string>) => SessionInspector): void {
    this.inspectorFactory = f;
  }

  async listen(): Promise<{ host: string; port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.opts.listen.port, this.opts.listen.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const a = this.server.address();
    const port = typeof a === 'object' && a ? a.port : this.opts.listen.port;
    return { host: this.opts.listen.host, port };
  }

  get address(): { host: string; port: number } {
    const a = this.server.address();
    return { host: this.opts.listen.host, port: typeof a === 'object' && a ? a.port : this.opts.listen.port };
  }

  private accept(sock: Socket): void {
    const s = new Session(sock, this);
    this.sessions.add(s);
  }

  newInspector(params: ReadonlyMap<string, string>): SessionInspector {
    return this.inspectorFactory(params);
  }

  admit(session: Session): ProxyError | null {
    if (this.draining) return ProxyError.fatal(SqlState.AdminShutdown, 'quietcut is shutting down');
    let ready = 0;
    for (const s of this.sessions) if (s !== session && s.phase !== 'startup' && s.phase !== 'closed') ready++;
    if (ready >= this.opts.maxClientConnections) {
      return ProxyError.fatal(SqlState.TooManyConnections, `sorry, too many clients already (quietcut limits.maxClientConnections = ${this.opts.maxClientConnections})`);
    }
    return null;
  }

  /** Sessions by the key their client was given (the server's own, or the worker's: cancel-key.ts). */
  private clientKey(pid: number, secret: number): string {
    return `${pid}:${this.clientCancelSecret ? this.clientCancelSecret(pid, secret) : secret}`;
  }

  registerKey(session: Session, pid: number, secret: number): void {
    this.byKey.set(this.clientKey(pid, secret), session);
  }

  /** A CancelRequest with a key a client was given, accepted by this process. */
  cancel(pid: number, secret: number): void {
    const worker = this.opts.worker;
    if (worker) {
      const slot = workerOfSecret(secret);
      if (slot !== worker.slot) {
        this.counters.cancels.relayed++;
        worker.relay(slot, pid, secret);
        return;
      }
    }
    this.cancelLocal(pid, secret);
  }

  /** A cancel for one of this process's sessions (accepted here, or relayed by another worker). */
  cancelLocal(pid: number, secret: number): void {
    // Only keys of our own sessions are forwarded: the proxy is no way to cancel other backends.
    const s = this.byKey.get(`${pid}:${secret}`);
    if (!s) {
      this.counters.cancels.ignored++;
      this.log.debug({ pid }, 'cancel request for an unknown backend ignored');
      return;
    }
    // A held request never reached the server: it is cancelled here, and the server has nothing to stop.
    if (s.cancelHeld()) {
      this.counters.cancels.held++;
      return;
    }
    this.counters.cancels.forwarded++;
    const c = connect({ host: this.upstream.host, port: this.upstream.port });
    c.on('error', (err) => this.log.warn({ err: err.message }, 'cancel request could not reach the server'));
    c.once('connect', () => c.end(encodeCancelRequest(s.pid, s.secret)));
    c.setTimeout(this.upstream.connectTimeoutMs, () => c.destroy());
  }

  closed(session: Session): void {
    this.sessions.delete(session);
    if (session.pid) this.byKey.delete(this.clientKey(session.pid, session.secret));
  }

  /** Smallest client round trip since takeMinClientRttMs was last called, ms. */
  private minClientRttMs = Infinity;

  clientRoundTrip(ms: number): void {
    if (ms < this.minClientRttMs) this.minClientRttMs = ms;
  }

  takeMinClientRttMs(): number | null {
    const v = this.minClientRttMs;
    this.minClientRttMs = Infinity;
    return Number.isFinite(v) ? v : null;
  }

  protocolError(sqlState: string): void {
    this.counters.clientErrors.set(sqlState, (this.counters.clientErrors.get(sqlState) ?? 0) + 1);
  }

  get clientConnections(): number {
    return this.sessions.size;
  }

  /** Stop accepting, let sessions finish up to the timeout, then close the rest. */
  async shutdown(timeoutMs = this.opts.shutdownTimeoutMs): Promise<void> {
    this.draining = true;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const s of [...this.sessions]) if (s.idle || s.phase === 'startup') s.shutdown();
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of [...this.sessions]) s.shutdown();
    await closed;
  }
}

function tlsContext(files: { cert: string; key: string }): SecureContext {
  return createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key) });
}
