/**
 * One consistent cut across three PostgreSQL servers: the fronted one and two shards holding
 * postgres_fdw foreign partitions. Writers go through quietcut; the windowed backup must be a cut
 * (checked on the restored artifacts), and the same checker must find violations in plain pg_dumps
 * of both shards started together without a window, or it proves nothing.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { readManifest, verifyRun, type Manifest } from '../src/backup/index.js';
import { loadConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { pgTool } from '../src/localdb/binaries.js';
import { silentLogger } from '../src/util/log.js';
import { testNodeConfig } from './helpers/node.js';
import { runBackup } from '../src/coordinator/backup-run.js';
import { preparePin } from '../src/windows/pin.js';
import { locateForeign } from '../src/windows/servers.js';
import { startTestCluster } from './helpers/pg.js';
import { checkCut, restoreShardRows, shardServersSql, XWriter, type ShardRows, type XWrite } from './helpers/cross-writers.js';
import { waitFor } from './helpers/invariants.js';

const run = promisify(execFile);
let front: LocalCluster;
let s1: LocalCluster;
let s2: LocalCluster;
let backupDir: string;

const SHARD_SQL = `CREATE SCHEMA data;
  CREATE TABLE data.w_part (id bigint PRIMARY KEY, p int NOT NULL, tx bigint, ref bigint);
  CREATE TABLE data.b_part (id bigint, p int NOT NULL, tx bigint, ref bigint, pad text);
  -- a table whose remote COMMIT takes 0.8 s (a deferred trigger), to stretch a two-shard commit
  CREATE TABLE data.slow_part (id bigint, p int NOT NULL, tx bigint, ref bigint);
  CREATE FUNCTION data.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.8); RETURN NULL; END $$;
  CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON data.slow_part DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION data.slow();`;

beforeAll(async () => {
  [front, s1, s2] = await Promise.all([startTestCluster(), LocalCluster.start(), LocalCluster.start()]);
  backupDir = mkdtempSync(join(tmpdir(), 'qc-cross-'));
  await s1.query(SHARD_SQL);
  await s2.query(SHARD_SQL);
  // A shard-2 partition whose dump lasts long enough to restart the shard under it.
  await s2.query(`INSERT INTO data.b_part SELECT -g, 2, NULL, NULL, md5(g::text) || md5((g * 3)::text) FROM generate_series(1, 300000) g`);
  await front.query(
    `${shardServersSql(s1, s2)}
     CREATE TABLE xw (id bigint NOT NULL, p int NOT NULL, tx bigint, ref bigint) PARTITION BY LIST (p);
     CREATE TABLE xw_0 PARTITION OF xw FOR VALUES IN (0);
     -- both shards call their table data.w_part: artifacts and verify must keep them apart
     CREATE FOREIGN TABLE xw_1 PARTITION OF xw FOR VALUES IN (1) SERVER shard1 OPTIONS (schema_name 'data', table_name 'w_part');
     CREATE FOREIGN TABLE xw_2 PARTITION OF xw FOR VALUES IN (2) SERVER shard2 OPTIONS (schema_name 'data', table_name 'w_part');
     INSERT INTO xw_0 SELECT -g, 0, NULL, NULL FROM generate_series(1, 100) g;
     CREATE TABLE xs (id bigint, p int NOT NULL, tx bigint, ref bigint) PARTITION BY LIST (p);
     CREATE FOREIGN TABLE xs_1 PARTITION OF xs FOR VALUES IN (1) SERVER shard1 OPTIONS (schema_name 'data', table_name 'slow_part');
     CREATE FOREIGN TABLE xs_2 PARTITION OF xs FOR VALUES IN (2) SERVER shard2 OPTIONS (schema_name 'data', table_name 'slow_part');
     CREATE TABLE xb (id bigint, p int NOT NULL, tx bigint, ref bigint, pad text) PARTITION BY LIST (p);
     CREATE FOREIGN TABLE xb_1 PARTITION OF xb FOR VALUES IN (1) SERVER shard1 OPTIONS (schema_name 'data', table_name 'b_part');
     CREATE FOREIGN TABLE xb_2 PARTITION OF xb FOR VALUES IN (2) SERVER shard2 OPTIONS (schema_name 'data', table_name 'b_part');`,
    [],
    'demo',
  );
}, 120_000);
afterAll(async () => {
  await Promise.all([front?.stop(), s1?.stop(), s2?.stop()]);
});

async function startNode(extra: ConfigInput = {}): Promise<RunningNode> {
  const config = testNodeConfig(front.url('demo'), backupDir, {
    windows: { groups: 'table' },
    // shard1 through config; shard2 from its postgres_fdw options and the admin user
    servers: { shard1: { url: s1.url('postgres') } },
    ...extra,
  });
  return runNode(config, silentLogger);
}

const nodeUrl = (node: RunningNode): string => `postgres://postgres@127.0.0.1:${node.proxy.address.port}/demo`;

type Rows = ShardRows;
const restoreRows = (files: ReadonlyArray<{ file: string; table: string }>): Promise<Rows> => restoreShardRows(front, files);

function goodFile(m: Manifest, partition: string): string {
  const e = m.partitions.find((p) => p.partition === partition);
  if (!e || e.status !== 'good') throw new Error(`${partition} is not good in the manifest`);
  return join(backupDir, m.runId, e.file);
}

describe('a table group across two shards, under writers through quietcut', () => {
  let node: RunningNode;
  const writers: XWriter[] = [];
  const records = (): XWrite[] => writers.flatMap((w) => w.records);

  beforeAll(async () => {
    node = await startNode();
    for (let i = 0; i < 6; i++) writers.push(new XWriter(i % 2 === 0 ? 'transaction' : 'causal', nodeUrl(node)));
    for (const w of writers) w.start();
    // Enough acknowledged transactions and causal pairs before the cut, however loaded the machine.
    await waitFor('120 acknowledged writes', () => records().filter((r) => r.ackAt !== null).length >= 120);
  });
  afterAll(async () => {
    for (const w of writers) await w.stop();
    await node?.stop();
  });

  let manifest: Manifest;
  let windowStartPerf = 0;
  let windowEndPerf = 0;

  test('the cut pins one snapshot per server in parallel and lists each in the manifest', async () => {
    const result = await node.backup(['public.xw_0', 'public.xw_1', 'public.xw_2']);
    expect(result.status, JSON.stringify(result.partitions.map((p) => p.reason))).toBe('good');
    manifest = await readManifest(result.runDir);
    // Writes keep flowing after the cut, so "nothing held is present" has cases.
    const releasedPerf = new Date(manifest.partitions[0]!.windowEnd!).getTime() - performance.timeOrigin;
    await waitFor('20 writes acknowledged after the release', () => records().filter((r) => r.ackAt !== null && r.sentAt > releasedPerf).length >= 20);
    expect(manifest.status).toBe('good');
    expect(new Set(manifest.partitions.map((p) => p.group))).toEqual(new Set(['public.xw']));
    const byName = new Map(manifest.partitions.map((p) => [p.partition, p]));
    expect(byName.get('public.xw_0')!.server).toBeUndefined();
    expect(byName.get('public.xw_1')!.server).toBe('shard1');
    expect(byName.get('public.xw_2')!.server).toBe('shard2');
    expect(byName.get('public.xw_2')!.remoteTable).toEqual({ schema: 'data', name: 'w_part' });
    const cuts = manifest.cuts ?? [];
    expect(cuts.map((c) => c.server).sort()).toEqual(['(fronted)', 'shard1', 'shard2']);
    expect(cuts.find((c) => c.server === 'shard2')!.port).toBe(s2.port); // defaulted from the server's options
    expect(cuts.find((c) => c.server === 'shard1')!.port).toBe(s1.port);
    for (const c of cuts) expect(c.walLsn).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(new Set(cuts.map((c) => c.cutAt)).size).toBe(1);
    // each member's entry carries its own server's snapshot
    for (const c of cuts) {
      const member = manifest.partitions.find((p) => (p.server ?? '(fronted)') === c.server)!;
      expect(member.snapshotId).toBe(c.snapshotId);
    }
    windowStartPerf = new Date(manifest.partitions[0]!.windowStart!).getTime() - performance.timeOrigin;
    windowEndPerf = new Date(manifest.partitions[0]!.windowEnd!).getTime() - performance.timeOrigin;
    const artifacts = readdirSync(join(backupDir, manifest.runId)).filter((f) => f.endsWith('.dump')).sort();
    expect(artifacts).toEqual(['public.xw_0.dump', 'public.xw_1.dump', 'public.xw_2.dump']);
  });

  test('restored, the backup is a cut: no torn transaction, no B without its A, acked-before present, held absent', async () => {
    const rows = await restoreRows([
      { file: goodFile(manifest, 'public.xw_1'), table: 'data.w_part' },
      { file: goodFile(manifest, 'public.xw_2'), table: 'data.w_part' },
    ]);
    const check = checkCut(records(), rows, { startMs: windowStartPerf, marginMs: 5 });
    console.log(`windowed cut: ${rows.size} rows, ${check.txIn} transactions in, ${check.txOut} out, ${check.pairsIn} causal pairs in, ${check.violations.length} violations`);
    expect(check.violations).toEqual([]);
    expect(check.txIn).toBeGreaterThan(10);
    expect(check.txOut).toBeGreaterThan(0);
    expect(check.pairsIn).toBeGreaterThan(10);
    // the window did hold writes of the members (else "nothing held is present" checked nothing):
    // writes sent between its start and its release, acknowledged after it
    const held = records().filter((r) => r.ackAt !== null && r.sentAt > windowStartPerf && r.sentAt < windowEndPerf);
    expect(held.length).toBeGreaterThan(0);
  });

  test('quietcut verify restores the cross-server run into one scratch database and matches counts and checksums', async () => {
    const v = await verifyRun(join(backupDir, manifest.runId), { scratch: { host: front.host, port: front.port, user: 'postgres', database: 'postgres' } });
    expect(v.partitions.map((p) => [p.partition, p.status, p.reason])).toEqual([
      ['public.xw_0', 'ok', null],
      ['public.xw_1', 'ok', null],
      ['public.xw_2', 'ok', null],
    ]);
    expect(v.ok).toBe(true);
  });

  test('negative control: plain pg_dump of both shards at the same moment, no window, shows violations', async () => {
    // The same load, the same checker. Started "together", two pg_dump processes still take their
    // snapshots a few milliseconds apart, and postgres_fdw commits a transaction on one shard and
    // then the other: transactions and causal pairs falling between the two snapshots are torn.
    const dir = mkdtempSync(join(tmpdir(), 'qc-cross-neg-'));
    const deadline = performance.now() + 20_000;
    let attempts = 0;
    let found: ReturnType<typeof checkCut> | null = null;
    let last: ReturnType<typeof checkCut> | null = null;
    while (performance.now() < deadline) {
      attempts++;
      const files = [s1, s2].map((s, i) => ({ s, file: join(dir, `a${attempts}-s${i + 1}.dump`) }));
      await Promise.all(
        files.map(({ s, file }) => run(pgTool('pg_dump'), ['-h', s.host, '-p', String(s.port), '-U', 'postgres', '-d', 'postgres', '-Fc', '-Z0', '-t', 'data.w_part', '-f', file])),
      );
      const rows = await restoreRows(files.map(({ file }) => ({ file, table: 'data.w_part' })));
      last = checkCut(records(), rows, null);
      if (last.violations.length > 0) {
        found = last;
        break;
      }
    }
    const kinds = found ? [...new Set(found.violations.map((v) => v.kind))] : [];
    console.log(`negative control: ${attempts} attempt(s), ${found ? found.violations.length : 0} violations (${kinds.join(', ')})`);
    expect(found, `no violation in ${attempts} attempts (last: ${JSON.stringify(last && { ...last, violations: last.violations.length })})`).not.toBeNull();
  });
});

describe('the drain across shards', () => {
  test('a COMMIT half-way through committing on the shards is waited for: the cut has both rows', async () => {
    const node = await startNode();
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('INSERT INTO xs (id, p, tx) VALUES (1, 1, 7), (2, 2, 7)');
      // postgres_fdw commits on one shard, then the other; each remote COMMIT takes 0.8 s here.
      const committing = c.query('COMMIT');
      let torn = false;
      for (let i = 0; i < 40 && !torn; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const [a, b] = await Promise.all([s1.query('SELECT count(*)::int AS n FROM data.slow_part'), s2.query('SELECT count(*)::int AS n FROM data.slow_part')]);
        torn = a.rows[0]!.n + b.rows[0]!.n === 1;
      }
      // one shard has committed, the other not yet: the case a drain exists for
      expect(torn).toBe(true);
      const backup = node.backup(['public.xs_1', 'public.xs_2']);
      await committing;
      const ackAt = Date.now();
      const r = await backup;
      expect(r.status).toBe('good');
      const m = await readManifest(r.runDir);
      expect(new Date(m.partitions[0]!.cutAt!).getTime()).toBeGreaterThanOrEqual(ackAt - 200); // without the drain: ~0.6 s earlier
      for (const p of m.partitions) expect([p.partition, p.rows]).toEqual([p.partition, 1]);
    } finally {
      await c.end();
      await node.stop();
    }
  });
});

describe('hidden writes across shards (fail closed)', () => {
  test('a function writing both shards, half-way through committing, is drained before the cut: the cut never splits it', async () => {
    // The statement names no table: only "a function not known to be read-only" says it may write.
    await front.query(
      `CREATE OR REPLACE FUNCTION public.two_shards(a bigint, b bigint, t bigint) RETURNS void LANGUAGE sql
         AS $$ INSERT INTO xs (id, p, tx) VALUES (a, 1, t); INSERT INTO xs (id, p, tx) VALUES (b, 2, t) $$`,
      [],
      'demo',
    );
    const node = await startNode();
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      const counts = async (): Promise<[number, number]> => {
        const [a, b] = await Promise.all([s1.query('SELECT count(*)::int AS n FROM data.slow_part'), s2.query('SELECT count(*)::int AS n FROM data.slow_part')]);
        return [a.rows[0]!.n, b.rows[0]!.n];
      };
      const [a0, b0] = await counts();
      // autocommit: postgres_fdw commits on one shard, then the other, each taking 0.8 s
      const committing = c.query('SELECT public.two_shards(101, 102, 9)');
      let torn = false;
      for (let i = 0; i < 60 && !torn; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const [a, b] = await counts();
        torn = a + b === a0 + b0 + 1;
      }
      expect(torn).toBe(true);
      const backup = node.backup(['public.xs_1', 'public.xs_2']);
      await committing;
      const ackAt = Date.now();
      const r = await backup;
      expect(r.status).toBe('good');
      const m = await readManifest(r.runDir);
      // the cut waited for the call to finish on both shards (without the fail-closed drain it is
      // taken while one shard has the row and the other not)
      expect(new Date(m.partitions[0]!.cutAt!).getTime()).toBeGreaterThanOrEqual(ackAt - 200);
      const rows = new Map(m.partitions.map((p) => [p.partition, p.rows]));
      expect([rows.get('public.xs_1'), rows.get('public.xs_2')]).toEqual([a0 + 1, b0 + 1]);
    } finally {
      await c.end();
      await node.stop();
    }
  });
});

describe('faults', () => {
  test('a shard unreachable at pin time aborts the whole cut: writes released, run failed, nothing half-good', async () => {
    const node = await startNode();
    const writer = new XWriter('causal', nodeUrl(node));
    try {
      writer.start();
      await new Promise((r) => setTimeout(r, 300));
      const config = loadConfig({ env: {}, overrides: { windows: { groups: 'table' }, servers: { shard1: { url: s1.url('postgres') } }, backup: { dir: backupDir, compression: 1 } } });
      const target = { host: front.host, port: front.port, user: 'postgres', database: 'demo' };
      const foreign = await locateForeign(node.pool, ['public.xw_1', 'public.xw_2'], { config, admin: target });
      let heldAtCut = -1;
      const result = await runBackup({
        partitions: ['public.xw_1', 'public.xw_2'],
        rootOf: () => 'public.xw',
        config,
        gate: node.gate,
        target,
        pool: node.pool,
        node: 'test',
        trigger: 'test',
        foreign,
        // shard 2 goes away between the drain and its export: its pin connection dies with it
        preparePin: async (server, t, signal) => {
          const p = await preparePin(t, signal);
          if (server !== 'shard2') return p;
          return {
            take: async () => {
              heldAtCut = node.gate.isHeld('public.xw_1') && node.gate.isHeld('public.xw_2') ? 1 : 0;
              await s2.halt('immediate');
              return p.take();
            },
            cancel: () => p.cancel(),
          };
        },
      });
      expect(heldAtCut).toBe(1);
      expect(result.status).not.toBe('good');
      expect(node.gate.isHeld('public.xw_1')).toBe(false);
      expect(node.gate.isHeld('public.xw_2')).toBe(false);
      const m = await readManifest(result.runDir);
      expect(m.status).toBe('aborted');
      for (const p of m.partitions) expect(p.status).toBe('aborted');
      expect(m.partitions.find((p) => p.partition === 'public.xw_1')!.reason).toMatch(/shard2/);
      expect(m.cuts ?? []).toEqual([]);
      expect(readdirSync(result.runDir).filter((f) => f !== 'manifest.json')).toEqual([]);
      // shard 1's export was closed, not left open
      const pins = await s1.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = 'quietcut pin'`);
      expect(pins.rows[0]!.n).toBe(0);
      // writes to shard 1 flow again
      const before = writer.records.filter((r) => r.p === 1 && r.ackAt !== null).length;
      await new Promise((r) => setTimeout(r, 300));
      expect(writer.records.filter((r) => r.p === 1 && r.ackAt !== null).length).toBeGreaterThan(before);
    } finally {
      await writer.stop();
      await node.stop();
      await s2.resume();
    }
  });

  test('a shard restarting during the dump fails that run cleanly', async () => {
    const node = await startNode();
    try {
      let restarting: Promise<void> | null = null;
      const result = await node.backup(['public.xb_1', 'public.xb_2'], {
        onProgress: (p, state) => {
          if (p === 'public.xb_2' && state === 'dumping' && !restarting) restarting = s2.restart('immediate');
        },
      });
      await restarting;
      expect(restarting).not.toBeNull();
      expect(result.status).not.toBe('good');
      const m = await readManifest(result.runDir);
      expect(m.status).not.toBe('good');
      for (const p of m.partitions) expect(p.status).not.toBe('good');
      expect(m.partitions.find((p) => p.partition === 'public.xb_2')!.reason).toBeTruthy();
      // no artifact, whole or partial, passes for a backup
      expect(readdirSync(result.runDir).filter((f) => f !== 'manifest.json')).toEqual([]);
      expect(node.gate.active).toBe(false);
      // and the next run, with the shard back, is good
      const again = await node.backup(['public.xb_1', 'public.xb_2']);
      expect(again.status).toBe('good');
      expect(existsSync(join(again.runDir, 'public.xb_2.dump'))).toBe(true);
    } finally {
      await node.stop();
    }
  });
});

describe('npm start -- --demo-shards 2', () => {
  test('starts two shards with foreign partitions of public.readings, backed up as one cut', async () => {
    const config = loadConfig({ env: {}, overrides: { listen: '127.0.0.1:0', metrics: { listen: null }, backup: { dir: backupDir, compression: 1 }, stats: { enabled: false } } });
    const node = await runNode(config, silentLogger, { demoShards: 2 });
    try {
      const c = await node.pool.connect();
      try {
        // quietcut's own pool pins search_path (no user schema): name the table in full.
        await c.query('INSERT INTO public.readings (shard, value) SELECT g % 3, g FROM generate_series(1, 30) g');
      } finally {
        c.release();
      }
      const leaves = node.catalog.current.leaves().filter((l) => l.root === 'public.readings');
      expect(leaves.map((l) => [l.name, l.foreignServer])).toEqual([
        ['public.readings_local', null],
        ['public.readings_shard1', 'shard1'],
        ['public.readings_shard2', 'shard2'],
      ]);
      const r = await node.backup(['public.readings_shard1']);
      expect(r.status).toBe('good');
      expect(r.partitions.map((p) => p.partition).sort()).toEqual(leaves.map((l) => l.name));
      const m = await readManifest(r.runDir);
      expect((m.cuts ?? []).map((x) => x.server).sort()).toEqual(['(fronted)', 'shard1', 'shard2']);
      expect(m.partitions.every((p) => p.status === 'good' && p.rows === 10)).toBe(true);
    } finally {
      await node.stop();
    }
  });
});
