import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { pgTool } from '../localdb/binaries.js';
import { silentLogger, type Logger } from '../util/log.js';
import { checksumTable } from './checksum.js';
import { sha256File } from './files.js';
import { readManifest, type GoodPartition, type Manifest } from './manifest.js';
import { quoteIdent, quoteTable, type TableName } from './names.js';
import { childEnv, clientConfig, withDatabase, type PgTarget } from './pg-target.js';
import { failureReason, runTool, type ToolInvocation } from './run-tool.js';

export interface VerifyOptions {
  /** A server where scratch databases may be created; its `database` is used for CREATE/DROP DATABASE. */
  scratch: PgTarget;
  log?: Logger;
  signal?: AbortSignal;
  pgRestoreBin?: string;
}

export type VerdictStatus = 'ok' | 'mismatch' | 'error' | 'skipped';

export interface PartitionVerdict {
  partition: string;
  status: VerdictStatus;
  reason: string | null;
  expected: { rows: number | null; checksum: string | null; sha256: string | null };
  actual: { rows: number | null; checksum: string | null; sha256: string | null };
  durationMs: number;
}

export interface VerifyResult {
  runId: string;
  /** Every good artifact matched, and there was at least one. */
  ok: boolean;
  partitions: PartitionVerdict[];
}

export function pgRestoreArgs(database: string, file: string): string[] {
  return [
    `--dbname=${database}`,
    // A dump that cannot restore cleanly is not a good backup; the first error is the reason.
    '--exit-on-error',
    // Roles and grants of the source need not exist on the scratch server; verify checks the data.
    '--no-owner',
    '--no-acl',
    '--no-password',
    file,
  ];
}

/** Scratch database names: recognisable (a crashed verify leaves an obvious leftover) and unique. */
export function scratchDatabaseName(): string {
  return `quietcut_verify_${randomBytes(6).toString('hex')}`;
}

async function withClient<T>(target: PgTarget, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(clientConfig(target, 'quietcut-verify'));
  c.on('error', () => undefined); // errors surface through the pending query
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/**
 * A scratch database shared by the foreign members of a cross-server run: each remote table is
 * restored as a plain table and moved into a schema named `<server>.<remote schema>`, so tables of
 * the same name on two shards (with their indexes and sequences) land side by side, and the run
 * reads back as one database.
 */
interface SharedScratch {
  db: string;
}

async function verifyPartition(runDir: string, p: GoodPartition, opts: VerifyOptions, log: Logger, shared?: SharedScratch): Promise<PartitionVerdict> {
  const started = performance.now();
  const v: PartitionVerdict = {
    partition: p.partition,
    status: 'ok',
    reason: null,
    expected: { rows: p.rows, checksum: p.checksum, sha256: p.sha256 },
    actual: { rows: null, checksum: null, sha256: null },
    durationMs: 0,
  };
  const done = (status: VerdictStatus, reason: string | null): PartitionVerdict => {
    v.status = status;
    v.reason = reason;
    v.durationMs = performance.now() - started;
    return v;
  };
  const file = resolve(join(runDir, p.file));
  try {
    const st = await stat(file);
    if (!st.isFile()) return done('error', `${p.file} is not a regular file`);
  } catch {
    return done('error', `artifact ${p.file} is missing`);
  }
  v.actual.sha256 = await sha256File(file);
  // A changed file is reported without spending a restore on it.
  if (v.actual.sha256 !== p.sha256) return done('mismatch', 'sha256 of the artifact differs from the manifest');

  const db = shared?.db ?? scratchDatabaseName();
  const admin = opts.scratch;
  try {
    if (!shared) await withClient(admin, (c) => c.query(`CREATE DATABASE ${quoteIdent(db)} TEMPLATE template0`));
    const target = withDatabase(admin, db);
    // pg_dump -t never emits CREATE SCHEMA; the schemas the tables live in are created first.
    const schemas = [...new Set(p.tables.map((t) => t.schema))].filter((s) => s !== 'public');
    if (schemas.length > 0) await withClient(target, async (c) => {
      for (const s of schemas) await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`);
    });
    const inv: ToolInvocation = { bin: opts.pgRestoreBin ?? pgTool('pg_restore'), args: pgRestoreArgs(db, file), env: childEnv(target) };
    const r = await runTool(inv, opts.signal);
    if (r.aborted) return done('error', 'aborted');
    if (r.code !== 0) return done('error', `pg_restore failed: ${failureReason(r, 'pg_restore')}`);
    const table = shared && p.remoteTable && p.server ? await moveToServerSchema(target, p.server, p.remoteTable) : p.table;
    const sum = await withClient(target, (c) => checksumTable(c, table));
    v.actual.rows = sum.rows;
    v.actual.checksum = sum.checksum;
    if (sum.algorithm !== p.checksumAlgorithm) return done('error', `manifest checksum algorithm ${p.checksumAlgorithm} is not supported (have ${sum.algorithm})`);
    const problems: string[] = [];
    if (sum.rows !== p.rows) problems.push(`rows ${sum.rows} != ${p.rows}`);
    if (sum.checksum !== p.checksum) problems.push('content checksum differs');
    return problems.length ? done('mismatch', problems.join('; ')) : done('ok', null);
  } catch (err) {
    return done('error', err instanceof Error ? err.message : String(err));
  } finally {
    if (!shared) await dropScratch(admin, db, log);
  }
}

async function dropScratch(admin: PgTarget, db: string, log: Logger): Promise<void> {
  await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${quoteIdent(db)} WITH (FORCE)`)).catch((err: unknown) =>
    log.warn({ err, database: db }, 'could not drop scratch database'),
  );
}

/**
 * Move a restored remote table out of the way of the next shard's: SET SCHEMA carries its indexes,
 * constraints and owned sequences along, whose names would collide as well.
 */
async function moveToServerSchema(target: PgTarget, server: string, remote: TableName): Promise<TableName> {
  const moved = { schema: `${server}.${remote.schema}`, name: remote.name };
  await withClient(target, async (c) => {
    await c.query('BEGIN');
    await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(moved.schema)}`);
    await c.query(`ALTER TABLE ${quoteTable(remote)} SET SCHEMA ${quoteIdent(moved.schema)}`);
    await c.query('COMMIT');
  });
  return moved;
}

function skipped(p: Manifest['partitions'][number], reason: string): PartitionVerdict {
  return {
    partition: p.partition,
    status: 'skipped',
    reason,
    expected: { rows: p.rows, checksum: p.checksum, sha256: p.sha256 },
    actual: { rows: null, checksum: null, sha256: null },
    durationMs: 0,
  };
}

/**
 * Restore every good artifact of a run into a scratch database of its own and compare file hash,
 * row count and content checksum with the manifest. Failed, aborted and pruned partitions are
 * listed as skipped: they never claimed to be a backup.
 */
export async function verifyRun(runDir: string, opts: VerifyOptions): Promise<VerifyResult> {
  const log = opts.log ?? silentLogger;
  const manifest = await readManifest(runDir);
  const partitions: PartitionVerdict[] = [];
  // Remote tables dumped as plain tables (no ancestors on their shard) share one scratch database.
  const sharable = (p: GoodPartition): boolean => p.server !== undefined && p.remoteTable !== undefined && p.tables.length === 1;
  let shared: SharedScratch | undefined;
  try {
    for (const p of manifest.partitions) {
      if (p.status !== 'good') partitions.push(skipped(p, `backup ${p.status}: ${p.reason}`));
      else if (p.prunedAt !== null) partitions.push(skipped(p, `artifact removed by retention at ${p.prunedAt}`));
      else {
        if (sharable(p) && !shared) {
          const db = scratchDatabaseName();
          await withClient(opts.scratch, (c) => c.query(`CREATE DATABASE ${quoteIdent(db)} TEMPLATE template0`));
          shared = { db };
        }
        const verdict = await verifyPartition(runDir, p, opts, log, sharable(p) ? shared : undefined);
        log.info({ partition: p.partition, status: verdict.status, reason: verdict.reason }, 'verified');
        partitions.push(verdict);
      }
    }
  } finally {
    if (shared) await dropScratch(opts.scratch, shared.db, log);
  }
  const checked = partitions.filter((p) => p.status !== 'skipped');
  return { runId: manifest.runId, ok: checked.length > 0 && checked.every((p) => p.status === 'ok'), partitions };
}
