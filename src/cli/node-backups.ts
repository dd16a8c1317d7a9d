/**
 * A node's backups on demand (console BACKUP, `quietcut backup` requests, planned windows): one run
 * at a time, since two runs must not hold the same partition, each checked against the catalog
 * and reported to the node's partition activity.
 */
import { parseTableName, type PgTarget } from '../backup/index.js';
import type { CatalogRefresher } from '../catalog/index.js';
import type { Config } from '../config/schema.js';
import { runBackup, type BackupRunOptions, type BackupRunResult } from '../coordinator/backup-run.js';
import type { Metrics } from '../metrics/registry.js';
import type { Logger } from '../util/log.js';
import { locateForeign } from '../windows/servers.js';
import type { WindowGate } from '../windows/gate.js';
import type { ReleaseRule, WindowMode } from '../windows/window.js';
import type pg from 'pg';
import type { PartitionActivity } from './node-status.js';

export interface BackupOptions {
  mode?: WindowMode;
  release?: ReleaseRule;
  trigger?: string;
  onProgress?: (p: string, state: string) => void;
}

export interface NodeBackupDeps {
  catalog: CatalogRefresher;
  activity: PartitionActivity;
  /** The configuration in force when a run starts (a reload may have replaced it since it was asked). */
  config: () => Config;
  gate: WindowGate;
  target: PgTarget;
  pool: pg.Pool;
  node: string;
  metrics: Metrics;
  log: Logger;
  coordination: NonNullable<BackupRunOptions['coordination']>;
  systemIdentifier: string | undefined;
}

export class NodeBackups {
  private chain: Promise<unknown> = Promise.resolve();
  constructor(private readonly d: NodeBackupDeps) {}

  /** Open windows and back up these partitions, after any run before it has ended. */
  backup(partitions: readonly string[], o: BackupOptions = {}): Promise<BackupRunResult> {
    const { catalog, activity } = this.d;
    const cat = catalog.current;
    const known = new Map(cat.leaves().map((l) => [l.name, l.root]));
    const tableOf = new Map(cat.leaves().map((l) => [l.name, l.table ?? parseTableName(l.name)]));
    for (const p of partitions) if (!known.has(p)) return Promise.reject(new Error(`unknown partition ${p}: not a leaf of a managed table`));
    const onProgress = (p: string, state: string): void => {
      activity.windowStep(p, state);
      o.onProgress?.(p, state);
    };
    for (const p of partitions) activity.windowStep(p, 'queued');
    // Foreign leaves (postgres_fdw) are dumped on their own servers, each in its own snapshot.
    const foreignLeaves = cat.leaves().filter((l) => l.foreignServer !== null).map((l) => l.name);
    const run = this.chain.then(async () => {
      const config = this.d.config();
      const foreign = foreignLeaves.length > 0 ? await locateForeign(this.d.pool, foreignLeaves, { config, admin: this.d.target }) : null;
      return runBackup({
        partitions,
        ...(foreign ? { foreign } : {}),
        rootOf: (p) => known.get(p) ?? p,
        tableOf: (p) => tableOf.get(p) ?? parseTableName(p),
        ...(this.d.systemIdentifier ? { systemIdentifier: this.d.systemIdentifier } : {}),
        config,
        ...(o.mode ? { mode: o.mode } : {}),
        ...(o.release ? { release: o.release } : {}),
        gate: this.d.gate,
        target: this.d.target,
        pool: this.d.pool,
        node: this.d.node,
        trigger: o.trigger ?? 'manual',
        metrics: this.d.metrics,
        log: this.d.log,
        onProgress,
        coordination: this.d.coordination,
      });
    });
    run.then((r) => activity.backupDone(r), () => activity.backupFailed(partitions));
    this.chain = run.catch(() => undefined);
    return run;
  }

  /** Settles once every run asked so far has ended (shutdown). */
  async idle(): Promise<void> {
    await this.chain;
  }
}
