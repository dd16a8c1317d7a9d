import pg from 'pg';
import { quoteTable, type TableName } from './names.js';
import { clientConfig, type PgTarget } from './pg-target.js';

/**
 * Whether the session named `applicationName` holds a granted lock on `table`. pg_dump takes ACCESS
 * SHARE on every table it dumps before it reads any, and keeps it to the end; that is the moment
 * from which a TRUNCATE or table rewrite can no longer empty the table under the dump's snapshot.
 */
export const LOCK_HELD_SQL = `SELECT EXISTS (
  SELECT 1 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
   WHERE a.application_name = $1 AND l.locktype = 'relation' AND l.granted
     AND l.database = (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database())
     AND l.relation = $2::pg_catalog.regclass) AS held`;

export interface LockWatchOptions {
  /** Resolves when the locking session has ended (the dump finished or failed): stop watching. */
  done: Promise<unknown>;
  signal?: AbortSignal;
  /** Between two looks; default 5 ms (the watch lasts from pg_dump's start to its first lock). */
  intervalMs?: number;
}

/**
 * Resolves true once the session holds a lock on the table, false when `done` settles or `signal`
 * aborts first, or the watch itself fails (the caller then waits for `done`, which is always safe).
 */
export async function waitForLock(target: PgTarget, applicationName: string, table: TableName, opts: LockWatchOptions): Promise<boolean> {
  let over = false;
  void opts.done.then(
    () => (over = true),
    () => (over = true),
  );
  const client = new pg.Client(clientConfig(target, 'quietcut-lock-watch'));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const name = quoteTable(table);
    for (;;) {
      if (over || opts.signal?.aborted) return false;
      const { rows } = await client.query<{ held: boolean }>(LOCK_HELD_SQL, [applicationName, name]);
      if (rows[0]?.held === true) return true;
      await new Promise((r) => setTimeout(r, opts.intervalMs ?? 5));
    }
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
