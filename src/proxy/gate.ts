import type { ProxyError } from '../protocol/sqlstate.js';

/**
 * What a session asks before forwarding a request while a window may be open. The windows
 * component implements it; the proxy knows nothing about windows beyond this.
 */

/** A request parked in a partition's hold queue. */
export interface HeldRequest {
  readonly bytes: number;
  readonly heldAtMs: number;
  /** Forward it (the window released). */
  release(): void;
}

export type GateDecision =
  | { action: 'pass' }
  | { action: 'hold'; partition: string; enqueue: (req: HeldRequest) => boolean }
  | { action: 'reject'; error: ProxyError };

export interface WriteGate {
  /** Some window is open: requests must be checked whole before they are forwarded. */
  readonly active: boolean;
  /** Bumped whenever a window starts holding. */
  readonly epoch: number;
  /**
   * Decide on a whole request (or the rest of one) whose completion makes writes to `visible`
   * partitions visible. `inflight` holds the partitions this same request already has in flight
   * (registered with inflightAdd when an earlier part of it was forwarded): a window over any of
   * them is waiting for this request in its drain, so it must admit the rest, or both wait forever.
   */
  decide(visible: ReadonlySet<string>, inTransaction: boolean, inflight: ReadonlySet<string>): GateDecision;
  /** A visibility-making request for these partitions was forwarded / has completed (drain). */
  inflightAdd(partitions: ReadonlySet<string>): void;
  inflightDone(partitions: ReadonlySet<string>): void;
  /** A held request's client went away: it must never be forwarded. */
  forget(req: HeldRequest): void;
}

/** The gate when no windows component is wired: everything passes, nothing is tracked. */
export const openGate: WriteGate = {
  active: false,
  epoch: 0,
  decide: () => ({ action: 'pass' }),
  inflightAdd: () => undefined,
  inflightDone: () => undefined,
  forget: () => undefined,
};
