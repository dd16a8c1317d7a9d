/**
 * One planner at a time: a session advisory lock held for one planning cycle on one connection.
 * A node that does not get it skips the cycle; the one that does stores the plan, and every node
 * (itself included) arms from the stored plan. Per cycle rather than held for life: a node that
 * dies mid-cycle loses the lock with its connection, and no failover protocol is needed.
 */
import type pg from 'pg';

/** Advisory lock key for planning ("qcplan" as an int8 constant); distinct from the migration lock. */
export const PLANNING_LOCK = 0x7163706c616e;

export type LeaderResult<T> = { acquired: true; value: T } | { acquired: false };

export async function withPlanningLock<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<LeaderResult<T>> {
  const client = await pool.connect();
  let broken = false;
  try {
    const { rows } = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [PLANNING_LOCK]);
    if (rows[0]?.ok !== true) return { acquired: false };
    try {
      return { acquired: true, value: await fn(client) };
    } finally {
      try {
        await client.query('SELECT pg_advisory_unlock($1)', [PLANNING_LOCK]);
      } catch {
        // A connection that cannot unlock must not go back to the pool still holding the lock.
        broken = true;
      }
    }
  } finally {
    client.release(broken);
  }
}
