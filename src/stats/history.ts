/**
 * Write history as the forecast reads it: a partition's per-minute buckets from the `quietcut`
 * schema turned into a regular `Series` (forecast/types.ts). Plain SQL through a client the caller
 * owns; aggregation happens in the database so only one row per step crosses the wire.
 */
import type pg from 'pg';
import type { Series } from '../forecast/types.js';

/** Where a series comes from: what the proxy forwarded, or pg_stat_user_tables deltas. */
export type HistorySource = 'proxy' | 'table-stats';
/** What is counted per step. table-stats has rows only (ins + upd + del). */
export type HistoryMeasure = 'statements' | 'rows';

export const MINUTE_MS = 60_000;

export interface HistoryRange {
  /** Inclusive lower bound (ms since epoch); floored to the step so the first step is whole. */
  fromMs?: number;
  /** Exclusive upper bound (ms since epoch). A range ending now leaves the last step partial. */
  toMs?: number;
}

export interface HistoryQuery extends HistoryRange {
  partition: string;
  source?: HistorySource;
  measure?: HistoryMeasure;
  /** Step of the series, a whole number of minutes (buckets are per minute). Default 1 minute. */
  stepMs?: number;
}

/** The table and column each source/measure reads, fixed here so no caller text reaches the SQL. */
const COLUMNS: Record<HistorySource, { table: string; column: Record<HistoryMeasure, string> }> = {
  proxy: { table: 'quietcut.write_minutes', column: { statements: 'statements', rows: 'rows' } },
  'table-stats': { table: 'quietcut.table_stat_minutes', column: { statements: 'delta_rows', rows: 'delta_rows' } },
};

export class HistoryError extends Error {
  override readonly name = 'HistoryError';
}

function checkStep(stepMs: number): void {
  if (!Number.isInteger(stepMs) || stepMs < MINUTE_MS || stepMs % MINUTE_MS !== 0) {
    throw new HistoryError(`step must be a whole number of minutes (got ${stepMs} ms)`);
  }
}

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `quietcut.write_minutes` → `"quietcut"."write_minutes"`. */
function quoteQualified(name: string): string {
  return name.split('.').map(quoteIdent).join('.');
}

/**
 * One partition's history as a regular series: values[i] is the sum over all nodes of the measure
 * in step i. Steps are aligned to the epoch (UTC), the series runs from the first step with a
 * bucket to the last one, and steps without a bucket in between are 0: the proxy writes no bucket
 * for a quiet minute, so a missing minute means "no writes", never "unknown". Null when the range
 * holds no bucket.
 */
export async function readHistory(client: pg.ClientBase, q: HistoryQuery): Promise<Series | null> {
  const stepMs = q.stepMs ?? MINUTE_MS;
  checkStep(stepMs);
  const src = COLUMNS[q.source ?? 'proxy'];
  const column = quoteIdent(src.column[q.measure ?? 'statements']);
  const fromMs = q.fromMs === undefined ? null : Math.floor(q.fromMs / stepMs) * stepMs;
  const { rows } = await client.query<{ slot: string; v: string }>(
    `SELECT (floor(extract(epoch FROM minute) * 1000 / $2::float8))::bigint::text AS slot, sum(${column})::text AS v
       FROM ${quoteQualified(src.table)}
      WHERE partition = $1
        AND ($3::float8 IS NULL OR minute >= to_timestamp($3::float8 / 1000))
        AND ($4::float8 IS NULL OR minute < to_timestamp($4::float8 / 1000))
      GROUP BY 1
      ORDER BY 1`,
    [q.partition, stepMs, fromMs, q.toMs ?? null],
  );
  return toSeries(rows, stepMs);
}

/** Rows (slot, value) in slot order → a zero-filled series; exported for unit tests. */
export function toSeries(rows: ReadonlyArray<{ slot: string; v: string }>, stepMs: number): Series | null {
  const first = rows[0];
  const last = rows[rows.length - 1];
  if (first === undefined || last === undefined) return null;
  const firstSlot = Number(first.slot);
  const values = new Float64Array(Number(last.slot) - firstSlot + 1);
  for (const r of rows) values[Number(r.slot) - firstSlot] = Number(r.v);
  return { startMs: firstSlot * stepMs, stepMs, values };
}

export interface PartitionHistory {
  partition: string;
  firstMinuteMs: number;
  lastMinuteMs: number;
  /** Sum of the measure over the range (statements for proxy, rows for table-stats unless asked). */
  total: number;
}

/** Partitions with at least one bucket in the range, by name. */
export async function listHistoryPartitions(
  client: pg.ClientBase,
  opts: HistoryRange & { source?: HistorySource; measure?: HistoryMeasure } = {},
): Promise<PartitionHistory[]> {
  const src = COLUMNS[opts.source ?? 'proxy'];
  const column = quoteIdent(src.column[opts.measure ?? 'statements']);
  const { rows } = await client.query<{ partition: string; first_ms: string; last_ms: string; total: string }>(
    `SELECT partition,
            (extract(epoch FROM min(minute)) * 1000)::bigint::text AS first_ms,
            (extract(epoch FROM max(minute)) * 1000)::bigint::text AS last_ms,
            sum(${column})::text AS total
       FROM ${quoteQualified(src.table)}
      WHERE ($1::float8 IS NULL OR minute >= to_timestamp($1::float8 / 1000))
        AND ($2::float8 IS NULL OR minute < to_timestamp($2::float8 / 1000))
      GROUP BY partition
      ORDER BY partition`,
    [opts.fromMs ?? null, opts.toMs ?? null],
  );
  return rows.map((r) => ({ partition: r.partition, firstMinuteMs: Number(r.first_ms), lastMinuteMs: Number(r.last_ms), total: Number(r.total) }));
}

export interface SeedRow {
  minuteMs: number;
  statements: number;
  rows: number;
}

/**
 * Seed one node's history of one partition: within [fromMs, toMs) the node's `columns` are
 * replaced by `rows` in one transaction. Replacing (not adding) is what makes an import idempotent:
 * the same file twice leaves the same history. Only the named columns are replaced, so statements
 * and rows can be seeded from two files. Other nodes' buckets are untouched: seed under a node name
 * of its own (e.g. `import`) to keep recorded history apart from seeded history.
 */
export async function replaceNodeHistory(
  client: pg.ClientBase,
  partition: string,
  node: string,
  range: { fromMs: number; toMs: number },
  rows: readonly SeedRow[],
  columns: HistoryMeasure | 'both' = 'both',
): Promise<{ buckets: number }> {
  for (const r of rows) {
    if (r.minuteMs % MINUTE_MS !== 0) throw new HistoryError(`bucket ${new Date(r.minuteMs).toISOString()} is not the start of a minute`);
    if (r.minuteMs < range.fromMs || r.minuteMs >= range.toMs) throw new HistoryError(`bucket ${new Date(r.minuteMs).toISOString()} lies outside the range it replaces`);
  }
  // One row per minute: ON CONFLICT cannot touch the same row twice in one statement.
  const merged = new Map<number, SeedRow>();
  for (const r of rows) {
    const m = merged.get(r.minuteMs);
    merged.set(r.minuteMs, m ? { minuteMs: r.minuteMs, statements: m.statements + r.statements, rows: m.rows + r.rows } : r);
  }
  const seed = [...merged.values()];
  const cols = columns === 'both' ? ['statements', 'rows'] : [columns];
  const inRange = `partition = $1 AND node = $2 AND minute >= to_timestamp($3::float8 / 1000) AND minute < to_timestamp($4::float8 / 1000)`;
  await client.query('BEGIN');
  try {
    await client.query(`UPDATE quietcut.write_minutes SET ${cols.map((c) => `${quoteIdent(c)} = 0`).join(', ')} WHERE ${inRange}`, [partition, node, range.fromMs, range.toMs]);
    await client.query(
      `INSERT INTO quietcut.write_minutes (partition, minute, node, statements, rows)
       SELECT $1, to_timestamp(m / 1000), $2, ${columns === 'rows' ? '0' : 's'}, ${columns === 'statements' ? '0' : 'r'}
         FROM unnest($3::float8[], $4::bigint[], $5::bigint[]) AS t(m, s, r)
       ON CONFLICT (partition, minute, node) DO UPDATE
         SET ${cols.map((c) => `${quoteIdent(c)} = EXCLUDED.${quoteIdent(c)}`).join(', ')}`,
      [partition, node, seed.map((r) => r.minuteMs), seed.map((r) => r.statements), seed.map((r) => r.rows)],
    );
    // A bucket with nothing left in it is no bucket (history stores no quiet minutes).
    await client.query(`DELETE FROM quietcut.write_minutes WHERE ${inRange} AND statements = 0 AND rows = 0`, [partition, node, range.fromMs, range.toMs]);
    await client.query('COMMIT');
    return { buckets: seed.length };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
