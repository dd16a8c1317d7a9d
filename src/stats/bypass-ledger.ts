/**
 * Which rows the server saw changed that no quietcut node wrote: the bypass cross-check.
 *
 * Two counts of the same rows arrive at different times: pg_stat_user_tables shows a row a second
 * or more after its statement (at the end of its transaction), and another node's count reaches
 * this one only when that node flushes its write history (stats.flushIntervalMs). Either may come
 * first. So both sides queue with the time they were seen and cancel each other out; only a row
 * the server showed that no proxied row covered within `horizonMs` is bypass, and a proxied row
 * nothing showed within the horizon is forgotten. Lateness is never reported as bypass; a
 * bypassing row is reported one horizon late at most.
 */

interface Entry {
  rows: number;
  atMs: number;
}

export class BypassLedger {
  /** Rows the server showed, not yet matched with proxied rows, oldest first. */
  private readonly seen = new Map<string, Entry[]>();
  /** Rows proxied by some node, not yet shown by the server, oldest first. */
  private readonly proxied = new Map<string, Entry[]>();

  constructor(private readonly horizonMs: number) {}

  /** Rows the server's statistics show changed in a partition. */
  observed(partition: string, rows: number, atMs: number): void {
    if (rows > 0) this.add(this.seen, this.proxied, partition, rows, atMs);
  }

  /** Rows a quietcut node (this one or another) wrote to a partition. */
  wrote(partition: string, rows: number, atMs: number): void {
    if (rows > 0) this.add(this.proxied, this.seen, partition, rows, atMs);
  }

  /**
   * Rows per partition the server showed that no proxied row covered within the horizon, as of
   * `nowMs`; they are taken out (each bypassing row is reported once). Partitions the ledger knows
   * and that have none are reported as 0.
   */
  settle(nowMs: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const p of new Set([...this.seen.keys(), ...this.proxied.keys()])) out.set(p, 0);
    for (const [p, q] of this.seen) {
      let n = 0;
      while (q.length > 0 && q[0]!.atMs <= nowMs - this.horizonMs) n += q.shift()!.rows;
      out.set(p, n);
      if (q.length === 0) this.seen.delete(p);
    }
    for (const [p, q] of this.proxied) {
      while (q.length > 0 && q[0]!.atMs <= nowMs - this.horizonMs) q.shift();
      if (q.length === 0) this.proxied.delete(p);
    }
    return out;
  }

  /** Queue `rows` on one side after cancelling what the other side holds, oldest first. */
  private add(side: Map<string, Entry[]>, other: Map<string, Entry[]>, partition: string, rows: number, atMs: number): void {
    const q = other.get(partition);
    let left = rows;
    while (q && q.length > 0 && left > 0) {
      const head = q[0]!;
      const take = Math.min(head.rows, left);
      head.rows -= take;
      left -= take;
      if (head.rows === 0) q.shift();
    }
    if (q && q.length === 0) other.delete(partition);
    if (left === 0) return;
    let mine = side.get(partition);
    if (mine === undefined) side.set(partition, (mine = []));
    mine.push({ rows: left, atMs });
  }
}
