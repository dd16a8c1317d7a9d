/**
 * What a node does while it cannot trust its own lease (membership.ts: a renewal failed and the
 * last lease may have run out). The other nodes stop waiting for it once its lease expires, so a
 * window may open and cut without it, and this node cannot hear of it. It must not admit a write
 * another node's cut could miss: every managed partition no window holds here is held by this
 * fence, as a window in hold mode would hold it.
 *
 * Bounded: after `budgetMs` (windows.maxHoldMs) what it holds is refused with 55P03, and so is
 * every later write, until contact is back; admitting them could put them inside a cut. Back in
 * contact, the node first reads and arms the windows open now (they take over the partitions
 * they need: the fence yields), then the fence ends and what it held is decided again: held
 * further by a window, or forwarded, oldest first.
 */
import type { HeldRequest, GateDecision } from '../proxy/gate.js';
import { ProxyError, SqlState } from '../protocol/sqlstate.js';
import type { Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { HoldingWindow, WindowGate } from '../windows/gate.js';
import { HoldQueue, releaseOldestFirst, type QueuedRequest } from '../windows/hold-queue.js';
import type { WindowFollower } from './follower.js';
import type { Membership } from './membership.js';

export interface ContactFenceOptions {
  gate: WindowGate;
  /** The managed partitions now (the catalog's leaves). */
  partitions: () => readonly string[];
  budgetMs: number;
  maxQueuedRequests: number;
  maxQueuedBytes: number;
  /** How often partitions no window holds any more (or new ones) are taken while fenced. Default 250 ms. */
  sweepMs?: number;
  metrics?: Metrics;
  log?: Logger;
}

export class ContactFence implements HoldingWindow {
  readonly yields = true;
  epoch = -1;
  mode: 'hold' | 'reject' = 'hold';
  private readonly log: Logger;
  private readonly queues = new Map<string, HoldQueue>();
  private readonly fenceQueue: HoldQueue;
  private seq = 0;
  private sinceMs: number | null = null;
  private timer: NodeJS.Timeout | null = null;
  private sweep: NodeJS.Timeout | null = null;
  /** Requests held since the fence went up (tests, status). */
  held = 0;

  constructor(private readonly opts: ContactFenceOptions) {
    this.log = opts.log ?? silentLogger;
    this.fenceQueue = new HoldQueue(opts.maxQueuedRequests, opts.maxQueuedBytes);
  }

  get active(): boolean {
    return this.sinceMs !== null;
  }

  get releaseByMs(): number | null {
    return this.sinceMs !== null && this.mode === 'hold' ? this.sinceMs + this.opts.budgetMs : null;
  }

  get queuedRequests(): number {
    let n = this.fenceQueue.depth;
    for (const q of this.queues.values()) n += q.depth;
    return n;
  }

  /** Contact lost: hold every partition no window holds. */
  raise(): void {
    if (this.sinceMs !== null) return;
    this.sinceMs = Date.now();
    this.mode = 'hold';
    this.held = 0;
    this.opts.metrics?.outOfContact.set(1);
    this.log.warn({ budgetMs: this.opts.budgetMs }, 'out of contact with the database: holding writes to every partition until it is back (another node may be running a window this one cannot see)');
    this.cover();
    this.sweep = setInterval(() => this.cover(), this.opts.sweepMs ?? 250);
    this.sweep.unref();
    this.timer = setTimeout(() => this.expire(), this.opts.budgetMs);
    this.timer.unref();
  }

  /** Contact is back and the open windows are armed: stop holding; what was held is decided again. */
  lower(): void {
    if (this.sinceMs === null) return;
    const forMs = Date.now() - this.sinceMs;
    this.sinceMs = null;
    this.clearTimers();
    this.opts.metrics?.outOfContact.set(0);
    const mine = [...this.queues.keys()];
    this.opts.gate.stopHolding(this, mine);
    this.opts.gate.stopFencing(this, mine);
    this.log.info({ forMs, held: this.held }, 'back in contact with the database: writes admitted again');
    this.releaseAll();
    this.queues.clear();
  }

  /** Node shutting down: nothing stays parked (what was held is decided again, and the sessions end). */
  stop(): void {
    this.lower();
  }

  private cover(): void {
    const free = this.opts.partitions().filter((p) => this.opts.gate.holderOf(p) === undefined);
    if (free.length === 0) return;
    for (const p of free) if (!this.queues.has(p)) this.queues.set(p, new HoldQueue(this.opts.maxQueuedRequests, this.opts.maxQueuedBytes));
    this.epoch = this.opts.gate.startHolding(this, free);
  }

  /** The budget ran out out of contact: refuse what is held and what comes, admit nothing. */
  private expire(): void {
    if (this.sinceMs === null) return;
    this.mode = 'reject';
    this.log.warn({ budgetMs: this.opts.budgetMs }, 'still out of contact after the window budget: writes to managed partitions are refused until contact is back');
    this.releaseAll();
  }

  private releaseAll(): void {
    const all: Array<QueuedRequest & { partition: string }> = [];
    for (const [partition, q] of this.queues) for (const item of q.takeAll()) all.push({ partition, ...item });
    for (const item of this.fenceQueue.takeAll()) all.push({ partition: '_fenced', ...item });
    releaseOldestFirst(all, this.opts.metrics);
  }

  private clearTimers(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.sweep) clearInterval(this.sweep);
    this.timer = this.sweep = null;
  }

  private error(what: string): ProxyError {
    return new ProxyError(
      SqlState.LockNotAvailable,
      `quietcut: ${what} not admitted: this node has been out of contact with its database since ${new Date(this.sinceMs ?? Date.now()).toISOString()} and cannot know whether another node runs a backup window`,
      'ERROR',
      undefined,
      'Retry shortly, or through another quietcut node.',
    );
  }

  enqueue(partition: string, req: HeldRequest): boolean {
    const q = this.queues.get(partition);
    if (!q || this.mode === 'reject' || !q.push(req, this.seq++)) return false;
    this.held++;
    this.opts.metrics?.heldWrites.labels(this.opts.metrics.partition(partition)).inc();
    return true;
  }

  enqueueFenced(req: HeldRequest): boolean {
    if (this.mode === 'reject' || !this.fenceQueue.push(req, this.seq++)) return false;
    this.held++;
    return true;
  }

  reject(partition: string): GateDecision & { action: 'reject' } {
    this.opts.metrics?.rejectedWrites.labels(this.opts.metrics.partition(partition)).inc();
    return { action: 'reject', error: this.error(`a write to partition ${partition}`) };
  }

  rejectFenced(partition: string | null, why: string): GateDecision & { action: 'reject' } {
    return { action: 'reject', error: this.error(`${why}${partition ? ` on ${partition}` : ''}`) };
  }

  forget(req: HeldRequest): boolean {
    if (this.fenceQueue.remove(req)) return true;
    for (const q of this.queues.values()) if (q.remove(req)) return true;
    return false;
  }
}

/** What watchContact reads of the node's membership (membership.ts). */
export type ContactMembership = Pick<Membership, 'trusted' | 'live' | 'leaseMs' | 'onTrustChange' | 'leaseRunsOutInMs'>;

/**
 * Raise the fence when the node stops trusting its lease, if it last saw another live node; lower
 * it once trusted again and the windows open now are armed, retrying that read until it succeeds
 * while trust lasts.
 *
 * A node that saw no other live node has a little longer: until its lease may run out on the
 * server, any node that starts sees it live and no window opens without it. Past that a newcomer
 * would cut without it, so it raises the fence too, a quarter lease before that instant (the same
 * slack for late timers the trust rule keeps, halved): a blip shorter than three quarters of a
 * lease holds nothing, and a longer outage fails closed as with several nodes. Returns what stops
 * watching (the node shuts down).
 */
export function watchContact(membership: ContactMembership, follower: Pick<WindowFollower, 'refresh'>, fence: ContactFence, node: string, pollMs: number, log: Logger): () => void {
  let catchingUp = false;
  let lone: NodeJS.Timeout | null = null;
  let stopped = false;
  membership.onTrustChange((trusted) => {
    if (stopped) return;
    if (!trusted) {
      if (membership.live.some((n) => n.node !== node)) {
        fence.raise();
        return;
      }
      const inMs = Math.max(0, membership.leaseRunsOutInMs() - membership.leaseMs / 4);
      log.warn({ inMs }, 'out of contact with the database; no other node was live, so writes are admitted until its lease may run out on the server, then held');
      if (lone) clearTimeout(lone);
      lone = setTimeout(() => {
        lone = null;
        if (!stopped && !membership.trusted) fence.raise();
      }, inMs);
      lone.unref();
      return;
    }
    if (lone) clearTimeout(lone);
    lone = null;
    if (!fence.active || catchingUp) return;
    catchingUp = true;
    void (async () => {
      while (membership.trusted && fence.active) {
        if (await follower.refresh()) {
          fence.lower();
          break;
        }
        await new Promise((r) => setTimeout(r, pollMs));
      }
      catchingUp = false;
    })();
  });
  return () => {
    stopped = true;
    if (lone) clearTimeout(lone);
    lone = null;
  };
}
