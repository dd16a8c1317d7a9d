import pg from 'pg';
import { quoteTable, type TableName } from './names.js';
import { clientConfig, type PgTarget } from './pg-target.js';

/**
 * Content checksum of one table, independent of row order (a restore may order rows differently):
 * each row's text form is hashed with md5, the two 64-bit halves are summed separately mod 2^64.
 * A multiset sum of 128-bit digests changes on any single-row edit, insert or delete except with
 * probability ~2^-64 per half; sha256 of the artifact is what guards against deliberate tampering.
 */
export const CHECKSUM_ALGORITHM = 'sum64x2-md5-rowtext-v1';

export interface TableChecksum {
  rows: number;
  /** 32 hex digits: high-half sum then low-half sum. */
  checksum: string;
  algorithm: typeof CHECKSUM_ALGORITHM;
  durationMs: number;
}

/**
 * A row's text form depends on these settings (timestamptz output follows TimeZone, floats follow
 * extra_float_digits, ...). Pinning them makes the source and the restored copy agree even when the
 * two sessions were configured differently.
 */
const OUTPUT_SETTINGS: ReadonlyArray<readonly [string, string]> = [
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, YMD'],
  ['IntervalStyle', 'postgres'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
  // As pg_dump does: a table whose row-level security would apply makes the checksum fail rather
  // than run the policies (functions its owner wrote) as quietcut's role, or count fewer rows.
  ['row_security', 'off'],
];

const TWO_64 = 1n << 64n;

/** The query; `ROW(t.*)` rather than `t` so a column named like the alias cannot shadow the row. */
export function checksumSql(table: TableName): string {
  return `SELECT count(*)::text AS rows,
       coalesce(sum(('x' || substr(h, 1, 16))::bit(64)::bigint::numeric), 0)::text AS hi,
       coalesce(sum(('x' || substr(h, 17, 16))::bit(64)::bigint::numeric), 0)::text AS lo
  FROM (SELECT md5(ROW(t.*)::text) AS h FROM ONLY ${quoteTable(table)} AS t) AS r`;
}

/** Fold a signed numeric sum into an unsigned 64-bit value, 16 hex digits. */
export function fold64(sum: string): string {
  const v = ((BigInt(sum) % TWO_64) + TWO_64) % TWO_64;
  return v.toString(16).padStart(16, '0');
}

export interface ChecksumOptions {
  /**
   * How long to wait for the table's ACCESS SHARE lock. A session holding a conflicting lock (DDL,
   * or a held client's LOCK TABLE) must fail the checksum, as it fails pg_dump, never hang the window.
   */
  lockTimeoutMs?: number;
  /** Upper bound for the whole query; 0 means none. */
  statementTimeoutMs?: number;
  /** checksumInSnapshot only: cancels the running query (pg_cancel_backend from a second connection). */
  signal?: AbortSignal;
  /**
   * Called once the table's ACCESS SHARE lock is held (taken explicitly before the count): from then
   * on a TRUNCATE or rewrite waits for the checksum instead of emptying the table under its snapshot.
   */
  onLocked?: () => void;
}

const DEFAULT_LOCK_TIMEOUT_MS = 5000;

async function computeInTransaction(client: pg.ClientBase, table: TableName, started: number, opts: ChecksumOptions): Promise<TableChecksum> {
  const settings: Array<readonly [string, string]> = [
    ...OUTPUT_SETTINGS,
    ['lock_timeout', `${opts.lockTimeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS}ms`],
    ['statement_timeout', `${opts.statementTimeoutMs ?? 0}ms`],
  ];
  for (const [k, v] of settings) await client.query('SELECT set_config($1, $2, true)', [k, v]);
  await client.query(`LOCK TABLE ONLY ${quoteTable(table)} IN ACCESS SHARE MODE`);
  opts.onLocked?.();
  const { rows } = await client.query<{ rows: string; hi: string; lo: string }>(checksumSql(table));
  const r = rows[0];
  if (!r) throw new Error('checksum query returned no row');
  const count = Number(r.rows);
  if (!Number.isSafeInteger(count)) throw new Error(`row count ${r.rows} is too large`);
  return { rows: count, checksum: fold64(r.hi) + fold64(r.lo), algorithm: CHECKSUM_ALGORITHM, durationMs: performance.now() - started };
}

/**
 * One read-only REPEATABLE READ transaction on `client`, importing `snapshotId` when given, left
 * idle again afterwards whatever happens.
 */
async function checksumTx(client: pg.ClientBase, snapshotId: string | null, table: TableName, opts: ChecksumOptions): Promise<TableChecksum> {
  if (snapshotId !== null && !/^[0-9A-Fa-f-]+$/.test(snapshotId)) throw new Error(`not a snapshot id: ${JSON.stringify(snapshotId)}`);
  const started = performance.now();
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    // SET TRANSACTION SNAPSHOT must come before any query of the transaction; no parameters allowed.
    if (snapshotId !== null) await client.query(`SET TRANSACTION SNAPSHOT '${snapshotId}'`);
    const result = await computeInTransaction(client, table, started, opts);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/**
 * Rows and checksum of `table` as of `snapshotId`, on `client` (idle, outside a transaction; it is
 * left idle again). The import must happen while the exporting transaction is still open.
 */
export function checksumInSnapshotOn(client: pg.ClientBase, snapshotId: string, table: TableName, opts: ChecksumOptions = {}): Promise<TableChecksum> {
  return checksumTx(client, snapshotId, table, opts);
}

/** Same, on a connection of its own (what DESIGN.md asks: never the exporting session). */
export async function checksumInSnapshot(target: PgTarget, snapshotId: string, table: TableName, opts: ChecksumOptions = {}): Promise<TableChecksum> {
  const client = new pg.Client(clientConfig(target, 'quietcut-checksum'));
  // A dropped connection surfaces through the pending query; without a listener it would crash the process.
  client.on('error', () => undefined);
  await client.connect();
  let onAbort: (() => void) | undefined;
  try {
    if (opts.signal) {
      opts.signal.throwIfAborted();
      const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      const pid = rows[0]?.pid;
      // node-postgres has no cancel request; another session can cancel this one's query.
      onAbort = () => void cancelBackend(target, pid);
      opts.signal.addEventListener('abort', onAbort, { once: true });
    }
    return await checksumTx(client, snapshotId, table, opts);
  } finally {
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    await client.end();
  }
}

async function cancelBackend(target: PgTarget, pid: number | undefined): Promise<void> {
  if (pid === undefined) return;
  const c = new pg.Client(clientConfig(target, 'quietcut-cancel'));
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT pg_cancel_backend($1)', [pid]);
  } catch {
    // The query may have finished already; nothing to cancel then.
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Rows and checksum of `table` as it is now (used on a restored copy). */
export function checksumTable(client: pg.ClientBase, table: TableName, opts: ChecksumOptions = {}): Promise<TableChecksum> {
  return checksumTx(client, null, table, opts);
}
