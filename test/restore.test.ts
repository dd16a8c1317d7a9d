/**
 * `quietcut runs` and `quietcut restore`: a restore into the live table refuses to add to rows
 * that are there, and with --replace leaves exactly the backed-up rows and the live sequence as it
 * was; a restore into another database creates what it needs, schemas outside public included.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';
import { runCli } from './helpers/cli.js';

let cluster: LocalCluster;
let node: RunningNode;
let work: string;

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.query("insert into orders (region, amount) select 'eu', g from generate_series(1, 50) g", [], 'demo');
  await cluster.query("insert into orders (region, amount) select 'us', g from generate_series(1, 20) g", [], 'demo');
  await cluster.query(
    `CREATE SCHEMA sales;
     CREATE TABLE sales.invoices (id bigserial, region text NOT NULL, total int) PARTITION BY LIST (region);
     CREATE TABLE sales.invoices_eu PARTITION OF sales.invoices FOR VALUES IN ('eu');
     INSERT INTO sales.invoices (region, total) SELECT 'eu', g FROM generate_series(1, 7) g;`,
    [],
    'demo',
  );
  work = mkdtempSync(join(tmpdir(), 'qc-restore-'));
  // No state file of a demo on this machine may be found instead of --upstream.
  process.env.QUIETCUT_STATE_FILE = join(work, 'none.json');
  node = await runNode(loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('demo') }, listen: '127.0.0.1:0', metrics: { listen: null }, backup: { dir: join(work, 'backups') } } }), silentLogger);
});
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

const cli = (args: string[]) => runCli([...args, '--upstream', cluster.url('demo')]);

const rowsOf = async (table: string, db = 'demo') => (await cluster.query<{ id: string; region: string; amount: number }>(`select id::text, region, amount from ${table} order by id`, [], db)).rows;
const seq = async () => (await cluster.query<{ v: string; called: boolean }>('select last_value::text v, is_called called from orders_id_seq', [], 'demo')).rows[0]!;

describe('quietcut restore', () => {
  test('into the live table: refused while it has rows; with --replace exactly the backed-up rows, the sequence untouched', async () => {
    const run = await node.backup(['public.orders_eu']);
    expect(run.status).toBe('good');
    const backedUp = await rowsOf('only orders_eu');
    expect(backedUp).toHaveLength(50);
    const us = await rowsOf('only orders_us');
    // Life goes on after the backup: new rows, a deleted one, the shared sequence moves on.
    await cluster.query("insert into orders (region, amount) select 'eu', 1000 + g from generate_series(1, 5) g", [], 'demo');
    await cluster.query('delete from orders_eu where amount = 3', [], 'demo');
    const liveBefore = await rowsOf('only orders_eu');
    const seqBefore = await seq();

    const refused = await cli(['restore', run.runId, '--partition', 'orders_eu']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('public.orders_eu in database demo has 54 rows');
    expect(refused.stderr).toContain('--replace');
    expect(await rowsOf('only orders_eu')).toEqual(liveBefore);

    const replaced = await cli(['restore', run.runId, '--partition', 'public.orders_eu', '--replace']);
    expect(replaced.stderr).toBe('');
    expect(replaced.code).toBe(0);
    expect(replaced.stdout).toMatch(/public\.orders_eu\s+replaced\s+54\s+50\s+50/);
    expect(await rowsOf('only orders_eu')).toEqual(backedUp);
    expect(await rowsOf('only orders_us')).toEqual(us);
    expect(await seq()).toEqual(seqBefore);
    // the next id is still a new one
    const next = await cluster.query<{ id: string }>("insert into orders (region, amount) values ('eu', 1) returning id::text", [], 'demo');
    expect(BigInt(next.rows[0]!.id)).toBeGreaterThan(BigInt(seqBefore.v));

    // an empty live partition takes the rows without --replace
    await cluster.query('truncate orders_eu', [], 'demo');
    const loaded = await cli(['restore', 'latest', '--partition', 'orders_eu']);
    expect(loaded.code).toBe(0);
    expect(await rowsOf('only orders_eu')).toEqual(backedUp);
  });

  test('into another database, a table outside public restores on its own (its schema created)', async () => {
    const run = await node.backup(['sales.invoices_eu', 'public.orders_us']);
    expect(run.status).toBe('good');
    await cluster.query('create database scratch_restore', [], 'postgres');
    const r = await cli(['restore', run.runId, '--into', cluster.url('scratch_restore')]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/sales\.invoices_eu\s+created\s+-\s+7\s+7/);
    expect((await cluster.query<{ n: number }>('select count(*)::int n from sales.invoices', [], 'scratch_restore')).rows[0]!.n).toBe(7);
    expect(await rowsOf('only orders_us', 'scratch_restore')).toEqual(await rowsOf('only orders_us'));
  });

  test('a wrong run id and a failed partition get clear messages', async () => {
    const wrong = await cli(['restore', '20991231T000000Z-dead']);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/no run 20991231T000000Z-dead in this database; the newest are \d{8}T\d{6}Z-[0-9a-f]+/);
    const junk = await cli(['runs', '../etc']);
    expect(junk.code).not.toBe(0);
    expect(junk.stderr).toContain('not a run id: "../etc"');
    const typo = await cli(['restore', 'latest', '--partition', 'orders_ue']);
    expect(typo.stderr).toContain('did you mean');
  });
});

describe('quietcut runs', () => {
  test('lists runs newest first with status, sizes and the cut of each group; --json and per partition', async () => {
    const truth = (await cluster.query<{ run_id: string }>('select run_id from quietcut.runs order by started_at desc', [], 'demo')).rows.map((r) => r.run_id);
    expect(truth.length).toBeGreaterThanOrEqual(2);
    const table = await cli(['runs']);
    expect(table.code).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^run\s+status\s+trigger\s+started\s+age\s+good\s+bytes\s+cut of each group$/);
    expect(lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(truth);
    expect(lines[1]).toMatch(/good\s+manual/);
    expect(lines[1]).toMatch(/public\.orders_us \d{4}-\d{2}-\d{2}T/);
    const json = JSON.parse((await cli(['runs', '--json'])).stdout) as Array<{ runId: string; partitions: Array<{ partition: string; bytes: number; cutAt: string }> }>;
    expect(json.map((r) => r.runId)).toEqual(truth);
    const sizes = await cluster.query<{ run_id: string; partition: string; bytes: string }>('select run_id, partition, bytes::text from quietcut.run_partitions order by run_id, partition', [], 'demo');
    expect(json.flatMap((r) => r.partitions.map((p) => [r.runId, p.partition, String(p.bytes)])).sort()).toEqual(sizes.rows.map((r) => [r.run_id, r.partition, r.bytes]).sort());
    const per = await cli(['runs', '--partition', 'invoices_eu']);
    expect(per.code).toBe(0);
    expect(per.stdout.trim().split('\n').slice(1).map((l) => l.split(/\s+/).slice(1, 4))).toEqual([['sales.invoices_eu', 'sales.invoices_eu', 'good']]);
  });
});
