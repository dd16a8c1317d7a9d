import { execFile } from 'node:child_process';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { pgTool } from '../localdb/binaries.js';
import { silentLogger, type Logger } from '../util/log.js';
import { createPrivateFile, DIR_MODE, fsyncDir, fsyncPath, sha256File } from './files.js';
import { artifactName, displayName, dumpPattern, quoteTable, type TableName } from './names.js';
import { childEnv, clientConfig, type PgTarget } from './pg-target.js';
import { failureReason, runTool, type ToolInvocation } from './run-tool.js';

export interface DumpPartitionOptions {
  target: PgTarget;
  /** From pg_export_snapshot(); the exporting transaction must stay open until this returns. */
  snapshotId: string;
  partition: TableName;
  /**
   * Partitioned ancestors of the leaf, root first. Looked up when absent. They are dumped with the
   * leaf because --load-via-partition-root makes the COPY target the root: without its CREATE TABLE
   * the artifact would not restore on its own. A partitioned table holds no rows itself, so this
   * adds no other partition's data. The price: pg_dump 15 locks the root without ONLY, which
   * recurses, so the dump holds ACCESS SHARE on every partition of the tree while it runs, and a
   * conflicting lock on any sibling makes it fail after lockWaitTimeoutMs (never hang).
   */
  ancestors?: readonly TableName[];
  /** The run directory; created (0700) when missing. */
  dir: string;
  /** File name inside `dir`; default `<schema>.<partition>.dump`. */
  fileName?: string;
  /** pg_dump -Z level (0-9). */
  compression: number;
  lockWaitTimeoutMs: number;
  signal?: AbortSignal;
  log?: Logger;
  /** pg_dump binary; default pgTool('pg_dump'). */
  pgDumpBin?: string;
  /** application_name of pg_dump's session (PGAPPNAME), so its locks can be found in pg_locks. */
  applicationName?: string;
}

export interface DumpResult {
  /** Absolute path of the finished artifact. */
  file: string;
  fileName: string;
  bytes: number;
  sha256: string;
  durationMs: number;
  pgDumpVersion: string;
  /** What went into the artifact: ancestors root first, then the leaf. */
  tables: TableName[];
}

/** A dump that produced no artifact; `aborted` when the caller's signal stopped it. */
export class DumpError extends Error {
  constructor(
    readonly partition: string,
    readonly reason: string,
    readonly aborted: boolean,
    readonly durationMs: number,
  ) {
    super(`pg_dump of ${partition} ${aborted ? 'aborted' : 'failed'}: ${reason}`);
    this.name = 'DumpError';
  }
}

export interface PgDumpArgsInput {
  snapshotId: string;
  tables: readonly TableName[];
  compression: number;
  lockWaitTimeoutMs: number;
  outFile: string;
}

/**
 * pg_dump's argument list. Connection settings are absent on purpose: they travel in PG* variables
 * (see childEnv), so the list is safe to log and to show in `ps`.
 */
export function pgDumpArgs(i: PgDumpArgsInput): string[] {
  if (!/^[0-9A-Fa-f-]+$/.test(i.snapshotId)) throw new Error(`not a snapshot id: ${JSON.stringify(i.snapshotId)}`);
  if (!Number.isInteger(i.compression) || i.compression < 0 || i.compression > 9) throw new Error(`compression must be 0-9, got ${i.compression}`);
  if (!Number.isInteger(i.lockWaitTimeoutMs) || i.lockWaitTimeoutMs <= 0) throw new Error(`lockWaitTimeoutMs must be a positive integer, got ${i.lockWaitTimeoutMs}`);
  if (!isAbsolute(i.outFile)) throw new Error('pg_dump output path must be absolute'); // never mistaken for an option
  const args = [
    '--format=custom',
    `--compress=${i.compression}`,
    `--snapshot=${i.snapshotId}`,
    `--lock-wait-timeout=${i.lockWaitTimeoutMs}`,
    '--load-via-partition-root',
    // A pattern that matches nothing must fail the dump, not yield an empty "good" artifact.
    '--strict-names',
    '--no-password',
    `--file=${i.outFile}`,
  ];
  for (const t of i.tables) args.push(`--table=${dumpPattern(t)}`);
  return args;
}

export function pgDumpInvocation(opts: DumpPartitionOptions, tables: readonly TableName[], outFile: string): ToolInvocation {
  const args = pgDumpArgs({ snapshotId: opts.snapshotId, tables, compression: opts.compression, lockWaitTimeoutMs: opts.lockWaitTimeoutMs, outFile });
  const env = childEnv(opts.target);
  if (opts.applicationName !== undefined) env.PGAPPNAME = opts.applicationName;
  return { bin: opts.pgDumpBin ?? pgTool('pg_dump'), args, env };
}

const versions = new Map<string, Promise<string>>();

/** `pg_dump (PostgreSQL) 15.18 (Debian 15.18-1.pgdg120+1)`, as the tool prints it; cached per binary. */
export function toolVersion(bin: string): Promise<string> {
  let v = versions.get(bin);
  if (!v) {
    v = promisify(execFile)(bin, ['--version'], { encoding: 'utf8' }).then((r) => r.stdout.trim());
    v.catch(() => versions.delete(bin));
    versions.set(bin, v);
  }
  return v;
}

/** Partitioned ancestors of `leaf`, root first; empty for a plain table or a root. */
export async function partitionAncestors(client: pg.ClientBase, leaf: TableName): Promise<TableName[]> {
  const { rows } = await client.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name
       FROM pg_partition_ancestors($1::regclass) WITH ORDINALITY AS a(relid, depth)
       JOIN pg_class c ON c.oid = a.relid
       JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE a.relid <> $1::regclass
      ORDER BY a.depth DESC`,
    [quoteTable(leaf)],
  );
  return rows.map((r) => ({ schema: r.schema, name: r.name }));
}

async function lookUpAncestors(target: PgTarget, leaf: TableName): Promise<TableName[]> {
  const client = new pg.Client(clientConfig(target));
  client.on('error', () => undefined); // errors surface through the pending query
  await client.connect();
  try {
    return await partitionAncestors(client, leaf);
  } finally {
    await client.end();
  }
}

/**
 * Dump one leaf partition as it was in the pinned snapshot: written to `<file>.partial` (0600),
 * synced, and renamed only when pg_dump succeeded, so a file with the final name is always whole.
 * Throws DumpError (after removing the partial file) when pg_dump fails or `signal` aborts it.
 */
export async function dumpPartition(opts: DumpPartitionOptions): Promise<DumpResult> {
  const log = opts.log ?? silentLogger;
  const started = performance.now();
  const name = displayName(opts.partition);
  const dir = resolve(opts.dir);
  const fileName = opts.fileName ?? artifactName(opts.partition);
  const file = join(dir, fileName);
  const partial = `${file}.partial`;
  const elapsed = (): number => performance.now() - started;

  let tables: TableName[];
  let inv: ToolInvocation;
  let version: string;
  try {
    const ancestors = opts.ancestors ? [...opts.ancestors] : await lookUpAncestors(opts.target, opts.partition);
    tables = [...ancestors, opts.partition];
    inv = pgDumpInvocation(opts, tables, partial);
    version = await toolVersion(inv.bin);
    await mkdir(dir, { recursive: true, mode: DIR_MODE });
    // pg_dump truncates an existing file and keeps its mode: created here, it is 0600 from the start.
    await createPrivateFile(partial);
  } catch (err) {
    throw new DumpError(name, err instanceof Error ? err.message : String(err), opts.signal?.aborted ?? false, elapsed());
  }

  log.info({ partition: name, snapshot: opts.snapshotId, tables: tables.map(displayName), args: inv.args }, 'pg_dump starting');
  let result;
  try {
    result = await runTool(inv, opts.signal);
  } catch (err) {
    await rm(partial, { force: true });
    throw new DumpError(name, `cannot run pg_dump: ${err instanceof Error ? err.message : String(err)}`, false, elapsed());
  }
  if (result.aborted || result.code !== 0) {
    await rm(partial, { force: true });
    const reason = result.aborted ? `aborted${opts.signal?.reason instanceof Error ? `: ${opts.signal.reason.message}` : ''}` : failureReason(result, 'pg_dump');
    log.warn({ partition: name, reason, aborted: result.aborted }, 'pg_dump failed; partial file removed');
    throw new DumpError(name, reason, result.aborted, elapsed());
  }

  try {
    // The abort may arrive after pg_dump exited but before the artifact is published.
    if (opts.signal?.aborted) throw new DumpError(name, 'aborted', true, elapsed());
    await fsyncPath(partial);
    const [bytes, sha256] = await Promise.all([stat(partial).then((s) => s.size), sha256File(partial)]);
    await rename(partial, file);
    await fsyncDir(dir);
    const durationMs = elapsed();
    log.info({ partition: name, bytes, durationMs: Math.round(durationMs) }, 'pg_dump done');
    return { file, fileName, bytes, sha256, durationMs, pgDumpVersion: version, tables };
  } catch (err) {
    await rm(partial, { force: true });
    if (err instanceof DumpError) throw err;
    throw new DumpError(name, err instanceof Error ? err.message : String(err), false, elapsed());
  }
}
