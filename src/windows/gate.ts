import type { GateDecision, HeldRequest, WriteGate } from '../proxy/gate.js';

/** What the gate needs from an open window. */
export interface HoldingWindow {
  readonly epoch: number;
  readonly mode: 'hold' | 'reject';
  /** Park a request in the partition's queue; false when the queue is full. */
  enqueue(partition: string, req: HeldRequest): boolean;
  /** The decision for a request rejected in reject mode (also counts it). */
  reject(partition: string): GateDecision & { action: 'reject' };
  forget(req: HeldRequest): boolean;
}

interface DrainWaiter {
  partitions: ReadonlySet<string>;
  resolve: () => void;
}

/**
 * The proxy's gate, driven by windows: which partitions are held now, and which visibility-making
 * requests for them are still in flight (for the drain).
 */
export class WindowGate implements WriteGate {
  epoch = 0;
  private readonly holding = new Map<string, HoldingWindow>();
  private readonly inflight = new Map<string, number>();
  private waiters: DrainWaiter[] = [];

  get active(): boolean {
    return this.holding.size > 0;
  }

  /** Start holding these partitions for a window; returns the window's epoch. */
  startHolding(window: HoldingWindow & { epoch: number }, partitions: readonly string[]): number {
    for (const p of partitions) {
      const other = this.holding.get(p);
      if (other && other !== window) throw new Error(`partition ${p} is already held by another window`);
    }
    this.epoch++;
    for (const p of partitions) this.holding.set(p, window);
    return this.epoch;
  }

  stopHolding(window: HoldingWindow, partitions: readonly string[]): void {
    for (const p of partitions) if (this.holding.get(p) === window) this.holding.delete(p);
  }

  isHeld(partition: string): boolean {
    return this.holding.has(partition);
  }

  decide(visible: ReadonlySet<string>, _inTransaction: boolean, inflight: ReadonlySet<string>): GateDecision {
    for (const p of visible) {
      const w = this.holding.get(p);
      if (!w) continue;
      // Part of this request is in flight on a partition of this window: the drain waits for
      // the whole request, so the rest is admitted (holding it would wait for ourselves).
      if (inflight.size > 0 && this.holdsAny(w, inflight)) continue;
      if (w.mode === 'reject') return w.reject(p);
      return { action: 'hold', partition: p, enqueue: (req: HeldRequest) => w.enqueue(p, req) };
    }
    return { action: 'pass' };
  }

  private holdsAny(w: HoldingWindow, partitions: ReadonlySet<string>): boolean {
    for (const p of partitions) if (this.holding.get(p) === w) return true;
    return false;
  }

  inflightAdd(partitions: ReadonlySet<string>): void {
    for (const p of partitions) this.inflight.set(p, (this.inflight.get(p) ?? 0) + 1);
  }

  inflightDone(partitions: ReadonlySet<string>): void {
    for (const p of partitions) {
      const n = (this.inflight.get(p) ?? 0) - 1;
      if (n <= 0) this.inflight.delete(p);
      else this.inflight.set(p, n);
    }
    if (this.waiters.length > 0) this.checkWaiters();
  }

  inflightCount(partition: string): number {
    return this.inflight.get(partition) ?? 0;
  }

  /** Resolves when no visibility-making request for these partitions is in flight. */
  waitDrained(partitions: ReadonlySet<string>): Promise<void> {
    if (this.drained(partitions)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ partitions, resolve }));
  }

  /** Stop waiting (the window aborted). */
  cancelWait(partitions: ReadonlySet<string>): void {
    this.waiters = this.waiters.filter((w) => w.partitions !== partitions);
  }

  private drained(partitions: ReadonlySet<string>): boolean {
    for (const p of partitions) if ((this.inflight.get(p) ?? 0) > 0) return false;
    return true;
  }

  private checkWaiters(): void {
    const still: DrainWaiter[] = [];
    for (const w of this.waiters) {
      if (this.drained(w.partitions)) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }

  forget(req: HeldRequest): void {
    for (const w of new Set(this.holding.values())) if (w.forget(req)) return;
  }
}
