import type { TxStatus } from '../protocol/codes.js';

const EMPTY: ReadonlySet<string> = new Set();

/**
 * The transaction state the server will be in for each request, predicted from the client's own
 * stream, and which written partitions a request can make visible.
 *
 * The client pipelines: when a ReadyForQuery arrives it answers an earlier request, and the
 * statements after it have already been seen. So the server's status is used only for what it
 * proves: `I` after request k means nothing written up to request k can still commit. Every write
 * is kept, tagged with its request, until such a proof arrives: a COMMIT (or PREPARE TRANSACTION)
 * seen before then makes all of them visible, whatever a statement that may have failed did to the
 * transaction in between (a skipped BEGIN or COMMIT, a ROLLBACK TO SAVEPOINT out of an error).
 * That never under-counts; exact answers come when the session waits to be caught up.
 *
 * PostgreSQL folds statements that ran in an implicit block (several statements in one Query, or
 * Executes before a Sync) into a transaction a later BEGIN in the block opens; they stay in `open`
 * and commit with it.
 */
export class TxPredictor {
  /** Predicted: the next statement runs inside a transaction block ('T' or 'E'). */
  inTx = false;
  /** Partitions written since the server last proved them settled, with the last request that wrote each. */
  private readonly open = new Map<string, number>();
  /** 1-based number of the request being read (requests taken so far + 1). */
  private current = 1;
  /** A BEGIN/COMMIT/ROLLBACK of the current request was applied: the server's status for an earlier one says nothing of it. */
  private txOpInCurrent = false;
  private requestVisible = new Set<string>();

  /** Partitions whose writes become visible when the current request completes. */
  get visible(): ReadonlySet<string> {
    return this.requestVisible;
  }

  /** Number the current request will have (what takeRequest returns it as). */
  get request(): number {
    return this.current;
  }

  /** A statement that writes these partitions runs. */
  write(partitions: Iterable<string>): void {
    const autocommit = !this.inTx;
    for (const p of partitions) {
      this.open.set(p, this.current);
      // Outside a block it commits at the end of this request (or a COMMIT in it).
      if (autocommit) this.requestVisible.add(p);
    }
  }

  /** Visible at the end of this request whatever the block state (a marker for text that may be misread). */
  visibleNow(partition: string): void {
    this.requestVisible.add(partition);
  }

  begin(): void {
    this.txOpInCurrent = true;
    this.inTx = true;
  }

  /** COMMIT / END (and COMMIT AND CHAIN): everything that may be open becomes visible. */
  commit(chain = false): void {
    this.txOpInCurrent = true;
    for (const p of this.open.keys()) this.requestVisible.add(p);
    this.inTx = chain;
  }

  rollback(chain = false): void {
    this.txOpInCurrent = true;
    this.inTx = chain;
  }

  /** PREPARE TRANSACTION: returns what the prepared transaction may hold; it is visible as a commit is. */
  prepare(): ReadonlySet<string> {
    this.txOpInCurrent = true;
    const held = new Set(this.open.keys());
    for (const p of held) this.requestVisible.add(p);
    this.inTx = false;
    return held;
  }

  /** COMMIT PREPARED of a transaction that wrote these. */
  commitPrepared(partitions: ReadonlySet<string>): void {
    for (const p of partitions) this.requestVisible.add(p);
  }

  /** The current request's boundary: returns what it makes visible and starts the next request. */
  takeRequest(): ReadonlySet<string> {
    this.current++;
    this.txOpInCurrent = false;
    if (this.requestVisible.size === 0) return EMPTY;
    const v = this.requestVisible;
    this.requestVisible = new Set();
    return v;
  }

  /**
   * The server finished request `answered` (as numbered by takeRequest) in this status. `I` proves
   * that every write up to it is settled. When it answers the last request taken and nothing of
   * the current one changed the block, it is also the state the next statement runs in.
   */
  readyForQuery(status: TxStatus, answered: number): void {
    if (status === 'I' && this.open.size > 0) {
      if (answered >= this.current - 1) this.open.clear();
      else for (const [p, req] of this.open) if (req <= answered) this.open.delete(p);
    }
    if (answered >= this.current - 1 && !this.txOpInCurrent) this.inTx = status !== 'I';
  }

  /** Partitions an open transaction may have written (for tests and diagnostics). */
  openPartitions(): string[] {
    return [...this.open.keys()];
  }
}
