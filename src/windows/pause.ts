import type { GateDecision, HeldRequest } from '../proxy/gate.js';
import { ProxyError } from '../protocol/sqlstate.js';
import type { Metrics } from '../metrics/registry.js';
import type { HoldingWindow, WindowGate } from './gate.js';
import { HoldQueue, releaseOldestFirst, type QueuedRequest } from './hold-queue.js';

export interface PauseOptions {
  partitions: readonly string[];
  timeoutMs: number;
  maxQueuedRequests: number;
  maxQueuedBytes: number;
  gate: WindowGate;
  metrics?: Metrics;
  /** Called once when the pause ends (resumed or timed out). */
  onEnd?: (p: Pause, why: 'resumed' | 'timeout') => void;
}

/**
 * An operator's PAUSE (the console): writes to these partitions are held, as in a window in hold
 * mode, but nothing is dumped, and the pause ends by itself after its timeout. Held requests are
 * released oldest first, exactly as a window releases them.
 */
export class Pause implements HoldingWindow {
  readonly mode = 'hold' as const;
  epoch = -1;
  readonly startedAt = new Date();
  readonly until: Date;
  private readonly queues = new Map<string, HoldQueue>();
  /** Requests of unknown write set, and statements that are not MVCC-safe, held while the pause lasts. */
  private readonly fenceQueue: HoldQueue;
  private seq = 0;
  private timer: NodeJS.Timeout | null = null;
  private ended = false;
  held = 0;

  constructor(private readonly opts: PauseOptions) {
    this.until = new Date(this.startedAt.getTime() + opts.timeoutMs);
    for (const p of opts.partitions) this.queues.set(p, new HoldQueue(opts.maxQueuedRequests, opts.maxQueuedBytes));
    this.fenceQueue = new HoldQueue(opts.maxQueuedRequests, opts.maxQueuedBytes);
  }

  get queuedRequests(): number {
    let n = this.fenceQueue.depth;
    for (const q of this.queues.values()) n += q.depth;
    return n;
  }

  enqueueFenced(req: HeldRequest): boolean {
    if (this.ended || !this.fenceQueue.push(req, this.seq++)) return false;
    this.held++;
    return true;
  }

  rejectFenced(partition: string | null, why: string): GateDecision & { action: 'reject' } {
    return { action: 'reject', error: new ProxyError('55P03', `quietcut: ${why} waits while ${partition ?? 'partitions'} are paused by an operator until ${this.until.toISOString()}`) };
  }

  /** The pause ends by itself then: no hold lasts past it. */
  get releaseByMs(): number {
    return this.until.getTime();
  }

  get partitions(): readonly string[] {
    return this.opts.partitions;
  }

  /** Start holding; throws when a window or another pause holds one of the partitions. */
  start(): void {
    this.epoch = this.opts.gate.startHolding(this, this.opts.partitions);
    this.timer = setTimeout(() => this.end('timeout'), this.opts.timeoutMs);
    this.timer.unref();
  }

  enqueue(partition: string, req: HeldRequest): boolean {
    const q = this.queues.get(partition);
    if (!q || this.ended) return false;
    if (!q.push(req, this.seq++)) {
      this.opts.metrics?.rejectedWrites.labels(this.opts.metrics.partition(partition)).inc();
      return false;
    }
    this.held++;
    this.opts.metrics?.heldWrites.labels(this.opts.metrics.partition(partition)).inc();
    return true;
  }

  reject(partition: string): GateDecision & { action: 'reject' } {
    // A pause holds; this is only reached if the gate is asked to reject for it.
    return { action: 'reject', error: new ProxyError('55P03', `quietcut: writes to partition ${partition} are paused by an operator until ${this.until.toISOString()}`) };
  }

  forget(req: HeldRequest): boolean {
    if (this.fenceQueue.remove(req)) return true;
    for (const q of this.queues.values()) if (q.remove(req)) return true;
    return false;
  }

  /** Requests waiting now, per partition. */
  waiting(): Array<{ partition: string; depth: number; bytes: number }> {
    return [...this.queues].map(([partition, q]) => ({ partition, depth: q.depth, bytes: q.bytes }));
  }

  /** Stop holding and release everything held, oldest first. */
  end(why: 'resumed' | 'timeout'): void {
    if (this.ended) return;
    this.ended = true;
    if (this.timer) clearTimeout(this.timer);
    this.opts.gate.stopHolding(this, this.opts.partitions);
    this.opts.gate.stopFencing(this, this.opts.partitions);
    const all: Array<QueuedRequest & { partition: string }> = [];
    for (const [partition, q] of this.queues) for (const item of q.takeAll()) all.push({ partition, ...item });
    for (const item of this.fenceQueue.takeAll()) all.push({ partition: this.opts.partitions[0]!, ...item });
    releaseOldestFirst(all, this.opts.metrics);
    this.opts.onEnd?.(this, why);
  }
}

/** The pauses in force on this node, by partition. */
export class Pauses {
  private readonly byPartition = new Map<string, Pause>();

  constructor(private readonly deps: { gate: WindowGate; metrics?: Metrics }) {}

  pause(partitions: readonly string[], o: { timeoutMs: number; maxQueuedRequests: number; maxQueuedBytes: number }): Pause {
    for (const p of partitions) if (this.deps.gate.isHeld(p)) throw new PauseConflict(p, this.byPartition.has(p) ? 'already paused' : 'in a backup window now');
    const pause = new Pause({
      partitions,
      ...o,
      gate: this.deps.gate,
      ...(this.deps.metrics ? { metrics: this.deps.metrics } : {}),
      onEnd: (x) => {
        for (const p of x.partitions) if (this.byPartition.get(p) === x) this.byPartition.delete(p);
      },
    });
    pause.start();
    for (const p of partitions) this.byPartition.set(p, pause);
    return pause;
  }

  /** Resume these partitions (a pause covering several ends for all of them); returns what was resumed. */
  resume(partitions: readonly string[] | 'all'): string[] {
    const targets = new Set<Pause>();
    for (const [p, x] of this.byPartition) if (partitions === 'all' || partitions.includes(p)) targets.add(x);
    const out: string[] = [];
    for (const x of targets) {
      out.push(...x.partitions);
      x.end('resumed');
    }
    return out.sort();
  }

  list(): Pause[] {
    return [...new Set(this.byPartition.values())];
  }

  get(partition: string): Pause | undefined {
    return this.byPartition.get(partition);
  }

  stop(): void {
    this.resume('all');
  }
}

export class PauseConflict extends Error {
  constructor(
    readonly partition: string,
    why: string,
  ) {
    super(`partition ${partition} is ${why}`);
    this.name = 'PauseConflict';
  }
}
