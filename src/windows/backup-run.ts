import { join, resolve } from 'node:path';
import type pg from 'pg';
import {
  applyRetention,
  capturePartition,
  manifestEntry,
  newManifest,
  newRunId,
  parseTableName,
  recordRunFinished,
  recordRunPartition,
  recordRunStarted,
  RunManifest,
  type CaptureOutcome,
  type PgTarget,
  type TableName,
} from '../backup/index.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { WindowGate } from './gate.js';
import { groupPartitions, type Group } from './groups.js';
import { preparePin } from './pin.js';
import { GroupWindow, type ReleaseRule, type WindowMode, type WindowOutcome } from './window.js';

export interface BackupRunOptions {
  /** schema-qualified leaves to back up */
  partitions: readonly string[];
  /** leaf → its root table (for `table` consistency groups) */
  rootOf: (partition: string) => string;
  config: Config;
  mode?: WindowMode;
  release?: ReleaseRule;
  gate: WindowGate;
  target: PgTarget;
  pool: pg.Pool;
  node: string;
  trigger: string;
  metrics?: Metrics;
  log?: Logger;
  /** Progress per partition, for progress bars. */
  onProgress?: (partition: string, state: string) => void;
}

export interface PartitionResult {
  partition: string;
  group: string;
  status: 'good' | 'failed' | 'aborted';
  reason: string | null;
  rows: number | null;
  bytes: number | null;
  held: number;
  rejected: number;
  windowMs: number | null;
  maxHoldMs: number;
  /** Waits of the requests held for this partition's group, ms (bounded). */
  holdWaitsMs: number[];
  pinToFirstReleaseMs: number | null;
}

export interface BackupRunResult {
  runId: string;
  runDir: string;
  status: 'good' | 'failed' | 'aborted';
  partitions: PartitionResult[];
}

/**
 * One backup run on this node: the requested partitions in consistency groups, one window per
 * group (in order), at most backup.maxConcurrentDumps dumps at once, a manifest, the run recorded in
 * the quietcut schema, then retention.
 */
export async function runBackup(opts: BackupRunOptions): Promise<BackupRunResult> {
  const log = opts.log ?? silentLogger;
  const cfg = opts.config;
  const runId = newRunId();
  const runDir = resolve(join(cfg.backup.dir, runId));
  const manifest = new RunManifest(
    runDir,
    newManifest({ runId, node: opts.node, trigger: opts.trigger, source: { host: opts.target.host, port: opts.target.port, database: opts.target.database } }),
  );
  await manifest.start();
  await withClient(opts.pool, (c) => recordRunStarted(c, { runId, trigger: opts.trigger, node: opts.node, dir: runDir }));
  log.info({ runId, partitions: opts.partitions.length }, 'backup run started');

  const groups = groupPartitions(opts.partitions, cfg.windows.groups, opts.rootOf);
  const results: PartitionResult[] = [];
  for (const group of groups) {
    results.push(...(await runGroup(group, opts, runDir, runId, manifest, log)));
  }
  await manifest.finish();
  const status = manifest.manifest.status === 'running' ? 'failed' : manifest.manifest.status;
  await withClient(opts.pool, (c) => recordRunFinished(c, runId, status, { partitions: results.length }));
  try {
    await applyRetention(cfg.backup.dir, { keep: cfg.backup.keepRuns, log });
  } catch (err) {
    log.warn({ err }, 'retention failed; old runs kept');
  }
  log.info({ runId, status }, 'backup run finished');
  return { runId, runDir, status, partitions: results };
}

async function runGroup(group: Group, opts: BackupRunOptions, runDir: string, runId: string, manifest: RunManifest, log: Logger): Promise<PartitionResult[]> {
  const cfg = opts.config;
  const over = (p: string): NonNullable<Config['windows']['partitions'][string]> => cfg.windows.partitions[p] ?? {};
  const first = group.partitions[0]!;
  const mode = opts.mode ?? over(first).mode ?? cfg.windows.mode;
  const release = opts.release ?? over(first).release ?? cfg.windows.release;
  const maxHoldMs = Math.min(...group.partitions.map((p) => over(p).maxHoldMs ?? cfg.windows.maxHoldMs));
  const maxQueuedRequests = Math.min(...group.partitions.map((p) => over(p).maxQueuedRequests ?? cfg.windows.maxQueuedRequests));
  const maxQueuedBytes = Math.min(...group.partitions.map((p) => over(p).maxQueuedBytes ?? cfg.windows.maxQueuedBytes));
  const outcomes = new Map<string, CaptureOutcome>();
  const tables = new Map<string, TableName>(group.partitions.map((p) => [p, parseTableName(p)]));

  const window = new GroupWindow({
    group: group.name,
    partitions: group.partitions,
    mode,
    release,
    maxHoldMs,
    maxQueuedRequests,
    maxQueuedBytes,
    rejectSqlState: cfg.windows.rejectSqlState,
    gate: opts.gate,
    preparePin: (signal) => preparePin(opts.target, signal),
    dump: async (pin, signal) => {
      for (const p of group.partitions) opts.onProgress?.(p, 'dumping');
      await mapLimit(group.partitions, cfg.backup.maxConcurrentDumps, async (p) => {
        const o = await capturePartition({
          target: opts.target,
          snapshotId: pin.snapshotId,
          partition: tables.get(p)!,
          dir: runDir,
          compression: cfg.backup.compression,
          lockWaitTimeoutMs: cfg.backup.lockWaitTimeoutMs,
          signal,
          log,
        });
        outcomes.set(p, o);
        opts.onProgress?.(p, o.status);
      });
      const bad = [...outcomes.entries()].find(([, o]) => o.status !== 'good');
      if (bad) throw new Error(`dump of ${bad[0]} failed: ${(bad[1] as { reason: string }).reason}`);
    },
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    log,
  });
  for (const p of group.partitions) opts.onProgress?.(p, 'holding');
  const w: WindowOutcome = await window.run();

  const results: PartitionResult[] = [];
  const m = opts.metrics;
  for (const p of group.partitions) {
    let o: CaptureOutcome | { status: 'failed' | 'aborted'; reason: string } = outcomes.get(p) ?? { status: 'aborted', reason: w.reason ?? 'window aborted' };
    // A window that aborted never passes for a good backup, whatever its dumps did.
    if (w.state === 'aborted' && o.status === 'good') o = { status: 'aborted', reason: w.reason ?? 'window aborted' };
    const windowMs = w.releasedAt ? w.releasedAt.getTime() - w.startedAt.getTime() : null;
    const entry = manifestEntry(tables.get(p)!, o, {
      group: group.name,
      snapshotId: w.snapshotId,
      cutAt: w.cutAt,
      windowStart: w.startedAt,
      windowEnd: w.releasedAt,
      walLsn: w.lsn,
      held: w.held.get(p) ?? 0,
      rejected: w.rejected.get(p) ?? 0,
      windowMs,
    });
    await manifest.record(entry);
    const recorded = manifest.manifest.partitions.find((x) => x.partition === entry.partition);
    if (recorded) await withClient(opts.pool, (c) => recordRunPartition(c, runId, recorded));
    const good = o.status === 'good';
    const label = m ? m.partition(p) : p;
    if (good && o.status === 'good') {
      m?.backupDuration.labels(label).observe(o.dump.durationMs / 1000);
      m?.backupBytes.labels(label).set(o.dump.bytes);
      m?.backupLastSuccess.labels(label).set(Date.now() / 1000);
    } else {
      m?.backupFailures.labels(label).inc();
    }
    opts.onProgress?.(p, o.status);
    results.push({
      partition: p,
      group: group.name,
      status: o.status,
      reason: o.status === 'good' ? null : o.reason,
      rows: o.status === 'good' ? o.checksum.rows : null,
      bytes: o.status === 'good' ? o.dump.bytes : null,
      held: w.held.get(p) ?? 0,
      rejected: w.rejected.get(p) ?? 0,
      windowMs,
      maxHoldMs: w.maxHoldMs,
      holdWaitsMs: w.holdWaitsMs,
      pinToFirstReleaseMs: w.pinToFirstReleaseMs,
    });
  }
  return results;
}

async function withClient<T>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    return await f(c);
  } finally {
    c.release();
  }
}

/** Run f over items with at most `limit` at once. */
async function mapLimit<T>(items: readonly T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await f(item);
    }
  });
  await Promise.all(workers);
}
