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

/**
 * Entries of a visible set other than partition names. A partition name is always schema-qualified
 * and never holds a NUL, so a NUL-prefixed string cannot collide with one.
 *
 * - `unknownWrite(reason)`: the request may write anything (a DO block, a function not known to be
 *   read-only, SQL read under session settings quietcut does not model, ...). The gate treats it as
 *   touching every windowed partition, including by a statement that is not MVCC-safe: it is held
 *   (or rejected) while any window holds or fences, and every drain waits for it.
 * - `nonMvccWrite(partition)`: the request runs a statement that is not MVCC-safe on the partition
 *   (TRUNCATE, a table rewrite, DROP/DETACH/ATTACH): an exported snapshot does not protect a dump from
 *   it, so it must wait until every dump of the partition's group holds its locks, not only until
 *   the pin. `nonMvccWrite(null)`: on tables the proxy cannot name (TRUNCATE ... CASCADE, CLUSTER).
 */
const MARK = '\0';
const UNKNOWN = '\0unknown:';
const NON_MVCC = '\0non-mvcc:';
const ANY_TABLE = '*';

/** Why a request's write set is unknown (the `reason` label of quietcut_gate_fail_closed_total). */
export type FailClosedReason =
  | 'unparsed'
  | 'do_block'
  | 'function'
  | 'fast_path_call'
  | 'unknown_prepared_gid'
  | 'unknown_statement'
  | 'session_setting'
  | 'hidden_write';

export const unknownWrite = (reason: FailClosedReason): string => UNKNOWN + reason;
export const nonMvccWrite = (partition: string | null): string => NON_MVCC + (partition ?? ANY_TABLE);

export type VisibleEntry =
  | { kind: 'partition'; partition: string }
  | { kind: 'unknown'; reason: FailClosedReason }
  | { kind: 'non-mvcc'; partition: string | null };

/** What one entry of a visible set means. */
export function visibleEntry(e: string): VisibleEntry {
  if (!e.startsWith(MARK)) return { kind: 'partition', partition: e };
  if (e.startsWith(UNKNOWN)) return { kind: 'unknown', reason: e.slice(UNKNOWN.length) as FailClosedReason };
  const p = e.slice(NON_MVCC.length);
  return { kind: 'non-mvcc', partition: p === ANY_TABLE ? null : p };
}

/** True for entries that are not plain partition names. */
export const isMarker = (e: string): boolean => e.charCodeAt(0) === 0;

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
