import type pg from 'pg';

/**
 * How a node shows the database that work it claimed is still in hand. Today each claimed request
 * and each running run carries its own heartbeat column, refreshed while the work goes on; a row
 * whose heartbeat is older than STALE_AFTER_MS belongs to a node that died (or lost the database)
 * and is finished by whoever notices. The claiming node's lease (quietcut.nodes, coordinator/
 * membership.ts) shortens that: once its lease has expired, a row silent for two beats is stale.
 * The row's own heartbeat is still required, so a lease clobbered for a moment (a second process
 * starting with the same node id) never ends work that is in hand.
 */
export const HEARTBEAT_MS = 2000;
export const STALE_AFTER_MS = 15_000;

/**
 * SQL true when a row with heartbeat `col` (falling back to `since`) claimed by node `nodeCol` is
 * stale; `param` holds the stale interval in ms.
 */
export function staleSql(col: string, since: string, param: string, nodeCol: string): string {
  const beat = `coalesce(${col}, ${since})`;
  return `(${beat} < pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => ${param}::float8 / 1000)
    OR (${beat} < pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => ${(2 * HEARTBEAT_MS + 500) / 1000})
        AND EXISTS (SELECT 1 FROM quietcut.nodes n WHERE n.node = ${nodeCol} AND n.lease_expires_at < pg_catalog.clock_timestamp())))`;
}

/** Run `sql` every HEARTBEAT_MS until the returned function is called; failures are ignored (the next beat retries). */
export function startHeartbeat(pool: pg.Pool, sql: string, params: unknown[], everyMs = HEARTBEAT_MS): () => void {
  let busy = false;
  const t = setInterval(() => {
    if (busy) return;
    busy = true;
    pool
      .query(sql, params)
      .catch(() => undefined)
      .finally(() => (busy = false));
  }, everyMs);
  t.unref();
  return () => clearInterval(t);
}

/**
 * Bookkeeping that must reach the database even across a PostgreSQL restart: retried with backoff
 * for up to `forMs`, then the last error is thrown (the row is then finished by reclaim, later).
 */
export async function retrying<T>(f: () => Promise<T>, forMs = STALE_AFTER_MS * 2, onRetry?: (err: unknown, attempt: number) => void): Promise<T> {
  const deadline = Date.now() + forMs;
  let delay = 100;
  for (let attempt = 1; ; attempt++) {
    try {
      return await f();
    } catch (err) {
      if (Date.now() + delay > deadline) throw err;
      onRetry?.(err, attempt);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}
