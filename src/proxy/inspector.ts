import type { BindMessage, ParseMessage } from '../protocol/decode.js';
import type { TxStatus } from '../protocol/codes.js';
import type { FailClosedReason } from './gate.js';

/**
 * Per-session view of what the client's messages do: which partitions a request writes, and
 * which writes become visible when it completes. The sql and catalog components implement it;
 * the session only feeds it messages in order and reads the result at request boundaries.
 */
export interface SessionInspector {
  /** Simple Query: every statement in it. */
  query(sql: string): void;
  parse(msg: ParseMessage): void;
  bind(msg: BindMessage): void;
  execute(portal: string): void;
  close(kind: 'S' | 'P', name: string): void;
  /**
   * FunctionCall ('F'), or a message quietcut could not decode (`unparsed`): cannot be classified;
   * the server answers it as one statement.
   */
  functionCall(reason?: FailClosedReason): void;
  /**
   * Partitions whose writes become visible when the current request completes (autocommit
   * writes, commits of transactions that wrote them), accumulated since the last boundary.
   * Reset by takeRequest().
   */
  readonly visible: ReadonlySet<string>;
  /** Called when a request boundary (Query/Sync) is forwarded: returns and resets `visible`. */
  takeRequest(): ReadonlySet<string>;
  /** Server side: a statement completed with this tag. */
  commandComplete(tag: string): void;
  /** Server side: an error ended the current statement. */
  error(): void;
  /** Server side: a statement ended without CommandComplete (PortalSuspended, EmptyQueryResponse). */
  statementEnded(): void;
  /**
   * Server side: request number `answered` completed (requests numbered from 1 in the order
   * takeRequest was called for them); the transaction status after it. Later requests may
   * already have been read: the status is the server's state after `answered`, not now.
   */
  readyForQuery(status: TxStatus, answered: number): void;
  /** ParameterStatus from the server (search_path when reported, TimeZone, ...). */
  parameterStatus(name: string, value: string): void;
}

const EMPTY: ReadonlySet<string> = new Set();

/** Sees nothing: transparent proxying with no classification. */
export class NullInspector implements SessionInspector {
  readonly visible = EMPTY;
  query(): void {}
  parse(): void {}
  bind(): void {}
  execute(): void {}
  close(): void {}
  functionCall(): void {}
  takeRequest(): ReadonlySet<string> {
    return EMPTY;
  }
  commandComplete(): void {}
  error(): void {}
  statementEnded(): void {}
  readyForQuery(): void {}
  parameterStatus(): void {}
}
