/**
 * Backup runs as `quietcut runs`, `restore` and `verify` read them: from quietcut.runs and
 * quietcut.run_partitions in the managed database (every node writes there), with the run's
 * directory as recorded by the node that ran it.
 */
import type pg from 'pg';
import { isRunId } from './names.js';

export interface RunRow {
  runId: string;
  status: string;
  trigger: string;
  node: string;
  dir: string;
  startedAt: Date;
  finishedAt: Date | null;
  partitions: RunPartitionSummary[];
}

export interface RunPartitionSummary {
  partition: string;
  group: string;
  status: string;
  reason: string | null;
  rows: number | null;
  bytes: number | null;
  cutAt: Date | null;
  held: number;
  windowMs: number | null;
  prunedAt: Date | null;
}

export class RunNotFound extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunNotFound';
  }
}

/** Runs newest first, with their partitions (optionally only runs that include `partition`). */
export async function listRuns(pool: pg.Pool, o: { partition?: string | null; runId?: string | null; limit?: number } = {}): Promise<RunRow[]> {
  const { rows } = await pool.query<{ run_id: string; status: string; trigger: string; node: string; dir: string; started_at: Date; finished_at: Date | null }>(
    `SELECT run_id, status, trigger, node, dir, started_at, finished_at FROM quietcut.runs r
      WHERE ($1::text IS NULL OR run_id = $1)
        AND ($2::text IS NULL OR EXISTS (SELECT 1 FROM quietcut.run_partitions p WHERE p.run_id = r.run_id AND p.partition = $2))
      ORDER BY started_at DESC, run_id DESC LIMIT $3`,
    [o.runId ?? null, o.partition ?? null, o.limit ?? 50],
  );
  if (rows.length === 0) return [];
  const parts = await pool.query<{ run_id: string; partition: string; grp: string; status: string; reason: string | null; rows: string | null; bytes: string | null; cut_at: Date | null; held: string; window_ms: number | null; pruned_at: Date | null }>(
    `SELECT run_id, partition, grp, status, reason, rows::text, bytes::text, cut_at, held::text, window_ms, pruned_at
       FROM quietcut.run_partitions WHERE run_id = ANY($1::text[]) AND ($2::text IS NULL OR partition = $2) ORDER BY partition`,
    [rows.map((r) => r.run_id), o.partition ?? null],
  );
  return rows.map((r) => ({
    runId: r.run_id,
    status: r.status,
    trigger: r.trigger,
    node: r.node,
    dir: r.dir,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    partitions: parts.rows
      .filter((p) => p.run_id === r.run_id)
      .map((p) => ({
        partition: p.partition,
        group: p.grp,
        status: p.status,
        reason: p.reason,
        rows: p.rows === null ? null : Number(p.rows),
        bytes: p.bytes === null ? null : Number(p.bytes),
        cutAt: p.cut_at,
        held: Number(p.held),
        windowMs: p.window_ms,
        prunedAt: p.pruned_at,
      })),
  }));
}

/**
 * One run by id, or `latest` (the newest run, with a good copy of `partition` when one is named).
 * A wrong id is a clear error listing the newest runs.
 */
export async function findRun(pool: pg.Pool, id: string, partition: string | null = null): Promise<RunRow> {
  if (id === 'latest') {
    const { rows } = await pool.query<{ run_id: string }>(
      `SELECT r.run_id FROM quietcut.runs r
        WHERE ($1::text IS NULL AND r.status = 'good')
           OR EXISTS (SELECT 1 FROM quietcut.run_partitions p WHERE p.run_id = r.run_id AND p.partition = $1 AND p.status = 'good' AND p.pruned_at IS NULL)
        ORDER BY r.started_at DESC, r.run_id DESC LIMIT 1`,
      [partition],
    );
    if (!rows[0]) throw new RunNotFound(partition ? `no good backup of ${partition} yet (quietcut backup --partition ${partition} makes one)` : 'no good backup run yet (quietcut backup makes one)');
    return (await listRuns(pool, { runId: rows[0].run_id }))[0]!;
  }
  if (!isRunId(id)) throw new RunNotFound(`not a run id: ${JSON.stringify(id)} (expected e.g. 20261124T081500Z-1a2b, or latest; quietcut runs lists them)`);
  const run = (await listRuns(pool, { runId: id }))[0];
  if (run) return run;
  const newest = await listRuns(pool, { limit: 3 });
  throw new RunNotFound(`no run ${id} in this database${newest.length ? `; the newest are ${newest.map((r) => r.runId).join(', ')}` : '; it has no runs yet'} (quietcut runs lists them)`);
}
