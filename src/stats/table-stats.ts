import type pg from 'pg';
import type { Metrics } from '../metrics/registry.js';

/**
 * Samples pg_stat_user_tables for the managed leaves: a second write series that also sees writes
 * that bypass the proxy. Stored per minute in quietcut.table_stat_minutes.
 */
export class TableStatsSampler {
  private last = new Map<string, number>();
  /** Rows the proxy wrote that pg_stat_user_tables has not shown yet, from the previous sample. */
  private readonly credit = new Map<string, number>();

  constructor(private readonly metrics?: Metrics) {}

  /**
   * Take one sample; `proxyRows` are rows the proxy counted per partition since the previous
   * sample. Returns rows changed per partition since the previous sample (none on the first).
   */
  async sample(client: pg.ClientBase, partitions: readonly string[], proxyRows: ReadonlyMap<string, number>): Promise<Map<string, number>> {
    if (partitions.length === 0) return new Map();
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
      // A backend reports its statistics a second or more after the proxy counted its rows (and
      // only at the end of its transaction): rows the proxy wrote in one interval may show in the
      // next. They stay credited for one more sample, so lateness is never reported as bypass.
      const late = this.credit.get(r.p) ?? 0;
      const fresh = proxyRows.get(r.p) ?? 0;
      if (prev === undefined) {
        this.credit.set(r.p, fresh);
        continue;
      }
      const delta = Math.max(0, total - prev);
      deltas.set(r.p, delta);
      ins.push([r.p, Number(r.ins), Number(r.upd), Number(r.del), delta]);
      const fromLate = Math.min(late, delta);
      const fromFresh = Math.min(fresh, delta - fromLate);
      this.credit.set(r.p, fresh - fromFresh);
      if (this.metrics) this.metrics.bypassRows.labels(this.metrics.partition(r.p)).set(delta - fromLate - fromFresh);
    }
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
