/**
 * The other nodes' side of a shared window: every window another node runs is held here too, from
 * the moment this node learns of it (NOTIFY, a poll, or on start before the first client) until the
 * runner ends it, and at the latest until its budget runs out by this node's reckoning of the
 * server's clock. This node drains its own in-flight writes and acknowledges HOLDING+DRAINED; it
 * never pins or dumps. Out of contact it keeps holding (it cannot hear the end), bounded by the
 * budget, and then marks the window aborted as soon as it can reach the database again.
 */
import type pg from 'pg';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { WindowGate } from '../windows/gate.js';
import { GroupWindow, type WindowOutcome } from '../windows/window.js';
import type { Membership } from './membership.js';
import { ackWindow, endWindowRecord, openWindowRecords, reapAbandonedWindows, windowState, type AckState, type WindowRecord } from './shared-windows.js';
import type { WindowBus } from './window-bus.js';

export interface FollowerDeps {
  pool: pg.Pool;
  bus: WindowBus;
  node: string;
  gate: WindowGate;
  config: Config;
  membership: Membership;
  metrics?: Metrics;
  log?: Logger;
  /** How often open windows and the state of followed ones are re-read. Default 250 ms. */
  pollMs?: number;
}

/** Followed windows are remembered this long after they end, so a late poll does not re-arm them. */
const FORGET_AFTER_MS = 10 * 60_000;

export class WindowFollower {
  private readonly log: Logger;
  private readonly followed = new Map<string, { window: GroupWindow; done: Promise<void> } | { endedAtMs: number; outcome: WindowOutcome | null }>();
  private timer: NodeJS.Timeout | null = null;
  private off: (() => void) | null = null;
  private checking: Promise<void> | null = null;
  private stopped = false;
  /** Acks and ends that could not be written (database out of reach), retried on each poll. */
  private readonly owed = new Map<string, () => Promise<unknown>>();
  private readonly waiters = new Map<string, Set<() => void>>();

  constructor(private readonly deps: FollowerDeps) {
    this.log = deps.log ?? silentLogger;
  }

  /** Arm every window open now (holding before this resolves), then follow new ones. */
  async start(): Promise<void> {
    this.off = this.deps.bus.on((event, key) => {
      if (event === 'open') void this.check();
      else if (event === 'end') for (const w of this.waiters.get(key) ?? []) w();
    });
    await this.check(true);
    this.timer = setInterval(() => void this.tick(), this.deps.pollMs ?? 250);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.off?.();
    if (this.timer) clearInterval(this.timer);
    for (const f of this.followed.values()) if ('window' in f) f.window.abort('node shutting down');
    await Promise.allSettled([...this.followed.values()].map((f) => ('done' in f ? f.done : undefined)));
  }

  /** Keys of windows held here for other nodes now (tests, status). */
  holding(): string[] {
    return [...this.followed].filter(([, f]) => 'window' in f).map(([k]) => k);
  }

  /** How a window held here for another node went, once it ended (tests, status). */
  outcome(key: string): WindowOutcome | null {
    const f = this.followed.get(key);
    return f && 'outcome' in f ? f.outcome : null;
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    for (const [k, f] of this.followed) if ('endedAtMs' in f && Date.now() - f.endedAtMs > FORGET_AFTER_MS) this.followed.delete(k);
    for (const [k, retry] of [...this.owed]) {
      try {
        await retry();
        this.owed.delete(k);
      } catch {
        break; // still out of reach
      }
    }
    for (const ws of this.waiters.values()) for (const w of ws) w();
    await this.check();
    await reapAbandonedWindows(this.deps.pool).then(
      (runs) => runs.length > 0 && this.log.warn({ runs }, 'runs whose node was lost mid-window marked aborted'),
      () => undefined,
    );
  }

  /**
   * Read and arm the windows open now (holding before this resolves); false when the database
   * could not be read. Back in contact, the fence comes down only after this succeeds.
   */
  async refresh(): Promise<boolean> {
    try {
      await this.readOpen(true);
      return true;
    } catch {
      return false;
    }
  }

  private check(first = false): Promise<void> {
    this.checking ??= this.readOpen(first).finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async readOpen(first: boolean): Promise<void> {
    let open: Awaited<ReturnType<typeof openWindowRecords>>;
    try {
      open = await openWindowRecords(this.deps.pool);
    } catch (err) {
      if (first) throw err;
      return;
    }
    for (const w of open.windows) {
      if (w.runner === this.deps.node || this.followed.has(w.key) || this.stopped) continue;
      this.follow(w, open.serverNowMs);
    }
    // Holding starts a turn after run() is called (after its awaits): let it before returning, so
    // that a node starting up enforces every open window before it accepts a client.
    await new Promise((r) => setImmediate(r));
  }

  private follow(w: WindowRecord, serverNowMs: number): void {
    const cfg = this.deps.config.windows;
    const over = (p: string): NonNullable<Config['windows']['partitions'][string]> => cfg.partitions[p] ?? {};
    // The deadline is the server's: created_at + budget. Read on the server's clock just now; this
    // node's own uncertainty is added, so it never releases before the runner's reckoning of it.
    const remainingMs = w.createdAtMs + w.budgetMs - serverNowMs + (this.deps.membership.offset?.uncertaintyMs ?? 0);
    if (remainingMs <= 0) return;
    const { node } = this.deps;
    const window = new GroupWindow({
      group: w.group,
      partitions: w.partitions,
      mode: w.mode,
      // Held until the runner says it ended (after its snapshot or its dump, by its own rule).
      release: 'after-dump',
      maxHoldMs: remainingMs,
      maxQueuedRequests: Math.min(...w.partitions.map((p) => over(p).maxQueuedRequests ?? cfg.maxQueuedRequests)),
      maxQueuedBytes: Math.min(...w.partitions.map((p) => over(p).maxQueuedBytes ?? cfg.maxQueuedBytes)),
      rejectSqlState: cfg.rejectSqlState,
      gate: this.deps.gate,
      preparePin: new Map(),
      dump: (_pins, signal) => this.waitEnd(w.key, signal),
      beforeCut: (signal) => this.ackUntilWritten(w.key, 'drained', signal),
      onRelease: (aborted, reason) => {
        if (!aborted) return void this.ack(w.key, 'released');
        void this.ack(w.key, 'aborted');
        // This node stopped holding before the runner ended the window: what it admits from now
        // on may fall inside the runner's cut, so the window is no cut (unless it already ended).
        this.write(`end:${w.key}`, () => endWindowRecord(this.deps.pool, w.key, 'aborted', `node ${node}: ${reason ?? 'aborted'}`));
      },
      ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
      log: this.log.child({ window: w.key, runner: w.runner }),
    });
    const done = window.run().then(
      (o) => {
        this.followed.set(w.key, { endedAtMs: Date.now(), outcome: o });
        this.log.info({ window: w.key, state: o.state, reason: o.reason }, 'window held for another node ended');
      },
      (err: unknown) => {
        // Holding could not start (another window holds the partition here): the runner must not cut.
        this.followed.set(w.key, { endedAtMs: Date.now(), outcome: null });
        this.log.warn({ err, window: w.key }, 'could not hold a window another node runs');
        void this.ack(w.key, 'aborted');
      },
    );
    this.followed.set(w.key, { window, done });
    this.log.info({ window: w.key, runner: w.runner, partitions: w.partitions, remainingMs }, 'holding a window another node runs');
  }

  private ack(key: string, state: AckState): Promise<void> {
    return this.write(`ack:${key}`, () => ackWindow(this.deps.pool, key, this.deps.node, state));
  }

  /** Write now; on failure keep it owed and retry it on every poll until it goes through. */
  private write(slot: string, f: () => Promise<unknown>): Promise<void> {
    return f().then(
      () => {
        this.owed.delete(slot);
      },
      (err: unknown) => {
        this.log.warn({ err: (err as Error).message, slot }, 'could not reach the database; retrying');
        this.owed.set(slot, f);
      },
    );
  }

  /** The DRAINED ack must reach the runner before this node's part of the window is done. */
  private async ackUntilWritten(key: string, state: AckState, signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await ackWindow(this.deps.pool, key, this.deps.node, state);
        return;
      } catch (err) {
        if (signal.aborted) throw err;
        await this.sleep(key, signal);
      }
    }
  }

  /** Resolves when the runner released the window; rejects when it (or anyone) aborted it. */
  private async waitEnd(key: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      if (signal.aborted) throw signal.reason as Error;
      const s = await windowState(this.deps.pool, key).catch(() => null);
      if (s?.state === 'released') return;
      if (s?.state === 'aborted') throw new Error(`window aborted: ${s.reason ?? 'by its runner'}`);
      await this.sleep(key, signal);
    }
  }

  /** Until the next poll, an end announced for this key, or an abort. */
  private sleep(key: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const set = this.waiters.get(key) ?? new Set();
      this.waiters.set(key, set);
      const done = (): void => {
        set.delete(done);
        if (set.size === 0) this.waiters.delete(key);
        signal.removeEventListener('abort', done);
        resolve();
      };
      set.add(done);
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
