import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { pgTool } from '../localdb/binaries.js';
import type { GoodPartition, Manifest } from './manifest.js';
import { quoteIdent, quoteTable, type TableName } from './names.js';
import { childEnv, clientConfig, type PgTarget } from './pg-target.js';
import { failureReason, runTool } from './run-tool.js';

/**
 * Restore partitions of a run, safely:
 *
 * - where the leaf does not exist (a scratch or other database), the artifact restores whole: its
 *   schemas first (pg_dump -t never writes CREATE SCHEMA), then tables, sequences and rows;
 * - where it exists (the live database), only its rows are loaded, and only into an empty leaf,
 *   unless `replace`, which truncates the leaf in the same transaction. Sequence values are never
 *   replayed there: the live sequence is shared by the whole table and only moves forward, so
 *   setting it back to the backup's value would hand out ids again.
 */

export interface RestoreOptions {
  target: PgTarget;
  replace?: boolean;
  pgRestoreBin?: string;
  psqlBin?: string;
}

export interface RestoreOutcome {
  partition: string;
  /** full: tables created and loaded; data: rows loaded into the existing (empty or truncated) leaf */
  mode: 'full' | 'data';
  rowsBefore: number | null;
  rowsAfter: number;
  /** Rows the manifest says the backup holds. */
  rowsInBackup: number;
}

export class RestoreRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefused';
  }
}

async function withClient<T>(target: PgTarget, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(clientConfig(target, 'quietcut-restore'));
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function leafRows(c: pg.Client, t: TableName): Promise<number | null> {
  const { rows } = await c.query<{ oid: string | null }>('SELECT to_regclass($1)::text AS oid', [quoteTable(t)]);
  if (rows[0]?.oid === null || rows[0]?.oid === undefined) return null;
  const n = await c.query<{ n: string }>(`SELECT count(*)::text AS n FROM ONLY ${quoteTable(t)}`);
  return Number(n.rows[0]!.n);
}

/** The partitions of a manifest to restore: every good one, or the named ones (each must be good). */
export function restorable(m: Manifest, partitions: readonly string[] | null): GoodPartition[] {
  const good = m.partitions.filter((p): p is GoodPartition => p.status === 'good' && p.prunedAt === null);
  if (!partitions) {
    if (good.length === 0) throw new RestoreRefused(`run ${m.runId} has no good partition to restore`);
    return good;
  }
  return partitions.map((name) => {
    const p = m.partitions.find((x) => x.partition === name);
    if (!p) throw new RestoreRefused(`run ${m.runId} has no partition ${name} (it has ${m.partitions.map((x) => x.partition).join(', ') || 'none'})`);
    if (p.status !== 'good') throw new RestoreRefused(`partition ${name} in run ${m.runId} is ${p.status}${p.reason ? ` (${p.reason})` : ''}: it is no backup`);
    if (p.prunedAt !== null) throw new RestoreRefused(`the artifact of ${name} in run ${m.runId} was removed by retention at ${p.prunedAt}`);
    return p as GoodPartition;
  });
}

export async function restorePartition(runDir: string, p: GoodPartition, opts: RestoreOptions): Promise<RestoreOutcome> {
  const file = resolve(join(runDir, p.file));
  const leaf = p.table;
  const before = await withClient(opts.target, (c) => leafRows(c, leaf));
  if (before === null) {
    await withClient(opts.target, async (c) => {
      for (const s of new Set(p.tables.map((t) => t.schema))) await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(s)}`);
    });
    const r = await runTool({
      bin: opts.pgRestoreBin ?? pgTool('pg_restore'),
      args: [`--dbname=${opts.target.database}`, '--exit-on-error', '--single-transaction', '--no-owner', '--no-acl', '--no-password', file],
      env: childEnv(opts.target),
    });
    if (r.code !== 0) throw new Error(`pg_restore of ${p.partition} failed: ${failureReason(r, 'pg_restore')}`);
    const after = await withClient(opts.target, (c) => leafRows(c, leaf));
    return { partition: p.partition, mode: 'full', rowsBefore: null, rowsAfter: after ?? 0, rowsInBackup: p.rows };
  }
  if (before > 0 && !opts.replace) {
    throw new RestoreRefused(
      `${p.partition} in database ${opts.target.database} has ${before} rows: restoring would add the backup's ${p.rows} to them. Restore into another database (--into URL), or pass --replace to empty the partition first (in the same transaction)`,
    );
  }
  await loadRowsOnly(file, leaf, opts);
  const after = await withClient(opts.target, (c) => leafRows(c, leaf));
  return { partition: p.partition, mode: 'data', rowsBefore: before, rowsAfter: after ?? 0, rowsInBackup: p.rows };
}

/**
 * The artifact's rows only (its TABLE DATA entries; no SEQUENCE SET, no DDL), piped from
 * pg_restore into psql as one transaction that truncates the leaf first: either the leaf holds
 * exactly the backup's rows afterwards, or nothing changed.
 */
async function loadRowsOnly(file: string, leaf: TableName, opts: RestoreOptions): Promise<void> {
  const env = childEnv(opts.target);
  const bin = opts.pgRestoreBin ?? pgTool('pg_restore');
  const toc = await runTool({ bin, args: ['--list', file], env });
  if (toc.code !== 0) throw new Error(`pg_restore --list failed: ${failureReason(toc, 'pg_restore')}`);
  const data = toc.stdout.split('\n').filter((l) => /^\d+;/.test(l) && / TABLE DATA /.test(l));
  if (data.length === 0) throw new Error(`${file} holds no table data`);
  const dir = await mkdtemp(join(tmpdir(), 'quietcut-restore-'));
  try {
    const list = join(dir, 'data.list');
    await writeFile(list, `${data.join('\n')}\n`, { mode: 0o600 });
    await new Promise<void>((resolvePipe, reject) => {
      const restore = spawn(bin, ['--data-only', '--no-owner', '--no-acl', `--use-list=${list}`, '--file=-', file], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      const psql = spawn(opts.psqlBin ?? pgTool('psql'), ['-X', '-q', '--no-password', '--single-transaction', '-v', 'ON_ERROR_STOP=1', '-d', opts.target.database], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      let errors = '';
      restore.stderr.on('data', (d: Buffer) => (errors += d.toString()));
      psql.stderr.on('data', (d: Buffer) => (errors += d.toString()));
      restore.on('error', reject);
      psql.on('error', reject);
      const exited = (c: ReturnType<typeof spawn>): Promise<number | null> => new Promise((r) => c.once('close', (code: number | null) => r(code)));
      psql.stdin.on('error', () => undefined);
      psql.stdin.write(`TRUNCATE ONLY ${quoteTable(leaf)};\n`);
      // psql's input ends only when pg_restore succeeded: at the end of its input psql commits, so a
      // pg_restore that failed midway kills psql instead, and its transaction rolls back.
      restore.stdout.pipe(psql.stdin, { end: false });
      const restored = exited(restore).then((code) => {
        if (code === 0) psql.stdin.end();
        else psql.kill('SIGTERM');
        return code;
      });
      void Promise.all([restored, exited(psql)]).then(([rc, pc]) => {
        if (rc === 0 && pc === 0) resolvePipe();
        else reject(new Error(`restoring the rows of ${quoteTable(leaf)} failed, nothing changed: ${errors.trim().split('\n').slice(0, 5).join(' | ') || `pg_restore exited with ${String(rc)}, psql with ${String(pc)}`}`));
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
