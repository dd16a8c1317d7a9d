import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { checksumInSnapshot, type TableChecksum } from './checksum.js';
import { waitForLock } from './lock-watch.js';
import type { ManifestPartitionInput } from './manifest.js';
import { displayName, type TableName } from './names.js';
import { dumpPartition, DumpError, type DumpPartitionOptions, type DumpResult } from './pg-dump.js';

/**
 * What the windows engine calls once a snapshot is pinned: the dump and the in-snapshot checksum,
 * run side by side on connections of their own, and never a thrown error for a failed backup: the
 * outcome says good, failed or aborted, and `manifestEntry` turns it into the manifest's record.
 */
export type CaptureOutcome =
  | { status: 'good'; dump: DumpResult; checksum: TableChecksum }
  | { status: 'failed' | 'aborted'; reason: string; dumpMs: number | null; checksum: TableChecksum | null };

export interface CaptureOptions extends DumpPartitionOptions {
  /**
   * Called once both the dump and the checksum hold their ACCESS SHARE lock on the partition (seen
   * in pg_locks for the dump, taken explicitly by the checksum). Not called when either ends first.
   */
  onLocked?: () => void;
}

export async function capturePartition(opts: CaptureOptions): Promise<CaptureOutcome> {
  // Either half failing decides the outcome: the other is stopped at once rather than awaited, so
  // a window waiting on this capture (after-dump) releases its writes as soon as the dump dies.
  const stop = new AbortController();
  const onAbort = (): void => stop.abort(opts.signal?.reason);
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener('abort', onAbort, { once: true });
  const fail = <T>(p: Promise<T>): Promise<T> =>
    p.catch((err: unknown) => {
      stop.abort(err);
      throw err;
    });
  // A name of its own, so the dump's locks can be found in pg_locks (see lock-watch.ts).
  const applicationName = `quietcut-dump-${randomBytes(8).toString('hex')}`;
  const dumping = fail(dumpPartition({ ...opts, applicationName, signal: stop.signal }));
  let dumpLocked = false;
  let sumLocked = false;
  const locked = (): void => {
    if (dumpLocked && sumLocked) opts.onLocked?.();
  };
  if (opts.onLocked) {
    void waitForLock(opts.target, applicationName, opts.partition, { done: dumping, signal: stop.signal }).then((held) => {
      dumpLocked = held;
      locked();
    });
  }
  const summing = fail(
    checksumInSnapshot(opts.target, opts.snapshotId, opts.partition, {
      lockTimeoutMs: opts.lockWaitTimeoutMs,
      signal: stop.signal,
      onLocked: () => {
        sumLocked = true;
        locked();
      },
    }),
  );
  let dump: PromiseSettledResult<DumpResult>;
  let sum: PromiseSettledResult<TableChecksum>;
  try {
    const first = await Promise.race([dumping.then(() => null, (e: unknown) => ({ dumpFailed: e })), summing.then(() => null, () => null)]);
    if (first) {
      // The dump failed: the checksum was cancelled and its end is not waited for.
      summing.catch(() => undefined);
      dump = { status: 'rejected', reason: first.dumpFailed };
      sum = { status: 'rejected', reason: new Error('cancelled: the dump failed') };
    } else [dump, sum] = await Promise.allSettled([dumping, summing]);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
  if (sum.status === 'rejected' && dump.status === 'rejected' && !opts.signal?.aborted && dump.reason instanceof DumpError && dump.reason.aborted) {
    // The checksum failed first and the dump was stopped for it: the checksum's error is the reason.
    const e: unknown = sum.reason;
    return { status: 'failed', reason: `checksum in snapshot failed: ${e instanceof Error ? e.message : String(e)}`, dumpMs: dump.reason.durationMs, checksum: null };
  }
  if (dump.status === 'rejected') {
    const e: unknown = dump.reason;
    const aborted = e instanceof DumpError ? e.aborted : false;
    return {
      status: aborted ? 'aborted' : 'failed',
      reason: e instanceof Error ? (e instanceof DumpError ? e.reason : e.message) : String(e),
      dumpMs: e instanceof DumpError ? e.durationMs : null,
      checksum: sum.status === 'fulfilled' ? sum.value : null,
    };
  }
  if (sum.status === 'rejected') {
    // An artifact without its checksum cannot be verified: it is not a good backup.
    await rm(dump.value.file, { force: true });
    const e: unknown = sum.reason;
    return { status: 'failed', reason: `checksum in snapshot failed: ${e instanceof Error ? e.message : String(e)}`, dumpMs: dump.value.durationMs, checksum: null };
  }
  return { status: 'good', dump: dump.value, checksum: sum.value };
}

/** Facts about the window the backup belongs to; the windows engine knows them, backup does not. */
export interface WindowFacts {
  group: string;
  snapshotId: string | null;
  cutAt: Date | null;
  windowStart: Date | null;
  windowEnd: Date | null;
  /** pg_current_wal_lsn() read with the snapshot export. */
  walLsn: string | null;
  held: number;
  rejected: number;
  windowMs: number | null;
}

const isoOrNull = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function manifestEntry(partition: TableName, outcome: CaptureOutcome | { status: 'failed' | 'aborted'; reason: string }, w: WindowFacts): ManifestPartitionInput {
  const base = {
    partition: displayName(partition),
    table: { schema: partition.schema, name: partition.name },
    group: w.group,
    cutAt: isoOrNull(w.cutAt),
    windowStart: isoOrNull(w.windowStart),
    windowEnd: isoOrNull(w.windowEnd),
    snapshotId: w.snapshotId,
    walLsn: w.walLsn,
    held: w.held,
    rejected: w.rejected,
    prunedAt: null,
  };
  if (outcome.status === 'good') {
    const { dump, checksum } = outcome;
    return {
      ...base,
      status: 'good',
      reason: null,
      file: dump.fileName,
      tables: dump.tables,
      rows: checksum.rows,
      checksum: checksum.checksum,
      checksumAlgorithm: checksum.algorithm,
      bytes: dump.bytes,
      sha256: dump.sha256,
      pgDumpVersion: dump.pgDumpVersion,
      durations: { windowMs: w.windowMs, dumpMs: dump.durationMs, checksumMs: checksum.durationMs },
    };
  }
  const sum = 'checksum' in outcome ? outcome.checksum : null;
  return {
    ...base,
    status: outcome.status,
    reason: outcome.reason || 'unknown error',
    file: null,
    tables: [],
    rows: sum?.rows ?? null,
    checksum: sum?.checksum ?? null,
    checksumAlgorithm: sum?.algorithm ?? null,
    bytes: null,
    sha256: null,
    pgDumpVersion: null,
    durations: { windowMs: w.windowMs, dumpMs: 'dumpMs' in outcome ? outcome.dumpMs : null, checksumMs: sum?.durationMs ?? null },
  };
}
