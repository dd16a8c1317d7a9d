import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type pg from 'pg';
import {
  artifactName,
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
  type ManifestCut,
  type PgTarget,
  type TableName,
} from '../backup/index.js';
import type { Config } from '../config/schema.js';
import { HEARTBEAT_MS, retrying, startHeartbeat } from '../store/liveness.js';
import type { Metrics } from '../metrics/registry.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { WindowGate } from '../windows/gate.js';
import { groupPartitions, type Group } from '../windows/groups.js';
import { preparePin, type PreparedPin } from '../windows/pin.js';
import { sharedWindowKey, type WindowCoordination } from '../windows/coordination.js';
import { FRONTED_SERVER, type MemberLocation } from '../windows/servers.js';
import { GroupWindow, type Pin, type PreparePin, type ReleaseRule, type WindowMode, type WindowOutcome } from '../windows/window.js';

export interface BackupRunOptions {
  /** schema-qualified leaves to back up */
  partitions: readonly string[];
  /** leaf → its root table (for `table` consistency groups) */
  rootOf: (partition: string) => string;
  /**
   * leaf → its (schema, name) from the catalog. A name may hold a dot (`public."a.b"` is shown as
   * public.a.b), so the display key is never split again when the catalog knows the pair.
   */
  tableOf?: (partition: string) => TableName;
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
  /**
   * Members that live on foreign servers (postgres_fdw): where each is dumped from, and one target
   * per foreign server (see servers.ts). Partitions not listed are on the fronted server (`target`).
   */
  foreign?: { locations: ReadonlyMap<string, MemberLocation>; targets: ReadonlyMap<string, PgTarget> };
  /** Several nodes: every live node holds each window, this one pins and dumps (coordination.ts). */
  coordination?: WindowCoordination;
  /**
   * The fronted cluster's identity (pg_control_system().system_identifier): it scopes run ids and
   * retention, so deployments sharing a backup directory never prune each other's runs.
   */
  systemIdentifier?: string;
  /** How a server's snapshot export is opened; default pin.ts. Tests put faults here. */
  preparePin?: (server: string, target: PgTarget, signal: AbortSignal) => Promise<PreparedPin>;
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
  const { runId, runDir } = await claimRunDir(cfg.backup.dir);
  const source = { host: opts.target.host, port: opts.target.port, database: opts.target.database, ...(opts.systemIdentifier ? { systemIdentifier: opts.systemIdentifier } : {}) };
  const manifest = new RunManifest(runDir, newManifest({ runId, node: opts.node, trigger: opts.trigger, source }));
  try {
    await manifest.start();
    await withClient(opts.pool, (c) => recordRunStarted(c, { runId, trigger: opts.trigger, node: opts.node, dir: runDir }));
  } catch (err) {
    // Nothing was held yet: leave no record that says running.
    await rm(runDir, { recursive: true, force: true });
    throw err;
  }
  const beat = startHeartbeat(opts.pool, 'UPDATE quietcut.runs SET heartbeat_at = now() WHERE run_id = $1', [runId], HEARTBEAT_MS);
  log.info({ runId, partitions: opts.partitions.length }, 'backup run started');

  const results: PartitionResult[] = [];
  let failure: string | null = null;
  try {
    const groups = groupPartitions(opts.partitions, cfg.windows.groups, opts.rootOf);
    for (const group of groups) {
      results.push(...(await runGroup(group, opts, runDir, runId, manifest, log)));
    }
  } catch (err) {
    // Bookkeeping failed mid-run (the database restarted, the disk filled): the run still ends.
    failure = err instanceof Error ? err.message : String(err);
    log.error({ runId, err }, 'backup run failed');
  } finally {
    beat();
  }
  const status = await finishRun(opts, runId, manifest, results, failure, log);
  try {
    await applyRetention(cfg.backup.dir, { keep: cfg.backup.keepRuns, log, scope: source });
  } catch (err) {
    log.warn({ err }, 'retention failed; old runs kept');
  }
  log.info({ runId, status }, 'backup run finished');
  return { runId, runDir, status, partitions: results };
}

/** A new run directory, created exclusively: two deployments sharing backup.dir never share a run. */
async function claimRunDir(dir: string): Promise<{ runId: string; runDir: string }> {
  await mkdir(resolve(dir), { recursive: true, mode: 0o700 });
  for (let attempt = 0; ; attempt++) {
    const runId = newRunId();
    const runDir = resolve(join(dir, runId));
    try {
      await mkdir(runDir, { mode: 0o700 });
      return { runId, runDir };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 20) throw err;
    }
  }
}

/**
 * End the run whatever happened: every asked-for partition has an entry (failed when it never got
 * one), the manifest is final, and the runs table says so, retried across a PostgreSQL restart.
 */
async function finishRun(opts: BackupRunOptions, runId: string, manifest: RunManifest, results: PartitionResult[], failure: string | null, log: Logger): Promise<'good' | 'failed' | 'aborted'> {
  const done = new Set(results.map((r) => r.partition));
  for (const p of opts.partitions) {
    if (done.has(p)) continue;
    const reason = failure ?? 'the run ended before this partition was backed up';
    results.push({ partition: p, group: p, status: 'failed', reason, rows: null, bytes: null, held: 0, rejected: 0, windowMs: null, maxHoldMs: 0, holdWaitsMs: [], pinToFirstReleaseMs: null });
    try {
      const t = opts.tableOf?.(p) ?? parseTableName(p);
      await manifest.record(manifestEntry(t, { status: 'failed', reason }, { group: p, snapshotId: null, cutAt: null, windowStart: null, windowEnd: null, walLsn: null, held: 0, rejected: 0, windowMs: null }));
    } catch (err) {
      log.warn({ runId, partition: p, err }, 'could not record the partition in the manifest');
    }
  }
  await manifest.finish().catch((err: unknown) => log.error({ runId, err }, 'could not write the final manifest'));
  const m = manifest.manifest;
  const status = m.status === 'running' ? 'failed' : m.status;
  try {
    await retrying(
      () =>
        withClient(opts.pool, async (c) => {
          await c.query('BEGIN');
          try {
            for (const p of m.partitions) await recordRunPartition(c, runId, p);
            await recordRunFinished(c, runId, status, { partitions: results.length, ...(failure ? { error: failure } : {}) });
            await c.query('COMMIT');
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        }),
      undefined,
      (err, attempt) => log.warn({ runId, attempt, err: (err as Error).message }, 'recording the finished run failed; retrying'),
    );
  } catch (err) {
    // Left to reclaim: the heartbeat has stopped, so the row goes stale and is finished as aborted.
    log.error({ runId, err }, 'could not record the finished run');
  }
  return status;
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
  const captures: Array<Promise<CaptureOutcome>> = [];
  const tables = new Map<string, TableName>(group.partitions.map((p) => [p, opts.tableOf?.(p) ?? parseTableName(p)]));
  // Where each member's rows are: the fronted server, or a remote table on a foreign server.
  const location = (p: string): MemberLocation => opts.foreign?.locations.get(p) ?? { server: FRONTED_SERVER, table: tables.get(p)! };
  const targetOf = (server: string): PgTarget => (server === FRONTED_SERVER ? opts.target : opts.foreign?.targets.get(server)) ?? missingTarget(server);
  const byServer = new Map<string, string[]>();
  for (const p of group.partitions) {
    const s = location(p).server;
    byServer.set(s, [...(byServer.get(s) ?? []), p]);
  }
  const prepare = opts.preparePin ?? ((_server: string, target: PgTarget, signal: AbortSignal) => preparePin(target, signal));
  const pins = new Map<string, PreparePin>([...byServer.keys()].map((s) => [s, (signal: AbortSignal) => prepare(s, targetOf(s), signal)]));

  const coord = opts.coordination;
  const key = sharedWindowKey(runId, group.name);
  let ended: Promise<boolean> = Promise.resolve(true);
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
    preparePin: pins,
    dump: (serverPins, signal, locked) => dumpGroup(serverPins, signal, locked),
    ...(opts.metrics ? { metrics: opts.metrics } : {}),
    ...(coord
      ? {
          beforeHold: () => coord.open({ key, runId, group: group.name, partitions: group.partitions, mode, release, budgetMs: maxHoldMs }),
          beforeCut: (signal: AbortSignal) => coord.othersDrained(key, signal),
          onRelease: (aborted: boolean, reason: string | null) => {
            ended = coord.end(key, aborted ? 'aborted' : 'released', reason).catch((err: unknown) => {
              log.warn({ err }, 'could not tell the other nodes the window ended; they release at its budget');
              return !aborted;
            });
          },
        }
      : {}),
    log,
  });
  async function dumpGroup(serverPins: ReadonlyMap<string, Pin>, signal: AbortSignal, locked: () => void): Promise<void> {
    for (const p of group.partitions) opts.onProgress?.(p, 'dumping');
    // The fence against statements that are not MVCC-safe lifts once every member's dump and
    // checksum hold their locks, or have finished (a finished artifact is safe from them).
    const unlocked = new Set(group.partitions);
    const memberSafe = (p: string): void => {
      if (unlocked.delete(p) && unlocked.size === 0) locked();
    };
    // Each server dumps its own members in its own snapshot, at most maxConcurrentDumps at once
    // per server; servers run side by side.
    await Promise.all(
      [...byServer].map(([server, members]) =>
        mapLimit(members, cfg.backup.maxConcurrentDumps, async (p) => {
          const loc = location(p);
          const capture = capturePartition({
            target: targetOf(server),
            snapshotId: serverPins.get(server)!.snapshotId,
            partition: loc.table,
            // Named after the local leaf: remote tables on two shards may share a name.
            fileName: artifactName(tables.get(p)!),
            dir: runDir,
            compression: cfg.backup.compression,
            lockWaitTimeoutMs: cfg.backup.lockWaitTimeoutMs,
            signal,
            log,
            onLocked: () => memberSafe(p),
          });
          captures.push(capture);
          const o = await capture;
          memberSafe(p);
          outcomes.set(p, o);
          opts.onProgress?.(p, o.status);
          // The window's outcome is known now: it fails. Throwing ends the window at once
          // (held writes go, the other dumps are stopped) instead of after the slowest member.
          if (o.status !== 'good') throw new Error(`dump of ${p} failed: ${o.reason}`);
        }),
      ),
    );
  }
  for (const p of group.partitions) opts.onProgress?.(p, 'holding');
  let w: WindowOutcome = await window.run();
  // The window is over (writes released); the dumps it stopped still clean up their files.
  await Promise.allSettled(captures);
  // Another node gave up on the window before this one released (its budget ran out first): the
  // others may have admitted writes, so what was dumped is no cut.
  if (!(await ended) && w.state !== 'aborted') w = { ...w, state: 'aborted', reason: 'another node aborted the window before it was released' };
  if (w.state === 'aborted') {
    // Nothing half-good: a member dumped whole in a cut that failed (another server's dump died)
    // is not a backup, and a file with an artifact's name must never pass for one.
    for (const o of outcomes.values()) if (o.status === 'good') await rm(o.dump.file, { force: true });
  }

  if (w.cutAt && w.snapshots.size > 0) {
    const cuts: ManifestCut[] = [...w.snapshots].map(([server, s]) => {
      const t = targetOf(server);
      return { group: group.name, server, host: t.host, port: t.port, database: t.database, snapshotId: s.snapshotId, walLsn: s.lsn, cutAt: w.cutAt!.toISOString(), pinMs: s.pinMs };
    });
    await manifest.recordCuts(cuts);
    // The planner sizes future holds from these (a cross-server cut waits for its slowest server).
    await withClient(opts.pool, (c) =>
      c.query('INSERT INTO quietcut.pins (run_id, grp, server, pin_ms, drain_ms) SELECT $1, $2, s, m, $5 FROM unnest($3::text[], $4::float8[]) AS t(s, m)', [
        runId,
        group.name,
        cuts.map((x) => (x.server === FRONTED_SERVER ? 'local' : x.server)),
        cuts.map((x) => x.pinMs),
        w.drainMs,
      ]),
    ).catch((err: unknown) => log.warn({ err }, 'could not record pin times'));
  }

  const results: PartitionResult[] = [];
  const m = opts.metrics;
  for (const p of group.partitions) {
    const loc = location(p);
    const snap = w.snapshots.get(loc.server);
    let o: CaptureOutcome | { status: 'failed' | 'aborted'; reason: string } = outcomes.get(p) ?? { status: 'aborted', reason: w.reason ?? 'window aborted' };
    // A window that aborted never passes for a good backup, whatever its dumps did.
    if (w.state === 'aborted' && o.status === 'good') o = { status: 'aborted', reason: w.reason ?? 'window aborted' };
    const windowMs = w.releasedAt ? w.releasedAt.getTime() - w.startedAt.getTime() : null;
    const base = manifestEntry(tables.get(p)!, o, {
      group: group.name,
      snapshotId: snap?.snapshotId ?? null,
      cutAt: w.cutAt,
      windowStart: w.startedAt,
      windowEnd: w.releasedAt,
      walLsn: snap?.lsn ?? null,
      held: w.held.get(p) ?? 0,
      rejected: w.rejected.get(p) ?? 0,
      windowMs,
    });
    const entry = loc.server === FRONTED_SERVER ? base : { ...base, server: loc.server, remoteTable: { schema: loc.table.schema, name: loc.table.name } };
    await manifest.record(entry);
    const recorded = manifest.manifest.partitions.find((x) => x.partition === entry.partition);
    if (recorded) await withClient(opts.pool, (c) => recordRunPartition(c, runId, recorded));
    const good = o.status === 'good';
    const label = m ? m.partition(p) : p;
    if (good && o.status === 'good') {
      m?.backupDuration.labels(m.histogramPartition(p)).observe(o.dump.durationMs / 1000);
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

function missingTarget(server: string): never {
  throw new Error(`no connection for foreign server ${server}: set servers.${server}.url`);
}

async function withClient<T>(pool: pg.Pool, f: (c: pg.PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    return await f(c);
  } finally {
    c.release();
  }
}

/** Run f over items with at most `limit` at once; rejects at the first failure and starts no more. */
async function mapLimit<T>(items: readonly T[], limit: number, f: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && !failed) {
      const item = items[next++]!;
      try {
        await f(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  });
  await Promise.all(workers);
}
