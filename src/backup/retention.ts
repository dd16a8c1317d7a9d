import { readdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { silentLogger, type Logger } from '../util/log.js';
import { readManifest, writeManifest, type Manifest, type PartitionStatus } from './manifest.js';
import { isRunId } from './names.js';

export interface RunScope {
  host: string;
  port: number;
  database: string;
  systemIdentifier?: string;
}

/** Is this manifest's run one of `scope`'s? */
export function inScope(source: Manifest['source'], scope: RunScope): boolean {
  if (source.database !== scope.database) return false;
  if (source.systemIdentifier !== undefined && scope.systemIdentifier !== undefined) return source.systemIdentifier === scope.systemIdentifier;
  return source.host === scope.host && source.port === scope.port;
}

/** What retention needs to know of a run: the manifest, reduced. */
export interface RetentionRun {
  runId: string;
  status: Manifest['status'];
  partitions: ReadonlyArray<{ partition: string; status: PartitionStatus; file: string | null; prunedAt: string | null }>;
}

export interface RetentionPlan {
  /** Artifacts to delete (older good backups beyond the newest `keep`). */
  prune: Array<{ runId: string; partition: string; file: string }>;
  /** Run directories with nothing worth keeping left once `prune` is done. */
  removeRuns: string[];
}

/**
 * Keep the newest `keep` good backups of each partition. Everything older goes; a failed or aborted
 * entry goes with its run only once a newer good backup of that partition is kept, so the record
 * of "this partition has no backup since" survives. Runs still `running` are never touched: an
 * interrupted run cannot be told from one in progress. Pure, so the rules are tested without disk.
 */
export function planRetention(runs: readonly RetentionRun[], keep: number): RetentionPlan {
  if (!Number.isInteger(keep) || keep < 1) throw new Error(`keep must be a positive integer, got ${keep}`);
  const settled = runs.filter((r) => r.status !== 'running').sort((a, b) => (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0));

  const keptCount = new Map<string, number>();
  const newestKept = new Map<string, string>(); // partition -> newest run id holding a kept backup
  const prune: RetentionPlan['prune'] = [];
  const prunedHere = new Set<string>();
  for (const run of settled) {
    for (const p of run.partitions) {
      if (p.status !== 'good' || p.prunedAt !== null || p.file === null) continue;
      const n = keptCount.get(p.partition) ?? 0;
      if (n < keep) {
        keptCount.set(p.partition, n + 1);
        if (!newestKept.has(p.partition)) newestKept.set(p.partition, run.runId);
      } else {
        prune.push({ runId: run.runId, partition: p.partition, file: p.file });
        prunedHere.add(`${run.runId}\u0000${p.partition}`);
      }
    }
  }

  const removeRuns: string[] = [];
  for (const run of settled) {
    const nothingLeft = run.partitions.every((p) => {
      if (p.status === 'good') return p.prunedAt !== null || prunedHere.has(`${run.runId}\u0000${p.partition}`);
      const newer = newestKept.get(p.partition);
      return newer !== undefined && newer > run.runId;
    });
    // A run that never recorded a partition says nothing; leave it for a person to look at.
    if (nothingLeft && run.partitions.length > 0) removeRuns.push(run.runId);
  }
  return { prune, removeRuns };
}

export interface ApplyRetentionOptions {
  keep: number;
  /**
   * Only runs of this source are considered: two deployments sharing a backup directory must not
   * prune each other's runs. A manifest names its cluster by system identifier; older manifests
   * without one match on host, port and database. Absent: every run (a person cleaning up).
   */
  scope?: RunScope;
  log?: Logger;
  dryRun?: boolean;
  now?: Date;
}

export interface RetentionOutcome extends RetentionPlan {
  /** Run directories whose manifest could not be read; they are left alone. */
  unreadable: string[];
}

/**
 * Apply planRetention to `<backupDir>/<run-id>/`. The manifest is marked before the artifact is
 * deleted, so a crash in between leaves a stray file, never a manifest promising a missing one.
 */
export async function applyRetention(backupDir: string, opts: ApplyRetentionOptions): Promise<RetentionOutcome> {
  const log = opts.log ?? silentLogger;
  const root = resolve(backupDir);
  let names: string[];
  try {
    names = (await readdir(root, { withFileTypes: true })).filter((d) => d.isDirectory() && isRunId(d.name)).map((d) => d.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { prune: [], removeRuns: [], unreadable: [] };
    throw err;
  }
  const manifests = new Map<string, Manifest>();
  const unreadable: string[] = [];
  for (const name of names) {
    try {
      const m = await readManifest(join(root, name));
      // A manifest copied into another run's directory must not make us delete that directory.
      if (m.runId !== name) throw new Error(`manifest says run ${m.runId}`);
      if (opts.scope && !inScope(m.source, opts.scope)) continue;
      manifests.set(name, m);
    } catch (err) {
      unreadable.push(name);
      log.warn({ run: name, err: (err as Error).message }, 'retention: skipping run with unreadable manifest');
    }
  }
  const plan = planRetention([...manifests.values()], opts.keep);
  if (opts.dryRun) return { ...plan, unreadable };

  // A dump killed with its process (SIGKILL, power loss) leaves `<file>.partial`; once its run is
  // finished (reclaim marks a dead node's runs aborted) nothing will ever complete it.
  for (const [runId, m] of manifests) {
    if (m.status === 'running') continue;
    const dir = join(root, runId);
    const stray = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith('.partial'));
    for (const f of stray) {
      await rm(join(dir, f), { force: true });
      log.info({ run: runId, file: f }, 'retention: removed the partial file of an interrupted dump');
    }
  }

  const at = (opts.now ?? new Date()).toISOString();
  const byRun = new Map<string, Set<string>>();
  for (const p of plan.prune) byRun.set(p.runId, (byRun.get(p.runId) ?? new Set()).add(p.partition));
  for (const [runId, parts] of byRun) {
    const m = manifests.get(runId);
    if (!m) continue;
    const dir = join(root, runId);
    const updated: Manifest = { ...m, updatedAt: at, partitions: m.partitions.map((p) => (parts.has(p.partition) ? { ...p, prunedAt: at } : p)) };
    await writeManifest(dir, updated);
    for (const p of m.partitions) {
      if (!parts.has(p.partition) || p.file === null) continue;
      await rm(join(dir, p.file), { force: true });
      log.info({ run: runId, partition: p.partition }, 'retention: removed artifact');
    }
  }
  for (const runId of plan.removeRuns) {
    await rm(join(root, runId), { recursive: true, force: true });
    log.info({ run: runId }, 'retention: removed run directory');
  }
  return { ...plan, unreadable };
}
