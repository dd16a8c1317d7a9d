import { isMarker, visibleEntry, type FailClosedReason, type GateDecision, type HeldRequest, type WriteGate } from '../proxy/gate.js';

/** What the gate needs from an open window. */
export interface HoldingWindow {
  readonly epoch: number;
  readonly mode: 'hold' | 'reject';
  /** When holding ends at the latest (ms since epoch), for the notice a held client gets. */
  readonly releaseByMs?: number | null;
  /** Park a request in the partition's queue; false when the queue is full. */
  enqueue(partition: string, req: HeldRequest): boolean;
  /**
   * Park a request that may not run before the window's dumps hold their locks (a statement that is
   * not MVCC-safe, or one whose write set is unknown); false when the queue is full.
   */
  enqueueFenced(req: HeldRequest): boolean;
  /** The decision for a request rejected in reject mode (also counts it). */
  reject(partition: string): GateDecision & { action: 'reject' };
  /** Same, for a fenced request: `partition` null when it names no partition the window knows. */
  rejectFenced(partition: string | null, why: string): GateDecision & { action: 'reject' };
  forget(req: HeldRequest): boolean;
  /** Requests parked now, in every queue of the window. */
  readonly queuedRequests: number;
  /**
   * A holder that gives its partitions up to any window that starts (the out-of-contact fence):
   * what it parked is re-decided when it ends, so a window taking over loses nothing.
   */
  readonly yields?: boolean;
}

interface DrainWaiter {
  partitions: ReadonlySet<string>;
  resolve: () => void;
}

/** Drain key of requests whose write set is unknown: every drain waits for them. */
const ANY = '\0any';

/** Counts fail-closed decisions by reason (quietcut_gate_fail_closed_total). */
export type FailClosedCounter = (reason: FailClosedReason | 'non_mvcc') => void;

/**
 * The proxy's gate, driven by windows: which partitions are held now, which are fenced against
 * statements that are not MVCC-safe (from holding until the dumps hold their locks), and which
 * visibility-making requests for them are still in flight (for the drain).
 */
export class WindowGate implements WriteGate {
  epoch = 0;
  private readonly holding = new Map<string, HoldingWindow>();
  private readonly fenced = new Map<string, HoldingWindow>();
  private readonly inflight = new Map<string, number>();
  private waiters: DrainWaiter[] = [];
  /** Set by the node: counts every request held or rejected because quietcut could not prove it safe. */
  onFailClosed: FailClosedCounter | null = null;

  get active(): boolean {
    return this.holding.size > 0 || this.fenced.size > 0;
  }

  /** Start holding (and fencing) these partitions for a window; returns the window's epoch. */
  startHolding(window: HoldingWindow & { epoch: number }, partitions: readonly string[]): number {
    for (const p of partitions) {
      const other = this.holding.get(p) ?? this.fenced.get(p);
      if (other && other !== window && !(other.yields && !window.yields)) throw new Error(`partition ${p} is already held by another window`);
    }
    this.epoch++;
    for (const p of partitions) {
      this.holding.set(p, window);
      this.fenced.set(p, window);
    }
    return this.epoch;
  }

  stopHolding(window: HoldingWindow, partitions: readonly string[]): void {
    for (const p of partitions) if (this.holding.get(p) === window) this.holding.delete(p);
  }

  /** The window's dumps hold their locks (or the window ended): statements that are not MVCC-safe may run. */
  stopFencing(window: HoldingWindow, partitions: readonly string[]): void {
    for (const p of partitions) if (this.fenced.get(p) === window) this.fenced.delete(p);
  }

  isHeld(partition: string): boolean {
    return this.holding.has(partition);
  }

  /** Who holds or fences the partition now, if anyone. */
  holderOf(partition: string): HoldingWindow | undefined {
    return this.holding.get(partition) ?? this.fenced.get(partition);
  }

  /** Requests parked now by every open window (for status and tests). */
  queuedRequests(): number {
    let n = 0;
    for (const w of new Set([...this.holding.values(), ...this.fenced.values()])) n += w.queuedRequests;
    return n;
  }

  isFenced(partition: string): boolean {
    return this.fenced.has(partition);
  }

  decide(visible: ReadonlySet<string>, _inTransaction: boolean, inflight: ReadonlySet<string>): GateDecision {
    // Part of this request is in flight on a partition of this window (or with a write set that
    // every drain waits for): the drain waits for the whole request, so the rest is admitted
    // (holding it would wait for ourselves).
    const admitted = (w: HoldingWindow): boolean => inflight.size > 0 && this.holdsAny(w, inflight);
    let fence: { w: HoldingWindow; partition: string | null; reason: FailClosedReason | 'non_mvcc' } | null = null;
    for (const e of visible) {
      if (!isMarker(e)) {
        const w = this.holding.get(e);
        if (!w || admitted(w)) continue;
        if (w.mode === 'reject') return w.reject(e);
        return { action: 'hold', partition: e, enqueue: (req: HeldRequest) => w.enqueue(e, req), ...(w.releaseByMs ? { releaseBy: w.releaseByMs } : {}) };
      }
      if (fence) continue;
      const v = visibleEntry(e);
      const w = v.kind === 'non-mvcc' && v.partition !== null ? (this.holding.get(v.partition) ?? this.fenced.get(v.partition)) : this.anyWindow();
      if (!w || admitted(w)) continue;
      fence = { w, partition: v.kind === 'non-mvcc' ? v.partition : null, reason: v.kind === 'unknown' ? v.reason : 'non_mvcc' };
    }
    if (!fence) return { action: 'pass' };
    this.onFailClosed?.(fence.reason);
    const { w, partition } = fence;
    const why = fence.reason === 'non_mvcc' ? 'a statement that is not MVCC-safe' : `a statement whose writes quietcut cannot know (${fence.reason})`;
    if (w.mode === 'reject') return w.rejectFenced(partition, why);
    return { action: 'hold', partition: partition ?? '(any)', enqueue: (req: HeldRequest) => w.enqueueFenced(req), ...(w.releaseByMs ? { releaseBy: w.releaseByMs } : {}) };
  }

  private anyWindow(): HoldingWindow | undefined {
    for (const w of this.holding.values()) return w;
    for (const w of this.fenced.values()) return w;
    return undefined;
  }

  private holdsAny(w: HoldingWindow, inflight: ReadonlySet<string>): boolean {
    for (const e of inflight) {
      const k = drainKey(e);
      if (k === ANY || this.holding.get(k) === w || this.fenced.get(k) === w) return true;
    }
    return false;
  }

  inflightAdd(partitions: ReadonlySet<string>): void {
    for (const p of partitions) {
      const k = drainKey(p);
      this.inflight.set(k, (this.inflight.get(k) ?? 0) + 1);
    }
  }

  inflightDone(partitions: ReadonlySet<string>): void {
    for (const p of partitions) {
      const k = drainKey(p);
      const n = (this.inflight.get(k) ?? 0) - 1;
      if (n <= 0) this.inflight.delete(k);
      else this.inflight.set(k, n);
    }
    if (this.waiters.length > 0) this.checkWaiters();
  }

  /** In-flight visibility-making requests that may write the partition (those of unknown write set included). */
  inflightCount(partition: string): number {
    return (this.inflight.get(partition) ?? 0) + (this.inflight.get(ANY) ?? 0);
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
    if ((this.inflight.get(ANY) ?? 0) > 0) return false;
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
    for (const w of new Set([...this.holding.values(), ...this.fenced.values()])) if (w.forget(req)) return;
  }
}

/** What a visible-set entry counts against in the drain: its partition, or ANY when unknown. */
function drainKey(e: string): string {
  if (!isMarker(e)) return e;
  const v = visibleEntry(e);
  return v.kind === 'non-mvcc' && v.partition !== null ? v.partition : ANY;
}
