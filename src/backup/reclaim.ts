import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { staleSql } from '../store/liveness.js';
import { silentLogger, type Logger } from '../util/log.js';
import { readManifest, writeManifest } from './manifest.js';

export interface ReclaimOptions {
  /** This node's id. */
  node: string;
  /**
   * This node just started (its listener is bound, so no other live process has its id): its own
   * runs still `running` are from an earlier life and end now, without waiting to go stale.
   */
  ownAreDead: boolean;
  staleAfterMs: number;
  /** Runs this process is carrying out right now; never reclaimed. */
  active?: ReadonlySet<string>;
  log?: Logger;
}

/**
 * Finish runs that nobody will finish: their node died (SIGKILL, power loss) or lost the database
 * for longer than a heartbeat allows. They end `aborted` in quietcut.runs and, when the run
 * directory is reachable from here, in the manifest too; partial files of their dumps go.
 */
export async function reclaimRuns(client: pg.ClientBase, o: ReclaimOptions): Promise<string[]> {
  const log = o.log ?? silentLogger;
  const { rows } = await client.query<{ run_id: string; dir: string; node: string; reason: string }>(
    `WITH dead AS (
       SELECT run_id FROM quietcut.runs
        WHERE status = 'running' AND run_id <> ALL($4::text[])
          AND ((node = $1 AND $2) OR ${staleSql('heartbeat_at', 'started_at', '$3', 'node')})
        FOR UPDATE SKIP LOCKED)
     UPDATE quietcut.runs r SET status = 'aborted', finished_at = now(),
            detail = coalesce(r.detail, '{}'::jsonb) || jsonb_build_object('reason',
              CASE WHEN r.node = $1 AND $2 THEN format('node %s restarted while the run was in progress', r.node)
                   ELSE format('node %s stopped before finishing the run (last heartbeat %s)', r.node, coalesce(r.heartbeat_at, r.started_at)) END)
       FROM dead WHERE r.run_id = dead.run_id
     RETURNING r.run_id, r.dir, r.node, r.detail->>'reason' AS reason`,
    [o.node, o.ownAreDead, o.staleAfterMs, [...(o.active ?? [])]],
  );
  for (const r of rows) {
    log.warn({ run: r.run_id, node: r.node, reason: r.reason }, 'reclaimed an abandoned run: aborted');
    await abandonRunDir(r.dir, log);
  }
  return rows.map((r) => r.run_id);
}

/** Mark a run directory's manifest aborted (if it is still running) and remove its partial files. */
export async function abandonRunDir(dir: string, log: Logger = silentLogger): Promise<void> {
  try {
    const m = await readManifest(dir);
    if (m.status === 'running') await writeManifest(dir, { ...m, status: 'aborted', updatedAt: new Date().toISOString() });
  } catch (err) {
    // Another machine's disk, or a run that died before its manifest: the database row is enough.
    log.debug({ dir, err: (err as Error).message }, 'reclaim: run directory not readable here');
    return;
  }
  for (const f of await readdir(dir).catch(() => [] as string[])) {
    if (f.endsWith('.partial')) await rm(join(dir, f), { force: true });
  }
}
