import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { pgTool } from '../../src/localdb/binaries.js';
import type { LocalCluster } from '../../src/localdb/cluster.js';
import { freshId } from './writers.js';

const run = promisify(execFile);

/**
 * Writers for cross-server cuts, through quietcut into table `xw` whose partition p=1 lives on
 * shard 1 and p=2 on shard 2. Each write records when its visibility-making message (the
 * autocommit INSERT or the COMMIT) was sent and when it was acknowledged.
 */
export interface XWrite {
  id: number;
  p: number;
  /** transaction id shared by the two rows of one transaction */
  tx: number | null;
  /** for B of a causal pair: A's id */
  ref: number | null;
  sentAt: number;
  ackAt: number | null;
  error: string | null;
}

export type XWriterKind = 'transaction' | 'causal';

export class XWriter {
  readonly records: XWrite[] = [];
  private stopped = false;
  done: Promise<void> = Promise.resolve();

  constructor(
    readonly kind: XWriterKind,
    private readonly url: string,
    private readonly table = 'xw',
  ) {}

  start(): void {
    this.done = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  private rec(p: number, tx: number | null, ref: number | null): XWrite {
    const r: XWrite = { id: freshId(), p, tx, ref, sentAt: 0, ackAt: null, error: null };
    this.records.push(r);
    return r;
  }

  private async run(): Promise<void> {
    const c = new pg.Client({ connectionString: this.url });
    c.on('error', () => undefined);
    await c.connect();
    const ins = `insert into ${this.table} (id, p, tx, ref) values ($1, $2, $3, $4)`;
    try {
      while (!this.stopped) {
        if (this.kind === 'transaction') {
          const tx = freshId();
          const a = this.rec(1, tx, null);
          const b = this.rec(2, tx, null);
          try {
            await c.query('begin');
            await c.query(ins, [a.id, 1, tx, null]);
            await c.query(ins, [b.id, 2, tx, null]);
            a.sentAt = b.sentAt = performance.now();
            await c.query('commit');
            a.ackAt = b.ackAt = performance.now();
          } catch (err) {
            a.error = b.error = (err as { code?: string }).code ?? String(err);
            await c.query('rollback').catch(() => undefined);
          }
        } else {
          // A on shard 1, acknowledged, and only then B on shard 2 naming A.
          const a = this.rec(1, null, null);
          try {
            a.sentAt = performance.now();
            await c.query(ins, [a.id, 1, null, null]);
            a.ackAt = performance.now();
          } catch (err) {
            a.error = (err as { code?: string }).code ?? String(err);
            continue;
          }
          const b = this.rec(2, null, a.id);
          try {
            b.sentAt = performance.now();
            await c.query(ins, [b.id, 2, null, a.id]);
            b.ackAt = performance.now();
          } catch (err) {
            b.error = (err as { code?: string }).code ?? String(err);
          }
        }
      }
    } finally {
      await c.end().catch(() => undefined);
    }
  }
}

export interface CutViolation {
  kind: 'torn-transaction' | 'b-without-a' | 'acked-before-missing' | 'held-present';
  id: number;
}

export interface CutCheck {
  violations: CutViolation[];
  /** transactions wholly in / wholly out, causal pairs seen, for "the check had something to check". */
  txIn: number;
  txOut: number;
  pairsIn: number;
}

/**
 * The one checker for both the windowed backup and the negative control: `rows` are the ids (with
 * their tx and ref) found in the restored backup of both shards. With a window (perf-clock start),
 * every write acknowledged before it must be present and every write whose visibility-making
 * message was sent after it must be absent (both with `marginMs` of slack for the clock conversion).
 */
export function checkCut(records: readonly XWrite[], rows: ReadonlyMap<number, { tx: number | null; ref: number | null }>, window: { startMs: number; marginMs: number } | null): CutCheck {
  const violations: CutViolation[] = [];
  const byTx = new Map<number, number>();
  let txTotal = 0;
  for (const [, r] of rows) if (r.tx !== null) byTx.set(r.tx, (byTx.get(r.tx) ?? 0) + 1);
  for (const [tx, n] of byTx) if (n !== 2) violations.push({ kind: 'torn-transaction', id: tx });
  const txs = new Set(records.filter((r) => r.tx !== null && r.ackAt !== null).map((r) => r.tx!));
  txTotal = txs.size;
  let pairsIn = 0;
  for (const [id, r] of rows) {
    if (r.ref === null) continue;
    if (!rows.has(r.ref)) violations.push({ kind: 'b-without-a', id });
    else pairsIn++;
  }
  if (window) {
    for (const r of records) {
      if (r.ackAt !== null && r.ackAt < window.startMs - window.marginMs && !rows.has(r.id)) violations.push({ kind: 'acked-before-missing', id: r.id });
      if (r.sentAt > window.startMs + window.marginMs && rows.has(r.id)) violations.push({ kind: 'held-present', id: r.id });
    }
  }
  const txIn = [...byTx.values()].filter((n) => n === 2).length;
  return { violations, txIn, txOut: txTotal - txIn, pairsIn };
}

/** The rows of the shards' table (data.w_part) found in backup files, by id. */
export type ShardRows = Map<number, { tx: number | null; ref: number | null }>;

/** Restore each dump file into a scratch database of its own on `front` and read the rows of its `table` (default data.w_part). */
export async function restoreShardRows(front: LocalCluster, files: ReadonlyArray<string | { file: string; table: string }>): Promise<ShardRows> {
  const rows: ShardRows = new Map();
  for (const f of files) {
    const { file, table } = typeof f === 'string' ? { file: f, table: 'data.w_part' } : f;
    const db = `scratch_${freshId()}`;
    await front.query(`CREATE DATABASE ${db}`);
    try {
      await front.query('CREATE SCHEMA IF NOT EXISTS data', [], db);
      await run(pgTool('pg_restore'), ['-h', front.host, '-p', String(front.port), '-U', 'postgres', '-d', db, '--no-owner', '--exit-on-error', file]);
      const r = await front.query<{ id: string; tx: string | null; ref: string | null }>(`SELECT id::text, tx::text, ref::text FROM ${table}`, [], db);
      for (const x of r.rows) rows.set(Number(x.id), { tx: x.tx === null ? null : Number(x.tx), ref: x.ref === null ? null : Number(x.ref) });
    } finally {
      await front.query(`DROP DATABASE ${db} WITH (FORCE)`);
    }
  }
  return rows;
}

/** postgres_fdw on the front server: servers shard1 and shard2 for two shard clusters, mapped for postgres. */
export function shardServersSql(s1: LocalCluster, s2: LocalCluster): string {
  return `CREATE EXTENSION postgres_fdw;
     CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${s1.port}', dbname 'postgres');
     CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${s2.port}', dbname 'postgres');
     CREATE USER MAPPING FOR postgres SERVER shard1 OPTIONS (user 'postgres');
     CREATE USER MAPPING FOR postgres SERVER shard2 OPTIONS (user 'postgres');`;
}

/** Table xw in database demo of `front`: xw_0 local, xw_1 on shard 1 and xw_2 on shard 2 (each data.w_part there). */
export async function createShardedTable(front: LocalCluster, s1: LocalCluster, s2: LocalCluster): Promise<void> {
  for (const s of [s1, s2]) await s.query('CREATE SCHEMA data; CREATE TABLE data.w_part (id bigint PRIMARY KEY, p int NOT NULL, tx bigint, ref bigint);');
  await front.query(
    `${shardServersSql(s1, s2)}
     CREATE TABLE xw (id bigint NOT NULL, p int NOT NULL, tx bigint, ref bigint) PARTITION BY LIST (p);
     CREATE TABLE xw_0 PARTITION OF xw FOR VALUES IN (0);
     CREATE FOREIGN TABLE xw_1 PARTITION OF xw FOR VALUES IN (1) SERVER shard1 OPTIONS (schema_name 'data', table_name 'w_part');
     CREATE FOREIGN TABLE xw_2 PARTITION OF xw FOR VALUES IN (2) SERVER shard2 OPTIONS (schema_name 'data', table_name 'w_part');`,
    [],
    'demo',
  );
}
