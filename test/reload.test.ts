/**
 * SIGHUP reloads the configuration of a running `quietcut start`, as PgBouncer users expect
 * (systemctl reload): sessions stay, a changed budget applies to the next window, an invalid file
 * leaves the configuration in force alone and is counted.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { NodeState } from '../src/cli/locate.js';
import { startTestCluster } from './helpers/pg.js';
import { consoleQuery as helperConsoleQuery, metricValue } from './helpers/started-node.js';

let cluster: LocalCluster;
let work: string;
let configFile: string;
let child: ChildProcess;
let state: NodeState;
let stderr = '';

function writeConfig(windows: string): void {
  writeFileSync(configFile, `upstream:\n  url: ${cluster.url('demo')}\nlisten: 127.0.0.1:0\nmetrics:\n  listen: 127.0.0.1:0\nlog:\n  level: info\n  pretty: false\nbackup:\n  dir: ${join(work, 'backups')}\n${windows}`);
}

async function until<T>(what: string, f: () => Promise<T | null> | T | null, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== null) return v;
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`timed out waiting for ${what}; node stderr:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const metric = (series: string): Promise<number> => metricValue(state.metrics!, series);
const consoleQuery = (sql: string): Promise<Array<Record<string, string | null>>> => helperConsoleQuery(state.connectionString, sql);

beforeAll(async () => {
  cluster = await startTestCluster();
  work = mkdtempSync(join(tmpdir(), 'qc-reload-'));
  configFile = join(work, 'quietcut.yaml');
  writeConfig('');
  const stateFile = join(work, 'node.json');
  child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', configFile], { env: { ...process.env, QUIETCUT_STATE_FILE: stateFile }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  state = await until('the node state file', () => (existsSync(stateFile) ? (JSON.parse(readFileSync(stateFile, 'utf8')) as NodeState) : null));
});
afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  await cluster?.stop();
});

describe('SIGHUP', () => {
  test('reloads without dropping sessions, applies a changed budget, and keeps the old config when the new one is invalid', async () => {
    const app = new pg.Client({ connectionString: state.connectionString });
    const appErrors: Error[] = [];
    app.on('error', (e) => appErrors.push(e));
    await app.connect();
    const pid = (await app.query<{ p: number }>('select pg_backend_pid() p')).rows[0]!.p;
    await app.query('begin');
    await app.query("insert into orders (region, amount) values ('eu', 1)");

    // a window with the default budget: good
    expect((await consoleQuery('BACKUP orders_eu'))[0]).toMatchObject({ partition: 'public.orders_eu', status: 'good' });

    // a budget of 1 ms over the whole dump (after-dump) cannot be met: the next window aborts
    writeConfig('windows:\n  partitions:\n    public.orders_eu:\n      maxHoldMs: 1\n      release: after-dump\n');
    child.kill('SIGHUP');
    await until('the reload', async () => ((await metric('quietcut_config_reloads_total{result="applied"}')) === 1 ? true : null));
    const aborted = (await consoleQuery('BACKUP orders_eu'))[0]!;
    expect(aborted).toMatchObject({ partition: 'public.orders_eu', status: 'aborted' });
    expect(aborted.reason).toMatch(/disruption budget of 1 ms (exceeded|already spent)/);

    // the open transaction lived through the reload, on the same server backend
    await app.query('commit');
    expect((await app.query<{ p: number }>('select pg_backend_pid() p')).rows[0]!.p).toBe(pid);

    // an invalid file: refused, counted, logged, and the budget of 1 ms stays in force
    writeFileSync(configFile, 'windows:\n  maxHoldMs: -5\n');
    child.kill('SIGHUP');
    await until('the refused reload', async () => ((await metric('quietcut_config_reloads_total{result="invalid"}')) === 1 ? true : null));
    // logged too (the log line may reach the pipe a moment after the metric moved)
    await until('the log line', () => (/configuration reload refused; the previous configuration stays in force/.test(stderr) ? true : null));
    const cfg = await consoleQuery('SHOW CONFIG');
    expect(cfg.find((r) => r.option === 'windows.partitions.public.orders_eu.maxHoldMs')?.value).toBe('1');
    expect(cfg.find((r) => r.option === 'windows.maxHoldMs')?.value).toBe('5000');
    expect((await app.query<{ p: number }>('select pg_backend_pid() p')).rows[0]!.p).toBe(pid);
    expect(child.exitCode).toBeNull();
    expect(appErrors).toEqual([]);
    await app.end();
  });
});
