import { execFile } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturePartition, manifestEntry, type WindowFacts } from '../src/backup/capture.js';
import { checksumInSnapshot, checksumTable } from '../src/backup/checksum.js';
import { sha256File } from '../src/backup/files.js';
import { newManifest, readManifest, RunManifest, writeManifest } from '../src/backup/manifest.js';
import { newRunId, type TableName } from '../src/backup/names.js';
import { DumpError, dumpPartition, partitionAncestors, pgDumpInvocation } from '../src/backup/pg-dump.js';
import { childEnv, targetFromUrl, withDatabase, type PgTarget } from '../src/backup/pg-target.js';
import { applyRetention } from '../src/backup/retention.js';
import { listRunPartitions, prepareRunsStore, recordRunFinished, recordRunPartition, recordRunStarted } from '../src/backup/runs-store.js';
import { verifyRun } from '../src/backup/verify.js';
import { pgTool } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { startTestCluster } from './helpers/pg.js';

const exec = promisify(execFile);
const PASSWORD = 'pw-Never-In-Argv-7f3a';

let cluster: LocalCluster;
let demo: PgTarget;
let work: string;

const eu: TableName = { schema: 'public', name: 'orders_eu' };
const us: TableName = { schema: 'public', name: 'orders_us' };
/** Two levels: sales."Ledger" (list) → sales.ledger_eu (range) → sales."ledger_eu_2026.q1" (leaf). */
const deepLeaf: TableName = { schema: 'sales', name: 'ledger_eu_2026.q1' };
const apac: TableName = { schema: 'sales', name: 'ledger_apac' };

/** An exported snapshot kept open (as the windows engine keeps it) while `fn` runs. */
async function inSnapshot<T>(fn: (snap: string, lsn: string) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: cluster.url('demo') });
  await c.connect();
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    const { rows } = await c.query<{ snap: string; lsn: string }>('SELECT pg_export_snapshot() AS snap, pg_current_wal_lsn()::text AS lsn');
    const r = rows[0]!;
    const out = await fn(r.snap, r.lsn);
    await c.query('COMMIT');
    return out;
  } finally {
    await c.end();
  }
}

async function restoreInto(file: string, database: string): Promise<void> {
  await cluster.query(`DROP DATABASE IF EXISTS "${database}"`);
  await cluster.query(`CREATE DATABASE "${database}" TEMPLATE template0`);
  await exec(pgTool('pg_restore'), ['--exit-on-error', '--no-owner', `--dbname=${database}`, file], { env: childEnv(withDatabase(demo, database)) });
}

async function count(sql: string, db: string): Promise<number> {
  const { rows } = await cluster.query<{ n: string }>(sql, [], db);
  return Number(rows[0]!.n);
}

const dumpDefaults = { compression: 1, lockWaitTimeoutMs: 5000 };

function facts(snap: string, lsn: string, group = 'p'): WindowFacts {
  const now = new Date();
  return { group, snapshotId: snap, cutAt: now, windowStart: now, windowEnd: now, walLsn: lsn, held: 0, rejected: 0, windowMs: 0 };
}

/** One run with the given leaves, as the windows engine would write it. */
async function makeRun(parts: TableName[], runId = newRunId()): Promise<string> {
  const dir = join(work, 'runs', runId);
  const rm_ = new RunManifest(dir, newManifest({ runId, node: 'test', trigger: 'manual', source: { host: demo.host, port: demo.port, database: 'demo' } }));
  await rm_.start();
  await inSnapshot(async (snap, lsn) => {
    for (const p of parts) {
      const outcome = await capturePartition({ target: demo, snapshotId: snap, partition: p, dir, ...dumpDefaults });
      await rm_.record(manifestEntry(p, outcome, facts(snap, lsn)));
    }
  });
  await rm_.finish();
  return dir;
}

beforeAll(async () => {
  cluster = await startTestCluster({ hbaLines: ['host all qc_pw 127.0.0.1/32 scram-sha-256'] });
  demo = targetFromUrl(cluster.url('demo'), { env: {} });
  work = await mkdtemp(join(tmpdir(), 'quietcut-backup-'));
  await cluster.query(`CREATE ROLE qc_pw LOGIN SUPERUSER PASSWORD '${PASSWORD}'`);
  await cluster.query(
    `INSERT INTO orders (region, amount, created_at)
       SELECT (ARRAY['eu','us','apac','zz'])[1 + i % 4], i * 1.25, now() - i * interval '1 minute' FROM generate_series(1, 400) i`,
    [],
    'demo',
  );
  await cluster.query(
    `CREATE SCHEMA sales;
     CREATE TABLE sales."Ledger" (id bigint GENERATED ALWAYS AS IDENTITY, region text NOT NULL, day date NOT NULL, note text,
                                 PRIMARY KEY (region, day, id)) PARTITION BY LIST (region);
     CREATE TABLE sales.ledger_eu PARTITION OF sales."Ledger" FOR VALUES IN ('eu') PARTITION BY RANGE (day);
     CREATE TABLE sales."ledger_eu_2026.q1" PARTITION OF sales.ledger_eu FOR VALUES FROM ('2026-01-01') TO ('2026-04-01');
     CREATE TABLE sales.ledger_eu_other PARTITION OF sales.ledger_eu DEFAULT;
     CREATE TABLE sales.ledger_us PARTITION OF sales."Ledger" FOR VALUES IN ('us');
     -- A leaf whose columns are in another order than its parent's (created alone, then attached).
     CREATE TABLE sales.ledger_apac (note text, day date NOT NULL, region text NOT NULL, id bigint NOT NULL);
     ALTER TABLE sales."Ledger" ATTACH PARTITION sales.ledger_apac FOR VALUES IN ('apac');
     INSERT INTO sales.ledger_apac (note, day, region, id) SELECT 'apac ' || i, DATE '2026-02-01' + i, 'apac', 100000 + i FROM generate_series(1, 50) i;
     INSERT INTO sales."Ledger" (region, day, note)
       SELECT (ARRAY['eu','us'])[1 + i % 2], DATE '2026-01-01' + (i % 200), 'note ' || i FROM generate_series(1, 600) i;`,
    [],
    'demo',
  );
});

afterAll(async () => {
  await cluster?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('dumpPartition in an exported snapshot', () => {
  it('captures exactly the snapshot rows of one leaf, 0600, and restores on its own', async () => {
    const dir = join(work, 'snap');
    const before = await count(`SELECT count(*) AS n FROM ONLY orders_eu`, 'demo');
    const { res, sum } = await inSnapshot(async (snap) => {
      // Committed after the export: must not be in the dump.
      await cluster.query(`INSERT INTO orders (region, amount) SELECT 'eu', 1 FROM generate_series(1, 25)`, [], 'demo');
      const [res, sum] = await Promise.all([dumpPartition({ target: demo, snapshotId: snap, partition: eu, dir, ...dumpDefaults }), checksumInSnapshot(demo, snap, eu)]);
      return { res, sum };
    });
    expect(sum.rows).toBe(before);
    expect(await count(`SELECT count(*) AS n FROM ONLY orders_eu`, 'demo')).toBe(before + 25);
    expect(res.tables).toEqual([{ schema: 'public', name: 'orders' }, eu]);
    expect(res.pgDumpVersion).toMatch(/^pg_dump \(PostgreSQL\) \d+/);
    expect(res.sha256).toBe(await sha256File(res.file));
    expect((await stat(res.file)).size).toBe(res.bytes);
    expect((await stat(res.file)).mode & 0o777).toBe(0o600);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(await readdir(dir)).toEqual(['public.orders_eu.dump']);

    await restoreInto(res.file, 'restore_eu');
    expect(await count(`SELECT count(*) AS n FROM ONLY orders_eu`, 'restore_eu')).toBe(before);
    // Only the leaf's rows: the root holds nothing else and no sibling came along.
    expect(await count(`SELECT count(*) AS n FROM orders`, 'restore_eu')).toBe(before);
    expect(await count(`SELECT count(*) AS n FROM pg_class WHERE relname = 'orders_us'`, 'restore_eu')).toBe(0);
    const c = new pg.Client({ connectionString: cluster.url('restore_eu') });
    await c.connect();
    try {
      const restored = await checksumTable(c, eu);
      expect(restored.checksum).toBe(sum.checksum);
      expect(restored.rows).toBe(sum.rows);
    } finally {
      await c.end();
    }
  });

  it('dumps a leaf of a two-level partitioned table with all its ancestors; it restores alone', async () => {
    const c = new pg.Client({ connectionString: cluster.url('demo') });
    await c.connect();
    expect(await partitionAncestors(c, deepLeaf)).toEqual([
      { schema: 'sales', name: 'Ledger' },
      { schema: 'sales', name: 'ledger_eu' },
    ]);
    await c.end();
    const dir = join(work, 'deep');
    const { res, sum } = await inSnapshot(async (snap) => ({
      res: await dumpPartition({ target: demo, snapshotId: snap, partition: deepLeaf, dir, ...dumpDefaults }),
      sum: await checksumInSnapshot(demo, snap, deepLeaf),
    }));
    expect(res.fileName).toBe('sales.ledger_eu_2026%2Eq1.dump');
    expect(sum.rows).toBeGreaterThan(0);
    await cluster.query(`DROP DATABASE IF EXISTS restore_deep`);
    await cluster.query(`CREATE DATABASE restore_deep TEMPLATE template0`);
    await cluster.query(`CREATE SCHEMA sales`, [], 'restore_deep'); // pg_dump -t never dumps CREATE SCHEMA
    await exec(pgTool('pg_restore'), ['--exit-on-error', '--no-owner', '--dbname=restore_deep', res.file], { env: childEnv(withDatabase(demo, 'restore_deep')) });
    expect(await count(`SELECT count(*) AS n FROM sales."Ledger"`, 'restore_deep')).toBe(sum.rows);
    expect(await count(`SELECT count(*) AS n FROM ONLY sales."ledger_eu_2026.q1"`, 'restore_deep')).toBe(sum.rows);
    expect(await count(`SELECT count(*) AS n FROM pg_class WHERE relname IN ('ledger_us', 'ledger_eu_other')`, 'restore_deep')).toBe(0);
  });

  it('fails on a held ACCESS EXCLUSIVE lock within the lock wait timeout, leaving no artifact', async () => {
    const dir = join(work, 'locked');
    const locker = new pg.Client({ connectionString: cluster.url('demo') });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE orders_us IN ACCESS EXCLUSIVE MODE');
      const err = await inSnapshot((snap) => dumpPartition({ target: demo, snapshotId: snap, partition: us, dir, compression: 1, lockWaitTimeoutMs: 300 }).then(() => null, (e: unknown) => e));
      expect(err).toBeInstanceOf(DumpError);
      const e = err as DumpError;
      expect(e.aborted).toBe(false);
      expect(e.reason).toMatch(/lock/i);
      expect(await readdir(dir)).toEqual([]);

      // pg_dump 15 locks the root without ONLY, which recurses to every partition: a sibling's
      // ACCESS EXCLUSIVE lock fails this leaf's dump too (the price of carrying the root's DDL).
      const sibling = await inSnapshot((snap) => dumpPartition({ target: demo, snapshotId: snap, partition: eu, dir, compression: 1, lockWaitTimeoutMs: 300 }).then(() => null, (e: unknown) => e));
      expect(sibling).toBeInstanceOf(DumpError);

      // The same through capturePartition: a failed outcome, never a thrown error or a good entry.
      const outcome = await inSnapshot((snap) => capturePartition({ target: demo, snapshotId: snap, partition: us, dir, compression: 1, lockWaitTimeoutMs: 300 }));
      expect(outcome.status).toBe('failed');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });

  it('an AbortSignal kills pg_dump and removes the partial file', async () => {
    const dir = join(work, 'aborted');
    const locker = new pg.Client({ connectionString: cluster.url('demo') });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE orders_us IN ACCESS EXCLUSIVE MODE');
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('window budget exceeded')), 400);
      const err = await inSnapshot((snap) =>
        dumpPartition({ target: demo, snapshotId: snap, partition: us, dir, compression: 1, lockWaitTimeoutMs: 60_000, signal: ac.signal }).then(() => null, (e: unknown) => e),
      );
      expect(err).toBeInstanceOf(DumpError);
      expect((err as DumpError).aborted).toBe(true);
      expect((err as DumpError).reason).toContain('window budget exceeded');
      expect(await readdir(dir)).toEqual([]);

      // capturePartition: the in-snapshot checksum, also waiting for the lock, is cancelled as well.
      const ac2 = new AbortController();
      setTimeout(() => ac2.abort(new Error('window budget exceeded')), 400);
      const outcome = await inSnapshot((snap) => capturePartition({ target: demo, snapshotId: snap, partition: us, dir, compression: 1, lockWaitTimeoutMs: 60_000, signal: ac2.signal }));
      expect(outcome.status).toBe('aborted');
      expect(await readdir(dir)).toEqual([]);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
  });
});

describe('credentials', () => {
  it('never puts the password in argv or logs, and pg_dump authenticates through the environment', async () => {
    const target = targetFromUrl(`postgres://qc_pw@127.0.0.1:${cluster.port}/demo`, { env: { QUIETCUT_ADMIN_PASSWORD: PASSWORD } });
    expect(target.password).toBe(PASSWORD);
    const dir = join(work, 'creds');
    const inv = pgDumpInvocation({ target, snapshotId: '00000003-00000010-1', partition: eu, dir, ...dumpDefaults }, [eu], join(dir, 'x.partial'));
    expect(inv.args.join('\n')).not.toContain(PASSWORD);
    expect(inv.args.join('\n')).not.toContain('qc_pw'); // no connection detail at all in argv
    expect(inv.env.PGPASSWORD).toBe(PASSWORD);
    expect(inv.env.QUIETCUT_ADMIN_PASSWORD).toBeUndefined();

    // A password given in the URL moves to the environment as well.
    const fromUrl = targetFromUrl(`postgres://qc_pw:${encodeURIComponent(PASSWORD)}@127.0.0.1:${cluster.port}/demo`, { env: {} });
    const inv2 = pgDumpInvocation({ target: fromUrl, snapshotId: '00000003-00000010-1', partition: eu, dir, ...dumpDefaults }, [eu], join(dir, 'x.partial'));
    expect(inv2.args.join('\n')).not.toContain(PASSWORD);

    let logged = '';
    const log = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, cb) => ((logged += chunk.toString()), cb()) }));
    const res = await inSnapshot((snap) => dumpPartition({ target, snapshotId: snap, partition: eu, dir, ...dumpDefaults, log }));
    expect(res.bytes).toBeGreaterThan(0);
    expect(logged).toContain('pg_dump done');
    expect(logged).not.toContain(PASSWORD);

    // Without the password the scram role cannot connect: the environment really carried it.
    const noPw = targetFromUrl(`postgres://qc_pw@127.0.0.1:${cluster.port}/demo`, { env: {} });
    const err = await inSnapshot((snap) => dumpPartition({ target: noPw, snapshotId: snap, partition: eu, dir: join(work, 'nopw'), ancestors: [], ...dumpDefaults }).then(() => null, (e: unknown) => e));
    expect(err).toBeInstanceOf(DumpError);
    expect((err as DumpError).reason).toMatch(/password/i);
    expect((err as DumpError).reason).not.toContain(PASSWORD);
  });
});

describe('checksum', () => {
  it('changes on a one-row edit and not on row order', async () => {
    await cluster.query(`CREATE TABLE ck (a int, b text, t timestamptz, f float8)`, [], 'demo');
    await cluster.query(`INSERT INTO ck SELECT i, 'v' || i, '2026-01-01'::timestamptz + i * interval '1 hour', i / 3.0 FROM generate_series(1, 200) i`, [], 'demo');
    const c = new pg.Client({ connectionString: cluster.url('demo') });
    await c.connect();
    try {
      const ck = { schema: 'public', name: 'ck' };
      const a = await checksumTable(c, ck);
      // Same rows, another physical order and another session TimeZone: same checksum.
      await c.query(`CREATE TABLE ck2 AS SELECT * FROM ck ORDER BY a DESC`);
      await c.query(`SET TimeZone = 'Asia/Kolkata'`);
      const b = await checksumTable(c, { schema: 'public', name: 'ck2' });
      expect(b).toMatchObject({ rows: a.rows, checksum: a.checksum });
      await c.query(`UPDATE ck2 SET b = 'v2x' WHERE a = 2`);
      const d = await checksumTable(c, { schema: 'public', name: 'ck2' });
      expect(d.rows).toBe(a.rows);
      expect(d.checksum).not.toBe(a.checksum);
    } finally {
      await c.end();
    }
  });
});

describe('verify and manifest', () => {
  let runDir: string;

  it('writes a 0600 manifest with a good entry per partition; verify passes', async () => {
    runDir = await makeRun([eu, deepLeaf, apac]);
    const m = await readManifest(runDir);
    expect(m.status).toBe('good');
    expect(m.partitions.map((p) => p.partition)).toEqual(['public.orders_eu', 'sales.ledger_eu_2026.q1', 'sales.ledger_apac']);
    const p = m.partitions[0]!;
    expect(p.status).toBe('good');
    if (p.status === 'good') {
      expect(p.rows).toBeGreaterThan(0);
      expect(p.walLsn).toMatch(/\//);
    }
    expect((await stat(join(runDir, 'manifest.json'))).mode & 0o777).toBe(0o600);
    const scratch = targetFromUrl(cluster.url('postgres'), { env: {} });
    const r = await verifyRun(runDir, { scratch });
    expect(r.partitions.map((v) => [v.partition, v.status, v.reason])).toEqual([
      ['public.orders_eu', 'ok', null],
      ['sales.ledger_eu_2026.q1', 'ok', null],
      ['sales.ledger_apac', 'ok', null],
    ]);
    expect(r.ok).toBe(true);
    const left = await count(`SELECT count(*) AS n FROM pg_database WHERE datname LIKE 'quietcut_verify_%'`, 'postgres');
    expect(left).toBe(0);
  });

  it('fails on a changed byte', async () => {
    const copy = join(work, 'tampered-byte');
    await cp(runDir, copy, { recursive: true });
    const f = join(copy, 'public.orders_eu.dump');
    const buf = await readFile(f);
    const i = Math.floor(buf.length / 2);
    buf[i] = buf[i]! ^ 0xff;
    await writeFile(f, buf);
    const r = await verifyRun(copy, { scratch: targetFromUrl(cluster.url('postgres'), { env: {} }) });
    expect(r.ok).toBe(false);
    expect(r.partitions[0]).toMatchObject({ status: 'mismatch' });
    expect(r.partitions[1]).toMatchObject({ status: 'ok' });
    expect(r.partitions[2]).toMatchObject({ status: 'ok' });
  });

  it('fails when another dump is swapped in, even with its sha256 written into the manifest', async () => {
    const copy = join(work, 'tampered-swap');
    await cp(runDir, copy, { recursive: true });
    // Another, equally valid dump of the same leaf but with different content.
    await cluster.query(`INSERT INTO orders (region, amount) VALUES ('eu', 99.99)`, [], 'demo');
    const other = await inSnapshot((snap) => dumpPartition({ target: demo, snapshotId: snap, partition: eu, dir: join(work, 'other'), ...dumpDefaults }));
    await cp(other.file, join(copy, 'public.orders_eu.dump'));
    const m = await readManifest(copy);
    await writeManifest(copy, { ...m, partitions: m.partitions.map((p) => (p.status === 'good' && p.partition === 'public.orders_eu' ? { ...p, sha256: other.sha256, bytes: other.bytes } : p)) });
    const r = await verifyRun(copy, { scratch: targetFromUrl(cluster.url('postgres'), { env: {} }) });
    expect(r.ok).toBe(false);
    expect(r.partitions[0]).toMatchObject({ status: 'mismatch' });
    expect(r.partitions[0]!.reason).toMatch(/rows/);
  });

  it('quietcut verify CLI exits 0 on a good run and non-zero on a tampered one', async () => {
    const runsDir = join(work, 'runs');
    const runId = (await readManifest(runDir)).runId;
    const cli = ['--import', 'tsx', 'src/cli/main.ts', 'verify'];
    const ok = await exec(process.execPath, [...cli, runId, '--dir', runsDir, '--scratch-url', cluster.url('postgres')], { env: { ...process.env, QUIETCUT_LOG_LEVEL: 'silent' } });
    expect(ok.stdout).toContain('public.orders_eu');
    expect(ok.stdout).toMatch(/\bok\b/);
    const bad = await exec(process.execPath, [...cli, 'x', '--dir', join(work), '--scratch-url', cluster.url('postgres')]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(bad?.code).not.toBe(0);
    const tamperedParent = join(work, 'cli-runs');
    await cp(join(work, 'tampered-byte'), join(tamperedParent, runId), { recursive: true });
    const mism = await exec(process.execPath, [...cli, runId, '--dir', tamperedParent, '--scratch-url', cluster.url('postgres')]).then(
      () => null,
      (e: { code: number; stdout: string }) => e,
    );
    expect(mism?.code).toBe(1);
    expect(mism?.stdout).toContain('mismatch');
  });
});

describe('retention', () => {
  it('keeps the newest N good runs per partition and removes emptied run directories', async () => {
    const base = join(work, 'retention');
    const t0 = Date.UTC(2026, 10, 24, 8, 0, 0);
    const ids = [0, 1, 2].map((i) => newRunId(new Date(t0 + i * 60_000), `000${i}`));
    for (const id of ids) {
      const dir = await makeRun([eu], id);
      await cp(dir, join(base, id), { recursive: true });
    }
    // A newer run in which the partition failed: it must not count as a kept backup.
    const failedId = newRunId(new Date(t0 + 3 * 60_000), '0003');
    const fm = new RunManifest(join(base, failedId), newManifest({ runId: failedId, node: 't', trigger: 'manual', source: { host: 'h', port: 1, database: 'd' } }));
    await fm.record(manifestEntry(eu, { status: 'failed', reason: 'lock timeout' }, facts('00000003-00000010-1', '0/1')));
    await fm.finish();

    const out = await applyRetention(base, { keep: 2 });
    expect(out.prune.map((p) => p.runId)).toEqual([ids[0]]);
    expect(out.removeRuns).toEqual([ids[0]]);
    expect((await readdir(base)).sort()).toEqual([ids[1], ids[2], failedId]);
    expect(await readdir(join(base, ids[1]!))).toContain('public.orders_eu.dump');
    // Idempotent.
    expect((await applyRetention(base, { keep: 2 })).prune).toEqual([]);
  });
});

describe('runs store', () => {
  it('records a run and its partitions in the quietcut schema', async () => {
    const runDir = await makeRun([eu]);
    const m = await readManifest(runDir);
    const c = new pg.Client({ connectionString: cluster.url('demo') });
    await c.connect();
    try {
      await prepareRunsStore(c);
      await recordRunStarted(c, { runId: m.runId, trigger: 'manual', node: 'test', dir: runDir });
      for (const p of m.partitions) await recordRunPartition(c, m.runId, p);
      await recordRunPartition(c, m.runId, m.partitions[0]!); // upsert, not a duplicate
      await recordRunFinished(c, m.runId, 'good', { partitions: m.partitions.length });
      const rows = await listRunPartitions(c, { partition: 'public.orders_eu' });
      const mine = rows.filter((r) => r.runId === m.runId);
      expect(mine).toHaveLength(1);
      const p = m.partitions[0]!;
      expect(mine[0]).toMatchObject({ status: 'good', rows: p.rows, sha256: p.sha256, checksum: p.checksum });
      const run = await c.query<{ status: string }>('SELECT status FROM quietcut.runs WHERE run_id = $1', [m.runId]);
      expect(run.rows[0]?.status).toBe('good');
    } finally {
      await c.end();
    }
  });
});
