import type pg from 'pg';
import { migrate } from '../store/migrate.js';
import type { ManifestPartition } from './manifest.js';

/**
 * Runs and their partitions in `quietcut.runs` / `quietcut.run_partitions`, so every node (and
 * `quietcut status`) sees backup history without reading another machine's disk. The manifest
 * on disk stays the authority for verify and retention; these rows mirror it.
 */

export type RunStatus = 'running' | 'good' | 'failed' | 'aborted';

export interface RunStart {
  runId: string;
  trigger: string;
  node: string;
  dir: string;
  startedAt?: Date;
}

/** Create or upgrade the quietcut schema; call once per process before the functions below. */
export async function prepareRunsStore(client: pg.ClientBase): Promise<void> {
  await migrate(client);
}

export async function recordRunStarted(client: pg.ClientBase, run: RunStart): Promise<void> {
  await client.query(
    `INSERT INTO quietcut.runs (run_id, started_at, status, trigger, node, dir)
     VALUES ($1, coalesce($2::timestamptz, now()), 'running', $3, $4, $5)`,
    [run.runId, run.startedAt?.toISOString() ?? null, run.trigger, run.node, run.dir],
  );
}

/** Insert or replace one partition's row from its manifest entry. */
export async function recordRunPartition(client: pg.ClientBase, runId: string, p: ManifestPartition): Promise<void> {
  await client.query(
    `INSERT INTO quietcut.run_partitions
       (run_id, partition, grp, status, reason, cut_at, window_start, window_end, held, rejected, rows, bytes, dump_ms, file,
        snapshot_id, wal_lsn, checksum, checksum_algorithm, sha256, pg_dump_version, checksum_ms, window_ms, pruned_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16::pg_lsn, $17, $18, $19, $20, $21, $22, $23)
     ON CONFLICT (run_id, partition) DO UPDATE SET
       grp = EXCLUDED.grp, status = EXCLUDED.status, reason = EXCLUDED.reason, cut_at = EXCLUDED.cut_at,
       window_start = EXCLUDED.window_start, window_end = EXCLUDED.window_end, held = EXCLUDED.held,
       rejected = EXCLUDED.rejected, rows = EXCLUDED.rows, bytes = EXCLUDED.bytes, dump_ms = EXCLUDED.dump_ms,
       file = EXCLUDED.file, snapshot_id = EXCLUDED.snapshot_id, wal_lsn = EXCLUDED.wal_lsn,
       checksum = EXCLUDED.checksum, checksum_algorithm = EXCLUDED.checksum_algorithm, sha256 = EXCLUDED.sha256,
       pg_dump_version = EXCLUDED.pg_dump_version, checksum_ms = EXCLUDED.checksum_ms,
       window_ms = EXCLUDED.window_ms, pruned_at = EXCLUDED.pruned_at`,
    [
      runId,
      p.partition,
      p.group,
      p.status,
      p.reason,
      p.cutAt,
      p.windowStart,
      p.windowEnd,
      p.held,
      p.rejected,
      p.rows,
      p.bytes,
      p.durations.dumpMs,
      p.file,
      p.snapshotId,
      p.walLsn,
      p.checksum,
      p.checksumAlgorithm,
      p.sha256,
      p.pgDumpVersion,
      p.durations.checksumMs,
      p.durations.windowMs,
      p.prunedAt,
    ],
  );
}

export async function recordRunFinished(client: pg.ClientBase, runId: string, status: Exclude<RunStatus, 'running'>, detail: unknown = null): Promise<void> {
  await client.query(`UPDATE quietcut.runs SET finished_at = now(), status = $2, detail = $3::jsonb WHERE run_id = $1`, [
    runId,
    status,
    detail === null ? null : JSON.stringify(detail),
  ]);
}

/** Mark artifacts that retention removed; the rows stay as history. */
export async function recordPruned(client: pg.ClientBase, runId: string, partitions: readonly string[], at: Date = new Date()): Promise<void> {
  if (partitions.length === 0) return;
  await client.query(`UPDATE quietcut.run_partitions SET pruned_at = $3 WHERE run_id = $1 AND partition = ANY($2::text[])`, [runId, partitions, at.toISOString()]);
}

export interface RunPartitionRow {
  runId: string;
  partition: string;
  status: string;
  reason: string | null;
  rows: number | null;
  bytes: number | null;
  sha256: string | null;
  checksum: string | null;
}

/** Newest first. */
export async function listRunPartitions(client: pg.ClientBase, opts: { partition?: string; limit?: number } = {}): Promise<RunPartitionRow[]> {
  const { rows } = await client.query<{ run_id: string; partition: string; status: string; reason: string | null; rows: string | null; bytes: string | null; sha256: string | null; checksum: string | null }>(
    `SELECT run_id, partition, status, reason, rows::text, bytes::text, sha256, checksum
       FROM quietcut.run_partitions
      WHERE $1::text IS NULL OR partition = $1
      ORDER BY run_id DESC, partition
      LIMIT $2`,
    [opts.partition ?? null, opts.limit ?? 100],
  );
  return rows.map((r) => ({
    runId: r.run_id,
    partition: r.partition,
    status: r.status,
    reason: r.reason,
    rows: r.rows === null ? null : Number(r.rows),
    bytes: r.bytes === null ? null : Number(r.bytes),
    sha256: r.sha256,
    checksum: r.checksum,
  }));
}
