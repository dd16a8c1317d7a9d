import { setMaxListeners } from 'node:events';
import type { GateDecision, HeldRequest } from '../proxy/gate.js';
import { ProxyError } from '../protocol/sqlstate.js';
import { WINDOW_STATE_VALUE, type Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { WindowGate, HoldingWindow } from './gate.js';
import { HoldQueue } from './hold-queue.js';

export type WindowState = 'armed' | 'holding' | 'drained' | 'pinned' | 'released' | 'dumped' | 'aborted';
export const WINDOW_MODES = ['hold', 'reject'] as const;
export const RELEASE_RULES = ['after-snapshot', 'after-dump'] as const;
export type WindowMode = (typeof WINDOW_MODES)[number];
export type ReleaseRule = (typeof RELEASE_RULES)[number];

/** The snapshot one server's members of a group share. */
export interface Pin {
  snapshotId: string;
  lsn: string;
  /** Commit the exporting transaction: call only when every dump has imported the snapshot. */
  close(): Promise<void>;
}

/** A connection in an open transaction on one server, ready to export its snapshot (the cut). */
export interface PreparedPin {
  take(): Promise<Pin>;
  cancel(): Promise<void>;
}

/** Open the connection that will export one server's snapshot (before holding starts). */
export type PreparePin = (signal: AbortSignal) => Promise<PreparedPin>;

/** What the manifest records of each server's snapshot. */
export interface ServerSnapshot {
  snapshotId: string;
  lsn: string;
  /** How long the export took on that server, ms (part of the hold). */
  pinMs: number;
}

export interface WindowOptions {
  group: string;
  /** schema-qualified leaf partitions of the consistency group */
  partitions: readonly string[];
  mode: WindowMode;
  release: ReleaseRule;
  /** Disruption budget: the window may not hold (or, after-dump, last) longer than this. */
  maxHoldMs: number;
  maxQueuedRequests: number;
  maxQueuedBytes: number;
  rejectSqlState: string;
  gate: WindowGate;
  /**
   * One entry per server holding members of the group (a one-server group has one). All are
   * prepared before holding starts and taken in parallel at the cut: no MVCC snapshot spans
   * servers, so the cut across them is the held moment, and any server failing to pin fails all.
   */
  preparePin: ReadonlyMap<string, PreparePin>;
  /**
   * Dump every member in its server's pinned snapshot; throws (or rejects) when any dump fails.
   * Calls `locked` once every dump (and in-snapshot checksum) of the group holds its ACCESS SHARE
   * locks: from then on a statement that is not MVCC-safe (TRUNCATE, a rewrite) waits for the dumps
   * on the server instead of emptying the table under their older snapshot.
   */
  dump: (pins: ReadonlyMap<string, Pin>, signal: AbortSignal, locked: () => void) => Promise<void>;
  /**
   * Several nodes (see coordination.ts). Before holding: announce the window; may return a shorter
   * budget. Its failure aborts the window before anything is held.
   */
  beforeHold?: () => Promise<number | void>;
  /** After this node drained, before the cut: wait for the other nodes (rejects: abort). */
  beforeCut?: (signal: AbortSignal) => Promise<void>;
  /** Writes were just released on this node, after the cut or by an abort. */
  onRelease?: (aborted: boolean, reason: string | null) => void;
  metrics?: Metrics;
  log?: Logger;
}

export interface WindowOutcome {
  group: string;
  state: 'dumped' | 'aborted';
  reason: string | null;
  startedAt: Date;
  cutAt: Date | null;
  releasedAt: Date | null;
  finishedAt: Date;
  /** The first server's snapshot (the only one for a one-server group). */
  snapshotId: string | null;
  lsn: string | null;
  /** Every server's snapshot, by server, once all were pinned. */
  snapshots: Map<string, ServerSnapshot>;
  held: Map<string, number>;
  rejected: Map<string, number>;
  /** Longest any request waited, ms. */
  maxHoldMs: number;
  /** How long each held request waited, ms (at most the first 10,000). */
  holdWaitsMs: number[];
  /** From the snapshot being pinned to the first held request forwarded, ms (null: none held). */
  pinToFirstReleaseMs: number | null;
  /** From holding to drained (in-flight visibility-making requests done), ms; null if never drained. */
  drainMs: number | null;
}

class WindowAbort extends Error {}

/**
 * One window over one consistency group on this node:
 * ARMED → HOLDING → DRAINED → PINNED → RELEASED → DUMPED, or ABORTED from anywhere before DUMPED.
 */
export class GroupWindow implements HoldingWindow {
  state: WindowState = 'armed';
  epoch = -1;
  readonly mode: WindowMode;
  private readonly queues = new Map<string, HoldQueue>();
  /** Requests that wait for the dumps' locks as well as for the release (see HoldingWindow.enqueueFenced). */
  private readonly fenceQueue: HoldQueue;
  private fenceLifted = false;
  /** The budget ran out while the dumps did not yet hold their locks: the next fenced request aborts. */
  private fenceOverBudget = false;
  private seq = 0;
  private readonly held = new Map<string, number>();
  private readonly rejected = new Map<string, number>();
  private readonly members: ReadonlySet<string>;
  private readonly abortCtl = new AbortController();
  private abortReason: string | null = null;
  private budgetTimer: NodeJS.Timeout | null = null;
  private startedAtMs = 0;
  private releasedAtMs = 0;
  private cutAtMs = 0;
  private maxWaitMs = 0;
  private readonly waits: number[] = [];
  private pinnedPerf = 0;
  private drainMs: number | null = null;
  private firstReleasePerf = 0;
  private pinned: Map<string, Pin> | null = null;
  private readonly pinFacts = new Map<string, ServerSnapshot>();
  private readonly log: Logger;

  constructor(private readonly opts: WindowOptions) {
    // Values may come from a database row: a rule this class does not know would never release.
    if (!WINDOW_MODES.includes(opts.mode)) throw new Error(`unknown window mode ${JSON.stringify(opts.mode)} (expected ${WINDOW_MODES.join(' or ')})`);
    if (!RELEASE_RULES.includes(opts.release)) throw new Error(`unknown release rule ${JSON.stringify(opts.release)} (expected ${RELEASE_RULES.join(' or ')})`);
    this.mode = opts.mode;
    this.members = new Set(opts.partitions);
    for (const p of opts.partitions) this.queues.set(p, new HoldQueue(opts.maxQueuedRequests, opts.maxQueuedBytes));
    this.fenceQueue = new HoldQueue(opts.maxQueuedRequests, opts.maxQueuedBytes);
    this.log = (opts.log ?? silentLogger).child({ group: opts.group });
    // Every pin, dump and checksum of the group listens on this signal: a group spanning servers
    // has more of them than Node's default of 10 before it warns of a leak.
    setMaxListeners(100, this.abortCtl.signal);
    this.setState('armed');
  }

  // ------------------------------------------------------------ gate side

  enqueue(partition: string, req: HeldRequest): boolean {
    const q = this.queues.get(partition);
    if (!q || this.state === 'released' || this.state === 'aborted') return false;
    if (!q.push(req, this.seq++)) {
      this.count(this.rejected, partition, this.opts.metrics?.rejectedWrites);
      return false;
    }
    this.count(this.held, partition, this.opts.metrics?.heldWrites);
    this.opts.metrics?.holdQueueDepth.labels(this.label(partition)).set(q.depth);
    return true;
  }

  reject(partition: string): GateDecision & { action: 'reject' } {
    this.count(this.rejected, partition, this.opts.metrics?.rejectedWrites);
    const resume = new Date(this.startedAtMs + this.opts.maxHoldMs).toISOString();
    return {
      action: 'reject',
      error: new ProxyError(
        this.opts.rejectSqlState,
        `quietcut: writes to partition ${partition} are paused for its backup window`,
        'ERROR',
        `Writes resume when the snapshot is taken, at the latest ${resume}.`,
        'Retry the transaction shortly.',
      ),
    };
  }

  get queuedRequests(): number {
    let n = this.fenceQueue.depth;
    for (const q of this.queues.values()) n += q.depth;
    return n;
  }

  enqueueFenced(req: HeldRequest): boolean {
    if (this.state === 'aborted' || this.state === 'dumped' || (this.fenceLifted && this.releasedAtMs !== 0)) return false;
    if (!this.fenceQueue.push(req, this.seq++)) return false;
    if (this.fenceOverBudget) {
      // Holding it any longer would outlive the budget; the backup cannot be trusted without it.
      setImmediate(() => this.abort(`disruption budget of ${this.opts.maxHoldMs} ms exceeded before the dumps held their locks`));
    }
    return true;
  }

  rejectFenced(partition: string | null, why: string): GateDecision & { action: 'reject' } {
    const first = this.opts.partitions[0]!;
    this.count(this.rejected, partition ?? first, this.opts.metrics?.rejectedWrites);
    return {
      action: 'reject',
      error: new ProxyError(
        this.opts.rejectSqlState,
        `quietcut: ${why} waits while the backup window of ${partition ?? `group ${this.opts.group}`} is open`,
        'ERROR',
        'It runs once the backup holds its table locks.',
        'Retry the transaction shortly.',
      ),
    };
  }

  forget(req: HeldRequest): boolean {
    if (this.fenceQueue.remove(req)) return true;
    for (const [p, q] of this.queues) {
      if (q.remove(req)) {
        this.opts.metrics?.holdQueueDepth.labels(this.label(p)).set(q.depth);
        return true;
      }
    }
    return false;
  }

  // ------------------------------------------------------------ lifecycle

  /** The budget's end: no hold lasts past it. */
  get releaseByMs(): number | null {
    return this.startedAtMs ? this.startedAtMs + this.opts.maxHoldMs : null;
  }

  /** Run the whole window. Never throws: failures come back as an aborted outcome. */
  async run(): Promise<WindowOutcome> {
    const { gate } = this.opts;
    const signal = this.abortCtl.signal;
    let prepared: Map<string, PreparedPin>;
    let budgetMs = this.opts.maxHoldMs;
    try {
      const shorter = await this.opts.beforeHold?.();
      if (typeof shorter === 'number') budgetMs = Math.min(budgetMs, shorter);
      if (!(budgetMs > 0)) throw new Error(`disruption budget of ${this.opts.maxHoldMs} ms already spent before holding`);
      prepared = await prepareAll(this.opts.preparePin, signal);
    } catch (err) {
      this.startedAtMs = Date.now();
      const reason = err instanceof Error ? err.message : String(err);
      this.abort(reason);
      for (const p of this.opts.partitions) this.opts.metrics?.windowsAborted.labels(this.label(p), reasonLabel(reason)).inc();
      return this.outcome('aborted', reason);
    }
    this.startedAtMs = Date.now();
    this.epoch = gate.startHolding(this, this.opts.partitions);
    for (const p of this.opts.partitions) this.opts.metrics?.windowLastStart.labels(this.label(p)).set(this.startedAtMs / 1000);
    this.setState('holding');
    this.budgetTimer = setTimeout(() => this.budgetSpent(), budgetMs);
    this.budgetTimer.unref();
    try {
      const drainStart = performance.now();
      await this.abortable(gate.waitDrained(this.members), () => gate.cancelWait(this.members));
      this.drainMs = performance.now() - drainStart;
      this.setState('drained');
      if (this.opts.beforeCut) await this.abortable(this.opts.beforeCut(signal));
      const taking = takeAll(prepared, this.pinFacts);
      // An abort while exporting must still close the exports that succeed.
      taking.catch(() => undefined);
      this.pinned = await this.abortable(taking);
      this.cutAtMs = Date.now();
      this.pinnedPerf = performance.now();
      this.setState('pinned');
      if (this.opts.release === 'after-snapshot') this.releaseWrites();
      await this.abortable(this.opts.dump(this.pinned, signal, () => this.liftFence()));
      this.liftFence();
      if (this.opts.release === 'after-dump') this.releaseWrites();
      await closeAll(this.pinned);
      this.pinned = null;
      this.setState('dumped');
      return this.outcome('dumped', null);
    } catch (err) {
      const reason = this.abortReason ?? (err instanceof Error ? err.message : String(err));
      this.abort(reason);
      if (this.pinned) await closeAll(this.pinned).catch(() => undefined);
      // cancel() ends each connection, which also ends a take() still in flight.
      else await Promise.all([...prepared.values()].map((p) => p.cancel()));
      this.pinned = null;
      for (const p of this.opts.partitions) this.opts.metrics?.windowsAborted.labels(this.label(p), reasonLabel(reason)).inc();
      this.log.warn({ reason }, 'window aborted');
      return this.outcome('aborted', reason);
    } finally {
      if (this.budgetTimer) clearTimeout(this.budgetTimer);
      // Whatever way run() leaves, nothing stays held: every exit releases.
      this.releaseWrites();
      this.liftFence();
    }
  }

  /**
   * The budget ran out. Before the release it aborts the window. After it, only fenced requests can
   * still wait (for the dumps' locks): if any does, the window aborts; if none does, the fence stays
   * (it costs nothing) and a fenced request arriving later aborts it.
   */
  private budgetSpent(): void {
    if (this.releasedAtMs === 0 || this.opts.release === 'after-dump') {
      this.abort(`disruption budget of ${this.opts.maxHoldMs} ms exceeded in state ${this.state}`);
      return;
    }
    if (this.fenceLifted) return;
    if (this.fenceQueue.depth > 0) this.abort(`disruption budget of ${this.opts.maxHoldMs} ms exceeded before the dumps held their locks`);
    else this.fenceOverBudget = true;
  }

  /** Every dump of the group holds its locks, or the window ended: the fence goes. */
  private liftFence(): void {
    if (this.fenceLifted) return;
    this.fenceLifted = true;
    this.opts.gate.stopFencing(this, this.opts.partitions);
    this.log.debug('dumps hold their locks; fence lifted');
    this.releaseFenced();
  }

  /** Fenced requests go once both the release and the fence lift happened (each session re-decides). */
  private releaseFenced(): void {
    if (!this.fenceLifted || this.releasedAtMs === 0) return;
    const now = performance.now();
    // Oldest first by when each was first held: one held at the start and re-fenced at the pin
    // keeps its place before those fenced directly.
    const items = this.fenceQueue.takeAll().sort((a, b) => a.req.heldAtMs - b.req.heldAtMs || a.seq - b.seq);
    for (const { req } of items) {
      const waited = now - req.heldAtMs;
      if (waited > this.maxWaitMs) this.maxWaitMs = waited;
      if (this.waits.length < 10_000) this.waits.push(waited);
      req.release();
    }
  }

  /** Abort: writes are released at once, dumps are killed, the backup is marked failed. */
  abort(reason: string): void {
    if (this.state === 'aborted' || this.state === 'dumped') return;
    if (this.abortReason === null) this.abortReason = reason;
    this.releaseWrites();
    this.setState('aborted');
    this.liftFence();
    this.abortCtl.abort(new WindowAbort(reason));
  }

  private releaseWrites(): void {
    if (this.releasedAtMs !== 0) return;
    this.releasedAtMs = Date.now();
    // The budget keeps running while the fence stands (budgetSpent decides what it means then).
    if (this.budgetTimer && this.opts.release === 'after-snapshot' && this.fenceLifted) clearTimeout(this.budgetTimer);
    this.opts.gate.stopHolding(this, this.opts.partitions);
    // Oldest first across the whole group; each session's own order is kept because a session
    // has at most one request held at a time and waits behind it.
    const all: Array<{ p: string; req: HeldRequest; seq: number }> = [];
    for (const [p, q] of this.queues) for (const item of q.takeAll()) all.push({ p, req: item.req, seq: item.seq });
    all.sort((a, b) => a.seq - b.seq);
    const now = performance.now();
    const m = this.opts.metrics;
    for (const { p, req } of all) {
      const waited = now - req.heldAtMs;
      if (waited > this.maxWaitMs) this.maxWaitMs = waited;
      m?.holdSeconds.labels(m.histogramPartition(p)).observe(waited / 1000);
      m?.heldSecondsTotal.labels(this.label(p)).inc(waited / 1000);
      if (this.waits.length < 10_000) this.waits.push(waited);
      req.release();
      if (this.firstReleasePerf === 0) this.firstReleasePerf = performance.now();
    }
    for (const p of this.opts.partitions) m?.holdQueueDepth.labels(this.label(p)).set(0);
    for (const p of this.opts.partitions) {
      m?.windowSeconds.labels(m.histogramPartition(p)).observe((this.releasedAtMs - this.startedAtMs) / 1000);
      m?.windowLastRelease.labels(this.label(p)).set(this.releasedAtMs / 1000);
    }
    this.opts.onRelease?.(this.state === 'aborted' || this.abortReason !== null, this.abortReason);
    if (this.state !== 'aborted' && this.state !== 'dumped') this.setState('released');
    this.releaseFenced();
  }

  private abortable<T>(p: Promise<T>, onAbort?: () => void): Promise<T> {
    const signal = this.abortCtl.signal;
    if (signal.aborted) {
      onAbort?.();
      return Promise.reject(signal.reason as Error);
    }
    return new Promise<T>((resolve, reject) => {
      const stop = (): void => {
        onAbort?.();
        reject(signal.reason as Error);
      };
      signal.addEventListener('abort', stop, { once: true });
      p.then(
        (v) => {
          signal.removeEventListener('abort', stop);
          resolve(v);
        },
        (e: unknown) => {
          signal.removeEventListener('abort', stop);
          reject(e as Error);
        },
      );
    });
  }

  private setState(s: WindowState): void {
    // 'released' is reported while the dump still runs; 'dumped'/'aborted' are final.
    this.state = s;
    const m = this.opts.metrics;
    if (m) for (const p of this.opts.partitions) m.windowState.labels(this.label(p)).set(WINDOW_STATE_VALUE[s]);
    this.log.debug({ state: s }, 'window state');
  }

  private label(p: string): string {
    return this.opts.metrics ? this.opts.metrics.partition(p) : p;
  }

  private count(map: Map<string, number>, p: string, counter: { labels(l: string): { inc(): void } } | undefined): void {
    map.set(p, (map.get(p) ?? 0) + 1);
    counter?.labels(this.label(p)).inc();
  }

  private outcome(state: 'dumped' | 'aborted', reason: string | null): WindowOutcome {
    // What a scrape can see of a window that lasted milliseconds: how it ended, and when.
    const m = this.opts.metrics;
    if (m) {
      for (const p of this.opts.partitions) {
        m.windows.labels(this.label(p), state).inc();
        m.windowLastEnd.labels(this.label(p)).set(Date.now() / 1000);
      }
    }
    return {
      group: this.opts.group,
      state,
      reason,
      startedAt: new Date(this.startedAtMs),
      cutAt: this.cutAtMs ? new Date(this.cutAtMs) : null,
      releasedAt: this.releasedAtMs ? new Date(this.releasedAtMs) : null,
      finishedAt: new Date(),
      snapshotId: this.firstSnapshot()?.snapshotId ?? null,
      lsn: this.firstSnapshot()?.lsn ?? null,
      snapshots: this.cutAtMs ? new Map(this.pinFacts) : new Map(),
      held: new Map(this.held),
      rejected: new Map(this.rejected),
      maxHoldMs: this.maxWaitMs,
      holdWaitsMs: [...this.waits],
      pinToFirstReleaseMs: this.pinnedPerf && this.firstReleasePerf ? this.firstReleasePerf - this.pinnedPerf : null,
      drainMs: this.drainMs,
    };
  }

  /** Facts of the pinned snapshot (the first server's), once known. */
  get snapshot(): { snapshotId: string; lsn: string } | null {
    return this.firstSnapshot();
  }

  private firstSnapshot(): ServerSnapshot | null {
    if (this.cutAtMs === 0) return null;
    for (const k of this.opts.preparePin.keys()) return this.pinFacts.get(k) ?? null;
    return null;
  }
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const named = (servers: number, server: string, err: unknown): string => (servers > 1 ? `server ${server}: ${message(err)}` : message(err));

/** Prepare every server's pin in parallel; if any fails, the others are cancelled and it throws. */
async function prepareAll(prepare: ReadonlyMap<string, PreparePin>, signal: AbortSignal): Promise<Map<string, PreparedPin>> {
  // No server to pin: a window that only holds, while another node takes the cut.
  if (prepare.size === 0) return new Map();
  const entries = [...prepare.entries()];
  const settled = await Promise.allSettled(entries.map(([, f]) => f(signal)));
  const out = new Map<string, PreparedPin>();
  const failures: string[] = [];
  settled.forEach((r, i) => {
    const server = entries[i]![0];
    if (r.status === 'fulfilled') out.set(server, r.value);
    else failures.push(named(entries.length, server, r.reason));
  });
  if (failures.length > 0) {
    await Promise.all([...out.values()].map((p) => p.cancel().catch(() => undefined)));
    throw new Error(failures.join('; '));
  }
  return out;
}

/**
 * The cut: every server exports its snapshot at once (the hold lasts as long as the slowest). If
 * any export fails the exports that succeeded are closed and it throws: a cut missing one server
 * is no cut at all.
 */
async function takeAll(prepared: ReadonlyMap<string, PreparedPin>, facts: Map<string, ServerSnapshot>): Promise<Map<string, Pin>> {
  const entries = [...prepared.entries()];
  const settled = await Promise.allSettled(
    entries.map(async ([server, p]) => {
      const t0 = performance.now();
      const pin = await p.take();
      facts.set(server, { snapshotId: pin.snapshotId, lsn: pin.lsn, pinMs: performance.now() - t0 });
      return pin;
    }),
  );
  const pins = new Map<string, Pin>();
  const failures: string[] = [];
  settled.forEach((r, i) => {
    const server = entries[i]![0];
    if (r.status === 'fulfilled') pins.set(server, r.value);
    else failures.push(named(entries.length, server, r.reason));
  });
  if (failures.length > 0) {
    await closeAll(pins).catch(() => undefined);
    throw new Error(failures.join('; '));
  }
  return pins;
}

async function closeAll(pins: ReadonlyMap<string, Pin>): Promise<void> {
  const settled = await Promise.allSettled([...pins.values()].map((p) => p.close()));
  const bad = settled.find((r) => r.status === 'rejected');
  if (bad) throw bad.reason;
}

function reasonLabel(reason: string): string {
  if (reason.includes('budget')) return 'budget';
  if (reason.includes('snapshot') || reason.includes('export')) return 'export';
  return 'dump';
}
