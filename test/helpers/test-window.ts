import type { GateDecision, HeldRequest } from '../../src/proxy/gate.js';
import { ProxyError } from '../../src/protocol/sqlstate.js';
import type { HoldingWindow, WindowGate } from '../../src/windows/gate.js';

/**
 * A window the test opens and closes by hand on a node's real gate: the proxy, the server and the
 * classification are real; only the window's timing is the test's. (The window lifecycle itself,
 * with pins and pg_dump, is tested in windows.test.ts.)
 */
export class TestWindow implements HoldingWindow {
  epoch = -1;
  readonly held: HeldRequest[] = [];
  rejected = 0;

  constructor(
    private readonly gate: WindowGate,
    readonly partitions: readonly string[],
    readonly mode: 'hold' | 'reject' = 'hold',
  ) {}

  open(): this {
    this.epoch = this.gate.startHolding(this, this.partitions);
    return this;
  }

  enqueue(_partition: string, req: HeldRequest): boolean {
    this.held.push(req);
    return true;
  }

  enqueueFenced(req: HeldRequest): boolean {
    this.held.push(req);
    return true;
  }

  rejectFenced(partition: string | null): GateDecision & { action: 'reject' } {
    return this.reject(partition ?? this.partitions[0]!);
  }

  get queuedRequests(): number {
    return this.held.length;
  }

  reject(partition: string): GateDecision & { action: 'reject' } {
    this.rejected++;
    return { action: 'reject', error: new ProxyError('55P03', `quietcut: writes to partition ${partition} are paused for its backup window`, 'ERROR') };
  }

  forget(req: HeldRequest): boolean {
    const i = this.held.indexOf(req);
    if (i < 0) return false;
    this.held.splice(i, 1);
    return true;
  }

  /** Resolves when the drain is done (what the real window waits for before its cut). */
  drained(): Promise<void> {
    return this.gate.waitDrained(new Set(this.partitions));
  }

  /** Stop holding and forward what was held, oldest first. */
  close(): void {
    this.gate.stopHolding(this, this.partitions);
    this.gate.stopFencing(this, this.partitions);
    const held = this.held.splice(0);
    for (const r of held) r.release();
  }
}
