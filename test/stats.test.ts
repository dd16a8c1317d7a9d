/**
 * Counts: after known writes through the proxy (pg, simple and extended, and pgbench custom
 * scripts), the Prometheus counters and the persisted per-minute history agree exactly with what
 * was written, per partition; history exports and imports back unchanged; and the table-stats
 * sampler notices a write that bypassed the proxy.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Command } from 'commander';
import pg from 'pg';
import { registerStats } from '../src/cli/commands/stats.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { loadConfig } from '../src/config/load.js';
import { pgTool } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { listHistoryPartitions, readHistory } from '../src/stats/history.js';
import { TableStatsSampler } from '../src/stats/table-stats.js';
import { Metrics } from '../src/metrics/registry.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';
import { waitFor } from './helpers/invariants.js';

const exec = promisify(execFile);

let cluster: LocalCluster;
let node: RunningNode;
let work: string;
/** What the test wrote through the proxy: partition → statements and rows. */
const expected = new Map<string, { statements: number; rows: number }>();

function add(partition: string, statements: number, rows: number): void {
  const e = expected.get(partition) ?? { statements: 0, rows: 0 };
  e.statements += statements;
  e.rows += rows;
  expected.set(partition, e);
}

const now = new Date();
const monthName = (offset: number): string => {
  const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1));
  return `public.events_${d.getUTCFullYear()}_${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
};
const thisMonth = monthName(0);
const nextMonth = monthName(1);
const midThisMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 15, 12)).toISOString();
const inNextMonth = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 10, 6)).toISOString();

async function proxyClient(): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: node.connectionString });
  await c.connect();
  return c;
}

async function admin<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
  return (await cluster.query<T>(sql, params, 'demo')).rows;
}

/** Counter values by partition label. */
async function counterByPartition(name: string): Promise<Map<string, number>> {
  const metric = node.metrics.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const out = new Map<string, number>();
  for (const v of (await metric.get()).values) out.set(String(v.labels.partition), v.value);
  return out;
}

/** Run the quietcut CLI in-process (commander), capturing what it prints. */
async function cli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerStats(program);
  const lines: string[] = [];
  const log = console.log;
  const err = console.error;
  console.log = (...a: unknown[]) => void lines.push(a.join(' '));
  console.error = (...a: unknown[]) => void lines.push(a.join(' '));
  try {
    await program.parseAsync(['node', 'quietcut', ...args]);
  } finally {
    console.log = log;
    console.error = err;
  }
  return lines.join('\n');
}

beforeAll(async () => {
  cluster = await startTestCluster();
  work = mkdtempSync(join(tmpdir(), 'quietcut-stats-'));
  // The node's own table-stats timer is pushed out of the test's way: the test samples by hand.
  node = await runNode(
    loadConfig({
      env: {},
      overrides: { upstream: { url: cluster.url('demo') }, listen: '127.0.0.1:0', metrics: { listen: null }, stats: { tableStatsIntervalMs: 3_600_000 } },
    }),
    silentLogger,
  );
});

afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('counts', () => {
  test('pg: simple and extended, single and multi-row, UPDATE/DELETE by key', async () => {
    const c = await proxyClient();
    try {
      for (let i = 0; i < 3; i++) await c.query(`INSERT INTO orders (region, amount) VALUES ('eu', 1)`);
      add('public.orders_eu', 3, 3);
      for (let i = 0; i < 4; i++) await c.query('INSERT INTO orders (region, amount) VALUES ($1, $2)', ['us', 2]);
      add('public.orders_us', 4, 4);
      await c.query(`INSERT INTO orders (region, amount) VALUES ('apac', 1), ('apac', 2), ('apac', 3)`);
      add('public.orders_apac', 1, 3);
      await c.query({ name: 'two_rows', text: 'INSERT INTO orders (region, amount) VALUES ($1, 1), ($1, 2)', values: ['eu'] });
      await c.query({ name: 'two_rows', text: 'INSERT INTO orders (region, amount) VALUES ($1, 1), ($1, 2)', values: ['eu'] });
      add('public.orders_eu', 2, 4);
      await c.query(`INSERT INTO orders (region, amount) VALUES ('mars', 5)`);
      add('public.orders_other', 1, 1);
      // eu holds 3 + 4 rows now
      expect((await c.query(`UPDATE orders SET amount = amount + 1 WHERE region = 'eu'`)).rowCount).toBe(7);
      add('public.orders_eu', 1, 7);
      expect((await c.query('UPDATE orders SET amount = 0 WHERE region = $1', ['us'])).rowCount).toBe(4);
      add('public.orders_us', 1, 4);
      expect((await c.query(`DELETE FROM orders WHERE region = 'apac' AND amount = 1`)).rowCount).toBe(1);
      add('public.orders_apac', 1, 1);
      expect((await c.query('DELETE FROM orders WHERE region IN ($1) AND amount = $2', ['mars', 5])).rowCount).toBe(1);
      add('public.orders_other', 1, 1);
      // a write that matches no row is still a write statement, with 0 rows
      await c.query(`DELETE FROM orders WHERE region = 'us' AND amount = -1`);
      add('public.orders_us', 1, 0);
      // range partitioning: literals and a timestamptz parameter
      await c.query(`INSERT INTO events (region, created_at) VALUES ('eu', '${midThisMonth}')`);
      await c.query('INSERT INTO events (region, created_at) VALUES ($1, $2)', ['us', new Date(midThisMonth)]);
      add(thisMonth, 2, 2);
      await c.query(`INSERT INTO events (region, created_at) VALUES ('eu', '${inNextMonth}'), ('us', '${inNextMonth}')`);
      add(nextMonth, 1, 2);
      // several statements in one Query message
      await c.query(`INSERT INTO orders (region, amount) VALUES ('us', 9); INSERT INTO orders (region, amount) VALUES ('eu', 9)`);
      add('public.orders_us', 1, 1);
      add('public.orders_eu', 1, 1);
      // inside a transaction, counted when the statement completes
      await c.query('BEGIN');
      await c.query(`INSERT INTO orders (region, amount) VALUES ('apac', 9)`);
      await c.query('COMMIT');
      add('public.orders_apac', 1, 1);
      // a statement the server rejects wrote nothing and counts nothing
      await expect(c.query(`INSERT INTO orders (region, amount) VALUES ('eu', 'not a number')`)).rejects.toThrow();
      await expect(c.query('INSERT INTO orders (region, amount) VALUES ($1, $2)', ['eu', 'nan?'])).rejects.toThrow();
    } finally {
      await c.end();
    }
  });

  test('pgbench custom script, simple and prepared', async () => {
    const K = 40;
    for (const [mode, marker] of [
      ['simple', 101],
      ['prepared', 102],
    ] as const) {
      const script = join(work, `writes-${mode}.sql`);
      // \if keeps the region a literal, so each INSERT resolves to one partition; which one is
      // random, and the server says how many went where.
      writeFileSync(
        script,
        [
          '\\set r random(1, 3)',
          '\\if :r = 1',
          `INSERT INTO orders (region, amount) VALUES ('eu', ${marker});`,
          '\\elif :r = 2',
          `INSERT INTO orders (region, amount) VALUES ('us', ${marker});`,
          '\\else',
          `INSERT INTO orders (region, amount) VALUES ('apac', ${marker});`,
          '\\endif',
          `INSERT INTO events (region, created_at, payload) VALUES ('pgb', '${midThisMonth}', 'pgbench');`,
          `UPDATE orders SET amount = amount WHERE region = 'eu' AND amount = -${marker};`,
          '',
        ].join('\n'),
      );
      const { stdout } = await exec(pgTool('pgbench'), ['-n', '-f', script, '-t', String(K), '-c', '2', '-M', mode, node.connectionString]);
      expect(stdout).toMatch(/number of failed transactions: 0|number of transactions actually processed: 80\/80/);
      const perPartition = await admin<{ p: string; n: string }>(`SELECT tableoid::regclass::text AS p, count(*)::text AS n FROM orders WHERE amount = $1 GROUP BY 1`, [marker]);
      expect(perPartition.reduce((s, r) => s + Number(r.n), 0)).toBe(2 * K);
      for (const r of perPartition) add(`public.${r.p}`, Number(r.n), Number(r.n));
      add(thisMonth, 2 * K, 2 * K);
      add('public.orders_eu', 2 * K, 0);
    }
  });

  test('metrics and persisted per-minute history agree exactly with what was written', async () => {
    await node.flushStats();
    const writes = await counterByPartition('quietcut_writes_total');
    const rows = await counterByPartition('quietcut_write_rows_total');
    const persisted = await admin<{ partition: string; s: string; r: string }>(
      'SELECT partition, sum(statements)::text AS s, sum(rows)::text AS r FROM quietcut.write_minutes GROUP BY partition',
    );
    const want = [...expected].map(([p, e]) => [p, e.statements, e.rows] as const).sort();
    const fromMetrics = [...writes.keys()].map((p) => [p, writes.get(p) ?? 0, rows.get(p) ?? 0] as const).filter(([, s]) => s > 0).sort();
    const fromHistory = persisted.map((r) => [r.partition, Number(r.s), Number(r.r)] as const).sort();
    expect(fromMetrics).toEqual(want);
    expect(fromHistory).toEqual(want);
    // and readHistory (what the planner reads) sums to the same
    const cl = await node.pool.connect();
    try {
      for (const [p, s, r] of want) {
        const statements = await readHistory(cl, { partition: p, stepMs: 300_000 });
        expect(statements?.stepMs).toBe(300_000);
        expect(statements && statements.values.reduce((a, b) => a + b, 0)).toBe(s);
        const rs = await readHistory(cl, { partition: p, measure: 'rows' });
        expect(rs && rs.values.reduce((a, b) => a + b, 0)).toBe(r);
      }
    } finally {
      cl.release();
    }
  });
});

describe('export and import', () => {
  const listCsv = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.csv')).sort();
  const readAll = (dir: string): Record<string, string> => Object.fromEntries(listCsv(dir).map((f) => [f, readFileSync(join(dir, f), 'utf8')]));

  test('export, wipe, import (twice), export again: the same files', async () => {
    const config = join(work, 'quietcut.yaml');
    writeFileSync(config, `upstream:\n  url: ${cluster.url('demo')}\n`);
    const before = { statements: join(work, 'a-statements'), rows: join(work, 'a-rows') };
    await cli(['stats', 'export', '--config', config, '--dir', before.statements]);
    await cli(['stats', 'export', '--config', config, '--dir', before.rows, '--measure', 'rows']);
    const files = listCsv(before.statements);
    expect(files).toEqual([...expected.keys()].map((p) => `${p}.csv`).sort());
    expect(readFileSync(join(before.statements, 'public.orders_eu.csv'), 'utf8')).toMatch(/^ts,value\n\d{4}-\d\d-\d\dT\d\d:\d\d:00\.000Z,\d+\n/);

    await admin('DELETE FROM quietcut.write_minutes');
    for (let pass = 0; pass < 2; pass++) {
      for (const f of files) {
        const partition = f.replace(/\.csv$/, '');
        await cli(['stats', 'import', join(before.statements, f), '--partition', partition, '--measure', 'statements', '--config', config]);
        await cli(['stats', 'import', join(before.rows, f), '--partition', partition, '--measure', 'rows', '--config', config]);
      }
      const after = { statements: join(work, `b${pass}-statements`), rows: join(work, `b${pass}-rows`) };
      await cli(['stats', 'export', '--config', config, '--dir', after.statements]);
      await cli(['stats', 'export', '--config', config, '--dir', after.rows, '--measure', 'rows']);
      expect(readAll(after.statements)).toEqual(readAll(before.statements));
      expect(readAll(after.rows)).toEqual(readAll(before.rows));
    }
    const nodes = await admin<{ node: string }>('SELECT DISTINCT node FROM quietcut.write_minutes');
    expect(nodes).toEqual([{ node: 'import' }]);
    const totals = await admin<{ partition: string; s: string; r: string }>('SELECT partition, sum(statements)::text AS s, sum(rows)::text AS r FROM quietcut.write_minutes GROUP BY partition');
    expect(totals.map((t) => [t.partition, Number(t.s), Number(t.r)]).sort()).toEqual([...expected].map(([p, e]) => [p, e.statements, e.rows]).sort());
  });

  test('a 5-minute file imports onto its steps and exports back at 5m', async () => {
    const file = join(work, 'seed.csv');
    const t0 = Date.UTC(2026, 0, 5, 10, 0);
    const csv = ['ts,value', ...[3, 0, 7, 1].map((v, i) => `${new Date(t0 + i * 300_000).toISOString()},${v}`)].join('\n') + '\n';
    writeFileSync(file, csv);
    const config = join(work, 'quietcut.yaml');
    await cli(['stats', 'import', file, '--partition', 'public.seeded', '--node', 'seed', '--config', config]);
    await cli(['stats', 'import', file, '--partition', 'public.seeded', '--node', 'seed', '--config', config]);
    const out = join(work, 'seed-out');
    await cli(['stats', 'export', '--config', config, '--dir', out, '--step', '5m', '--partition', 'public.seeded']);
    expect(readFileSync(join(out, 'public.seeded.csv'), 'utf8')).toBe(csv);
    const c = await node.pool.connect();
    try {
      const listed = await listHistoryPartitions(c, { fromMs: t0, toMs: t0 + 3_600_000 });
      expect(listed).toEqual([{ partition: 'public.seeded', firstMinuteMs: t0, lastMinuteMs: t0 + 900_000, total: 11 }]);
    } finally {
      c.release();
    }
  });

  test('no upstream configured: a clear message', async () => {
    const config = join(work, 'none.yaml');
    writeFileSync(config, 'listen: 127.0.0.1:0\n');
    await expect(cli(['stats', 'export', '--config', config, '--dir', join(work, 'x')])).rejects.toThrow(/no upstream configured/);
  });
});

describe('table stats', () => {
  test('a write that bypasses the proxy shows as quietcut_bypass_rows', async () => {
    const sampler = new TableStatsSampler({ metrics: node.metrics, node: node.node, horizonMs: 3000 });
    const leaves = node.catalog.current.leaves().map((l) => l.name);
    const c = await node.pool.connect();
    try {
      // Baseline: sample until pg_stat_user_tables has caught up with the proxied writes (server
      // backends flush their counters at most once a second, or when they exit).
      let deltas = await sampler.sample(c, leaves, node.recorder.takeRowsSince());
      for (let i = 0; i < 50; i++) {
        await new Promise((r) => setTimeout(r, 200));
        deltas = await sampler.sample(c, leaves, node.recorder.takeRowsSince());
        if ([...deltas.values()].every((d) => d === 0)) break;
      }
      expect([...deltas.values()].every((d) => d === 0)).toBe(true);
      // Rows proxied before the first sample stay credited for a horizon (the server may show them
      // late); a direct write inside it could be taken for one of them.
      const baselineAt = Date.now();
      await waitFor('the credits from before the baseline to lapse', async () => (await sampler.sample(c, leaves, node.recorder.takeRowsSince()), Date.now() > baselineAt + 3200), 20_000);

      const direct = new pg.Client({ connectionString: cluster.url('demo') });
      await direct.connect();
      await direct.query(`INSERT INTO orders (region, amount) VALUES ('apac', 77), ('apac', 78), ('apac', 79)`);
      await direct.query('SELECT pg_stat_force_next_flush()');
      await direct.query('SELECT 1'); // goes idle after the flush request: the counters are flushed
      await direct.end();

      let bypass = 0;
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        await sampler.sample(c, leaves, node.recorder.takeRowsSince());
        const g = (await node.metrics.bypassRows.get()).values.find((v) => v.labels.partition === 'public.orders_apac');
        bypass = g?.value ?? 0;
        if (bypass > 0) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(bypass).toBe(3);
      const s = await readHistory(c, { partition: 'public.orders_apac', source: 'table-stats' });
      expect(s && s.values.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(3);
    } finally {
      c.release();
    }
    const out = join(work, 'table-stats');
    const config = join(work, 'quietcut.yaml');
    await cli(['stats', 'export', '--config', config, '--dir', out, '--source', 'table-stats', '--partition', 'public.orders_apac']);
    expect(readFileSync(join(out, 'public.orders_apac.csv'), 'utf8')).toMatch(/^ts,value\n/);
  });

  test('rows another node wrote are not bypass (its history flush arrives after the server shows them); a direct write still is', async () => {
    // A sampler as a second node would run it: it proxied nothing itself, so every proxied row it
    // may credit comes from what `node` flushed to quietcut.write_minutes.
    const metrics = new Metrics();
    const horizonMs = 2000;
    const sampler = new TableStatsSampler({ metrics, node: `other-${process.pid}`, horizonMs });
    const leaves = node.catalog.current.leaves().map((l) => l.name);
    const bypassOf = async (): Promise<number> => (await metrics.bypassRows.get()).values.find((v) => v.labels.partition === 'public.orders_apac')?.value ?? 0;
    const c = await node.pool.connect();
    try {
      await node.flushStats();
      await waitFor('pg_stat_user_tables to catch up with earlier writes', async () => {
        const d = await sampler.sample(c, leaves, new Map());
        return d.size > 0 && [...d.values()].every((x) => x === 0);
      }, 20_000);
      // and every credit or debt from before has settled
      const settledFrom = Date.now();
      await waitFor('the ledger to settle', async () => (await sampler.sample(c, leaves, new Map()), Date.now() > settledFrom + horizonMs + 200), 20_000);
      expect(await bypassOf()).toBe(0);

      const p = await proxyClient();
      await p.query(`INSERT INTO orders (region, amount) VALUES ('apac', 1), ('apac', 2), ('apac', 3), ('apac', 4), ('apac', 5)`);
      await p.query('SELECT pg_stat_force_next_flush()');
      await p.query('SELECT 1');
      await p.end();
      add('public.orders_apac', 1, 5);
      // The server shows the five rows before `node` flushes its history: they must wait, not count.
      let shownAt = 0;
      const gauges: number[] = [];
      await waitFor('the server to show the proxied rows', async () => {
        const d = await sampler.sample(c, leaves, new Map());
        gauges.push(await bypassOf());
        return (d.get('public.orders_apac') ?? 0) === 5 && (shownAt = Date.now()) > 0;
      }, 20_000);
      await node.flushStats();
      await waitFor('a horizon past the rows', async () => {
        await sampler.sample(c, leaves, new Map());
        gauges.push(await bypassOf());
        return Date.now() > shownAt + horizonMs + 200;
      }, 20_000);
      expect(gauges.every((g) => g === 0), `bypass reported: ${gauges.join(',')}`).toBe(true);

      const direct = new pg.Client({ connectionString: cluster.url('demo') });
      await direct.connect();
      await direct.query(`INSERT INTO orders (region, amount) VALUES ('apac', 77), ('apac', 78)`);
      await direct.query('SELECT pg_stat_force_next_flush()');
      await direct.query('SELECT 1');
      await direct.end();
      const bypass = await waitFor('the direct rows to show as bypass', async () => {
        await sampler.sample(c, leaves, new Map());
        const b = await bypassOf();
        return b > 0 ? b : undefined;
      }, 20_000);
      expect(bypass).toBe(2);
    } finally {
      c.release();
    }
  });
});
