import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';

let cluster: LocalCluster;
let node: RunningNode;

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.query("insert into orders (region, amount) select 'eu', g from generate_series(1, 1000) g", [], 'demo');
  const dir = mkdtempSync(join(tmpdir(), 'qc-cli-'));
  node = await runNode(loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('demo') }, listen: '127.0.0.1:0', metrics: { listen: null }, backup: { dir } } }), silentLogger);
});
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, QUIETCUT_LOG_LEVEL: 'warn' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

describe('quietcut backup', () => {
  test('asks the running node through the database and prints the result', async () => {
    const r = await cli(['backup', '--upstream', cluster.url('demo'), '--table', 'public.orders', '--json']);
    expect(r.stderr).not.toMatch(/Error/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { status: string; partitions: Array<{ partition: string; status: string; rows: number }> };
    expect(result.status).toBe('good');
    expect(result.partitions.map((p) => p.partition).sort()).toEqual(['public.orders_apac', 'public.orders_eu', 'public.orders_other', 'public.orders_us']);
    expect(result.partitions.find((p) => p.partition === 'public.orders_eu')!.rows).toBe(1000);
    const runs = await cluster.query<{ status: string }>('select status from quietcut.runs', [], 'demo');
    expect(runs.rows.map((x) => x.status)).toEqual(['good']);
    // every window recorded how long its snapshot pin took, for the planner
    const pins = await cluster.query<{ n: number; server: string; drained: number }>('select count(*)::int n, min(server) server, count(drain_ms)::int drained from quietcut.pins', [], 'demo');
    expect(pins.rows[0]).toEqual({ n: 4, server: 'local', drained: 4 });
  });

  test('an unknown partition fails with a clear message and a non-zero exit', async () => {
    const r = await cli(['backup', '--upstream', cluster.url('demo'), '--partition', 'public.nope']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/no managed partition or partitioned table named public\.nope/);
  });

  test('nothing to back up is a usage error', async () => {
    const r = await cli(['backup', '--upstream', cluster.url('demo')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--partition/);
  });
});
