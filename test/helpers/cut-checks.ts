/**
 * The server as the oracle of a window across nodes (multi-node.test.ts, workers.test.ts): table
 * `w` (partitions w_0..w_7) written by Writers, commit timestamps (track_commit_timestamp) saying
 * when each row became visible.
 */
import { expect } from 'vitest';
import type { LocalCluster } from '../../src/localdb/cluster.js';
import { freshId, type Writer } from './writers.js';

/** Table w with 8 list partitions; w_0 (the windowed one) big enough that its dump lasts a while. */
export async function createWriterTable(cluster: LocalCluster, database = 'demo', bigRows = 400_000): Promise<void> {
  const parts = Array.from({ length: 8 }, (_, i) => `CREATE TABLE w_${i} PARTITION OF w FOR VALUES IN (${i});`).join('\n');
  await cluster.query(
    `CREATE TABLE w (id bigint NOT NULL, p int NOT NULL, sess int NOT NULL, seq int NOT NULL, tx bigint, pad text) PARTITION BY LIST (p);
     ${parts}
     INSERT INTO w_0 (id, p, sess, seq, pad) SELECT -g, 0, 0, 0, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, ${bigRows}) g;`,
    [],
    database,
  );
}

/** Server clock (ms) of a window's cut and end on its runner, from the run record. */
export async function windowTimes(cluster: LocalCluster, runId: string, partition: string, database = 'demo'): Promise<{ cutMs: number; endMs: number }> {
  const { rows } = await cluster.query<{ cut: number; end: number }>(
    `SELECT extract(epoch FROM cut_at)::float8 * 1000 AS cut, extract(epoch FROM window_end)::float8 * 1000 AS end FROM quietcut.run_partitions WHERE run_id = $1 AND partition = $2`,
    [runId, partition],
    database,
  );
  return { cutMs: rows[0]!.cut, endMs: rows[0]!.end };
}

/** Rows of w_0 made visible (committed) strictly between two server instants. */
export async function committedBetween(cluster: LocalCluster, fromMs: number, toMs: number, database = 'demo'): Promise<number> {
  const { rows } = await cluster.query<{ n: string }>(
    `SELECT count(*) AS n FROM w_0 WHERE id > 0 AND extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 > $1 AND extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 < $2`,
    [fromMs, toMs],
    database,
  );
  return Number(rows[0]!.n);
}

/** Every acknowledged write is in the table exactly once; nothing unacknowledged slipped in twice. */
export async function checkNothingLost(cluster: LocalCluster, writers: readonly Writer[], database = 'demo'): Promise<{ acked: number }> {
  const { rows } = await cluster.query<{ id: string; n: string }>('SELECT id::text, count(*) AS n FROM w WHERE id > 0 GROUP BY id', [], database);
  const inDb = new Map(rows.map((r) => [Number(r.id), Number(r.n)]));
  let acked = 0;
  for (const w of writers) {
    for (const r of w.records) {
      if (r.ackAt !== null && r.error === null) {
        acked++;
        expect(inDb.get(r.id), `acknowledged write ${r.id} (${w.kind})`).toBe(1);
      }
    }
  }
  for (const n of inDb.values()) expect(n).toBe(1);
  return { acked };
}

/**
 * A node row with a live lease that never acknowledges: a runner waits for it before its cut, so a
 * window stays open (every real node holding) until `letGo` ends the lease.
 */
export function straggler(cluster: LocalCluster, database = 'demo'): { join: () => Promise<unknown>; letGo: () => Promise<unknown> } {
  const node = `straggler-${freshId()}`;
  return {
    join: () => cluster.query(`INSERT INTO quietcut.nodes (node, lease_expires_at) VALUES ($1, clock_timestamp() + interval '10 minutes')`, [node], database),
    letGo: () => cluster.query('UPDATE quietcut.nodes SET lease_expires_at = clock_timestamp() WHERE node = $1', [node], database),
  };
}
