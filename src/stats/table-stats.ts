import type pg from 'pg';
import type { Metrics } from '../metrics/registry.js';
import { BypassLedger } from './bypass-ledger.js';

export interface TableStatsOptions {
  metrics?: Metrics;
  /** This node's id: its own rows come from its recorder at once, every other node's from quietcut.write_minutes. */
  node: string;
  /** How late either count of a row may arrive before an unmatched server row counts as bypass (bypass-ledger.ts). */
  horizonMs: number;
}

/** The lateness a bypass check must allow: other nodes' flushes and two samples, plus a backend's own stats delay. */
export function bypassHorizonMs(stats: { flushIntervalMs: number; tableStatsIntervalMs: number }): number {
  return 2 * stats.flushIntervalMs + 2 * stats.tableStatsIntervalMs + 5000;
}

/**
 * Samples pg_stat_user_tables for the managed leaves: a second write series that also sees writes
 * that bypass the proxy. Stored per minute in quietcut.table_stat_minutes.
 */
export class TableStatsSampler {
  private last = new Map<string, number>();
  private readonly ledger: BypassLedger;
  /** Rows per (partition, node, minute) other nodes had flushed at the previous sample; null before the first. */
  private othersSeen: Map<string, number> | null = null;

  constructor(private readonly opts: TableStatsOptions) {
    this.ledger = new BypassLedger(opts.horizonMs);
  }

  /** What other nodes flushed to quietcut.write_minutes since the previous sample, per partition. */
  private async othersSince(client: pg.ClientBase, partitions: readonly string[]): Promise<Map<string, number>> {
    const { rows } = await client.query<{ k: string; p: string; n: string }>(
      `SELECT partition || '|' || node || '|' || minute::text AS k, partition AS p, rows::text AS n
         FROM quietcut.write_minutes
        WHERE node <> $1 AND partition = ANY($2::text[]) AND minute >= now() - make_interval(secs => $3)`,
      [this.opts.node, partitions, this.opts.horizonMs / 1000 + 120],
    );
    const first = this.othersSeen === null;
    const seen = new Map<string, number>();
    const out = new Map<string, number>();
    for (const r of rows) {
      const n = Number(r.n);
      seen.set(r.k, n);
      const grew = n - (this.othersSeen?.get(r.k) ?? 0);
      if (!first && grew > 0) out.set(r.p, (out.get(r.p) ?? 0) + grew);
    }
    this.othersSeen = seen;
    return out;
  }

  /**
   * Take one sample; `proxyRows` are rows the proxy counted per partition since the previous
   * sample. Returns rows changed per partition since the previous sample (none on the first).
   */
  async sample(client: pg.ClientBase, partitions: readonly string[], proxyRows: ReadonlyMap<string, number>): Promise<Map<string, number>> {
    if (partitions.length === 0) return new Map();
    const nowMs = Date.now();
    for (const [p, n] of proxyRows) this.ledger.wrote(p, n, nowMs);
    for (const [p, n] of await this.othersSince(client, partitions)) this.ledger.wrote(p, n, nowMs);
    const { rows } = await client.query<{ p: string; ins: string; upd: string; del: string }>(
      `SELECT s.schemaname || '.' || s.relname AS p, s.n_tup_ins::text AS ins, s.n_tup_upd::text AS upd, s.n_tup_del::text AS del
         FROM pg_stat_user_tables s
        WHERE s.schemaname || '.' || s.relname = ANY($1::text[])`,
      [partitions],
    );
    const deltas = new Map<string, number>();
    const minute = new Date(Math.floor(Date.now() / 60_000) * 60_000);
    const ins: Array<[string, number, number, number, number]> = [];
    for (const r of rows) {
      const total = Number(r.ins) + Number(r.upd) + Number(r.del);
      const prev = this.last.get(r.p);
      this.last.set(r.p, total);
      if (prev === undefined) continue;
      const delta = Math.max(0, total - prev);
      deltas.set(r.p, delta);
      ins.push([r.p, Number(r.ins), Number(r.upd), Number(r.del), delta]);
      this.ledger.observed(r.p, delta, nowMs);
    }
    const m = this.opts.metrics;
    const bypass = this.ledger.settle(nowMs);
    if (m) for (const r of rows) m.bypassRows.labels(m.partition(r.p)).set(bypass.get(r.p) ?? 0);
    if (ins.length > 0) {
      // delta_rows is measured against the latest sample stored by any node, not this node's own
      // previous sample: with several nodes sampling, adding each node's own delta would count
      // every change once per node. A counter that went down (stats reset) counts as 0.
      await client.query(
        `WITH s AS (
           SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[]) AS t(p, i, u, d, x)
         ), prev AS (
           SELECT DISTINCT ON (partition) partition, n_tup_ins + n_tup_upd + n_tup_del AS total
             FROM quietcut.table_stat_minutes
            WHERE partition = ANY($1::text[])
            ORDER BY partition, minute DESC
         )
         INSERT INTO quietcut.table_stat_minutes (partition, minute, n_tup_ins, n_tup_upd, n_tup_del, delta_rows)
         SELECT s.p, $6, s.i, s.u, s.d, CASE WHEN prev.total IS NULL THEN s.x ELSE greatest(0, s.i + s.u + s.d - prev.total) END
           FROM s LEFT JOIN prev ON prev.partition = s.p
         ON CONFLICT (partition, minute) DO UPDATE
           SET n_tup_ins = EXCLUDED.n_tup_ins, n_tup_upd = EXCLUDED.n_tup_upd, n_tup_del = EXCLUDED.n_tup_del,
               delta_rows = quietcut.table_stat_minutes.delta_rows + EXCLUDED.delta_rows`,
        [ins.map((x) => x[0]), ins.map((x) => x[1]), ins.map((x) => x[2]), ins.map((x) => x[3]), ins.map((x) => x[4]), minute],
      );
    }
    return deltas;
  }
}

/** Delete history older than the retention. */
export async function pruneHistory(client: pg.ClientBase, retentionDays: number): Promise<void> {
  await client.query(`DELETE FROM quietcut.write_minutes WHERE minute < now() - make_interval(days => $1)`, [retentionDays]);
  await client.query(`DELETE FROM quietcut.table_stat_minutes WHERE minute < now() - make_interval(days => $1)`, [retentionDays]);
}
