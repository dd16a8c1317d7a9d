import type pg from 'pg';
import type { Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';

/** Counts for one partition in one minute. */
interface Bucket {
  statements: number;
  rows: number;
}

interface PartitionCounters {
  table: string;
  /** minute start (ms) → counts not yet persisted */
  pending: Map<number, Bucket>;
  writes: { inc(n?: number): void };
  rows: { inc(n?: number): void };
  /** Counts not yet added to the Prometheus counters (they are added when scraped). */
  unpublishedWrites: number;
  unpublishedRows: number;
  /** Write statements since this recorder started (the planner's live check reads it). */
  total: number;
}

export interface WriteRecorderOptions {
  metrics?: Metrics;
  node: string;
  log?: Logger;
  now?: () => number;
}

/**
 * Per-partition write counts from what the proxy forwarded: Prometheus counters right away, and
 * per-minute buckets persisted in batches (quietcut.write_minutes) off the hot path.
 */
export class WriteRecorder {
  private readonly parts = new Map<string, PartitionCounters>();
  /** Rows per partition since the last takeRowsSince() (for the pg_stat_user_tables cross-check). */
  private rowsSince = new Map<string, number>();
  private readonly now: () => number;
  private readonly log: Logger;

  constructor(private readonly opts: WriteRecorderOptions) {
    this.now = opts.now ?? Date.now;
    this.log = opts.log ?? silentLogger;
    opts.metrics?.beforeCollect(() => this.publish());
  }

  /** Add what was counted since the last call to the Prometheus counters. */
  publish(): void {
    for (const c of this.parts.values()) {
      if (c.unpublishedWrites > 0) c.writes.inc(c.unpublishedWrites);
      if (c.unpublishedRows > 0) c.rows.inc(c.unpublishedRows);
      c.unpublishedWrites = 0;
      c.unpublishedRows = 0;
    }
  }

  private counters(partition: string, table: string): PartitionCounters {
    let c = this.parts.get(partition);
    if (!c) {
      const m = this.opts.metrics;
      const label = m ? m.partition(partition) : partition;
      c = {
        table,
        pending: new Map(),
        writes: m ? m.writes.labels(table, label) : { inc: () => undefined },
        rows: m ? m.writeRows.labels(table, label) : { inc: () => undefined },
        unpublishedWrites: 0,
        unpublishedRows: 0,
        total: 0,
      };
      this.parts.set(partition, c);
    }
    return c;
  }

  /** One write statement completed on these partitions with `rows` rows in all. */
  record(table: string, partitions: readonly string[], rows: number): void {
    if (partitions.length === 0) return;
    const minute = Math.floor(this.now() / 60_000) * 60_000;
    // Rows of a statement that may have touched several partitions cannot be split exactly: each
    // gets an even share (remainder to the first), so the table's total stays exact.
    const share = Math.floor(rows / partitions.length);
    let rest = rows - share * partitions.length;
    for (const p of partitions) {
      const c = this.counters(p, table);
      const r = share + (rest > 0 ? 1 : 0);
      if (rest > 0) rest--;
      // Plain numbers on the hot path; prom-client's label hashing runs once per scrape instead.
      c.unpublishedWrites++;
      c.total++;
      c.unpublishedRows += r;
      let b = c.pending.get(minute);
      if (!b) {
        b = { statements: 0, rows: 0 };
        c.pending.set(minute, b);
      }
      b.statements++;
      b.rows += r;
      this.rowsSince.set(p, (this.rowsSince.get(p) ?? 0) + r);
    }
  }

  /** Write statements recorded for a partition since start: a counter for rate checks. */
  totalWrites(partition: string): number {
    return this.parts.get(partition)?.total ?? 0;
  }

  takeRowsSince(): Map<string, number> {
    const m = this.rowsSince;
    this.rowsSince = new Map();
    return m;
  }

  /** Take everything not yet persisted. */
  drain(): Array<{ partition: string; minuteMs: number; statements: number; rows: number }> {
    const out: Array<{ partition: string; minuteMs: number; statements: number; rows: number }> = [];
    for (const [partition, c] of this.parts) {
      for (const [minuteMs, b] of c.pending) out.push({ partition, minuteMs, statements: b.statements, rows: b.rows });
      c.pending.clear();
    }
    return out;
  }

  /** Persist pending buckets in one statement; on failure they are put back for the next try. */
  async flush(client: pg.ClientBase): Promise<number> {
    const rows = this.drain();
    if (rows.length === 0) return 0;
    try {
      await client.query(
        `INSERT INTO quietcut.write_minutes (partition, minute, node, statements, rows)
         SELECT p, to_timestamp(m / 1000.0), $5, s, r
           FROM unnest($1::text[], $2::float8[], $3::bigint[], $4::bigint[]) AS t(p, m, s, r)
         ON CONFLICT (partition, minute, node) DO UPDATE
           SET statements = quietcut.write_minutes.statements + EXCLUDED.statements,
               rows = quietcut.write_minutes.rows + EXCLUDED.rows`,
        [rows.map((r) => r.partition), rows.map((r) => r.minuteMs), rows.map((r) => r.statements), rows.map((r) => r.rows), this.opts.node],
      );
      return rows.length;
    } catch (err) {
      this.log.warn({ err }, 'could not persist write history; will retry');
      for (const r of rows) {
        const c = this.parts.get(r.partition)!;
        const b = c.pending.get(r.minuteMs) ?? { statements: 0, rows: 0 };
        b.statements += r.statements;
        b.rows += r.rows;
        c.pending.set(r.minuteMs, b);
      }
      throw err;
    }
  }
}
