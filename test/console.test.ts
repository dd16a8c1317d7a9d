/**
 * The admin console on the proxy's own port: every command through psql and through pg (simple and
 * extended protocol), the answers compared with each other and with the node's own truth; roles
 * proven by the upstream server; PAUSE held by itself and released by its timeout.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';
import { waitFor } from './helpers/invariants.js';

let cluster: LocalCluster;
let node: RunningNode;
let work: string;
let configFile: string;
let leaves: string[];

function writeConfig(extra = '', listen = '127.0.0.1:0'): void {
  writeFileSync(
    configFile,
    `upstream:\n  url: ${cluster.url('demo')}\nlisten: ${listen}\nmetrics:\n  listen: null\nbackup:\n  dir: ${join(work, 'backups')}\nconsole:\n  roles: [postgres, ops]\n${extra}`,
  );
}

beforeAll(async () => {
  cluster = await startTestCluster({ hbaLines: ['host all ops 127.0.0.1/32 scram-sha-256'] });
  await cluster.query("CREATE ROLE ops LOGIN PASSWORD 'ops-secret'", [], 'postgres');
  await cluster.query("CREATE ROLE stranger LOGIN PASSWORD 'x'", [], 'postgres');
  await cluster.query("insert into orders (region, amount) select 'eu', g from generate_series(1, 100) g", [], 'demo');
  work = mkdtempSync(join(tmpdir(), 'qc-console-'));
  configFile = join(work, 'quietcut.yaml');
  writeConfig();
  const load = () => loadConfig({ file: configFile, env: {} });
  node = await runNode(load(), silentLogger, { reloadConfig: load });
  leaves = node.catalog.current
    .leaves()
    .map((l) => l.name)
    .sort((a, b) => a.localeCompare(b));
});
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

const port = (): number => node.proxy.address.port;
const consoleUrl = (user = 'postgres', password?: string): string => `postgres://${user}${password ? `:${password}` : ''}@127.0.0.1:${port()}/quietcut`;

/** Every value as the text the console sent, so the three ways of asking compare exactly. */
const rawTypes = { getTypeParser: () => (v: string) => v };

async function viaPg(sql: string, extended: boolean, user = 'postgres', password?: string): Promise<{ fields: string[]; rows: Array<Array<string | null>> }> {
  const c = new pg.Client({ connectionString: consoleUrl(user, password), types: rawTypes });
  await c.connect();
  try {
    // A named statement forces Parse/Bind/Describe/Execute/Sync.
    const r = await c.query<Array<string | null>>(extended ? { text: sql, name: 'console_stmt', rowMode: 'array' } : { text: sql, rowMode: 'array' });
    return { fields: r.fields.map((f) => f.name), rows: r.rows };
  } finally {
    await c.end();
  }
}

function viaPsql(sql: string, user = 'postgres'): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('psql', ['-X', '-A', '-F', '\t', '-P', 'footer=off', '-P', 'null=\\N', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port()), '-U', user, '-d', 'quietcut', '-c', sql], {
      env: { ...process.env, PGPASSWORD: '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** psql's unaligned output as header + rows (NULL as \N). */
function psqlTable(out: string): { fields: string[]; rows: Array<Array<string | null>> } {
  const lines = out.split('\n').filter((l) => l !== '');
  const [head, ...rest] = lines;
  return { fields: (head ?? '').split('\t'), rows: rest.map((l) => l.split('\t').map((v) => (v === '\\N' ? null : v))) };
}

/** A read-only command asked three ways (psql, pg simple, pg extended): the same answer each time. */
async function ask(sql: string): Promise<{ fields: string[]; rows: Array<Array<string | null>> }> {
  const simple = await viaPg(sql, false);
  const extended = await viaPg(sql, true);
  const p = await viaPsql(sql);
  expect(p.stderr).toBe('');
  expect(p.code).toBe(0);
  const fromPsql = psqlTable(p.stdout);
  expect(extended.fields).toEqual(simple.fields);
  expect(fromPsql.fields).toEqual(simple.fields);
  // Rates and times move between the three askings; compare the stable columns.
  const stable = (rows: Array<Array<string | null>>, cols: number[]) => rows.map((r) => cols.map((i) => r[i]));
  const cols = simple.fields.map((f, i) => ({ f, i })).filter(({ f }) => !/per_sec|_at$|waiting_ms|client$|until|clock|rtt/.test(f)).map(({ i }) => i);
  expect(stable(extended.rows, cols)).toEqual(stable(simple.rows, cols));
  expect(stable(fromPsql.rows, cols)).toEqual(stable(simple.rows, cols));
  return simple;
}

function column(r: { fields: string[]; rows: Array<Array<string | null>> }, name: string): Array<string | null> {
  const i = r.fields.indexOf(name);
  expect(i, `column ${name} in ${r.fields.join(',')}`).toBeGreaterThanOrEqual(0);
  return r.rows.map((row) => row[i]!);
}

describe('console: who may enter', () => {
  test('a role the server authenticates with its password is served', async () => {
    const r = await viaPg('SHOW HELP', false, 'ops', 'ops-secret');
    expect(column(r, 'command')).toContain('SHOW WINDOWS');
  });

  test('a wrong password gets the server\'s own refusal', async () => {
    await expect(viaPg('SHOW HELP', false, 'ops', 'wrong')).rejects.toMatchObject({ code: '28P01' });
  });

  test('a role not in console.roles is refused before anything reaches the server', async () => {
    await expect(viaPg('SHOW HELP', false, 'stranger', 'x')).rejects.toMatchObject({ code: '28000', message: 'role "stranger" may not use the quietcut console' });
  });

  test('an unknown command is an error for that statement alone, and the session goes on', async () => {
    const c = new pg.Client({ connectionString: consoleUrl() });
    await c.connect();
    await expect(c.query('SELECT 1')).rejects.toMatchObject({ code: '42601', message: expect.stringContaining('unknown quietcut console command') });
    await expect(c.query({ text: 'SHOW NOTHING', name: 'bad' })).rejects.toMatchObject({ code: '42601' });
    expect((await c.query('SHOW HELP')).rows.length).toBeGreaterThan(5);
    await c.end();
  });
});

describe('console: SHOW', () => {
  test('SHOW PARTITIONS lists every managed leaf with its writes through the proxy', async () => {
    const app = new pg.Client({ connectionString: node.connectionString });
    await app.connect();
    for (let i = 0; i < 3; i++) await app.query("insert into orders (region, amount) values ('us', $1)", [i]);
    const r = await ask('SHOW PARTITIONS');
    expect(column(r, 'partition')).toEqual(leaves);
    const us = leaves.indexOf('public.orders_us');
    expect(column(r, 'writes_total')[us]).toBe('3');
    expect(column(r, 'table')[us]).toBe('public.orders');
    // SHOW CLIENTS sees the application's session, with its backend pid as the server knows it
    const pid = (await app.query<{ p: number }>('select pg_backend_pid() p')).rows[0]!.p;
    const clients = await ask('SHOW CLIENTS');
    const mine = clients.rows.filter((row) => row[clients.fields.indexOf('backend_pid')] === String(pid));
    expect(mine).toHaveLength(1);
    expect(mine[0]![clients.fields.indexOf('state')]).toBe('idle');
    expect(mine[0]![clients.fields.indexOf('database')]).toBe('demo');
    await app.end();
  });

  test('SHOW WINDOWS, SHOW RUNS and BACKUP agree with the run the node records', async () => {
    const b = await viaPg('BACKUP orders_eu', false);
    expect(b.fields).toEqual(['partition', 'status', 'rows', 'bytes', 'held', 'window_ms', 'reason', 'run_id']);
    expect(b.rows).toHaveLength(1);
    expect(b.rows[0]!.slice(0, 3)).toEqual(['public.orders_eu', 'good', '100']);
    const runId = b.rows[0]![7]!;
    const runs = await ask('SHOW RUNS');
    const truth = await cluster.query<{ run_id: string; status: string }>('select run_id, status from quietcut.runs order by started_at desc', [], 'demo');
    expect(column(runs, 'run_id')).toEqual(truth.rows.map((x) => x.run_id));
    expect(column(runs, 'run_id')[0]).toBe(runId);
    expect(column(runs, 'status')[0]).toBe('good');
    expect(column(runs, 'good')[0]).toBe('1');
    const w = await ask('SHOW WINDOWS');
    const eu = leaves.indexOf('public.orders_eu');
    expect(column(w, 'partition')).toEqual(leaves);
    expect(column(w, 'last_status')[eu]).toBe('good');
    expect(column(w, 'windows')[eu]).toBe('1');
    expect(column(w, 'state')[eu]).toBe('idle');
    // by psql too, with a table name for all its partitions and a typo that gets a suggestion
    const p = await viaPsql('BACKUP public.orders');
    expect(p.code).toBe(0);
    expect(psqlTable(p.stdout).rows.map((row) => [row[0], row[1]])).toEqual(['apac', 'eu', 'other', 'us'].map((x) => [`public.orders_${x}`, 'good']));
    const typo = await viaPsql('BACKUP orders_uss');
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('no managed partition or partitioned table named orders_uss; did you mean orders_us?');
  });

  test('SHOW NODES names this node; SHOW CONFIG shows what is in force', async () => {
    const n = await ask('SHOW NODES');
    const truth = await cluster.query<{ node: string; pid: number }>('select node, pid from quietcut.nodes order by node', [], 'demo');
    expect(column(n, 'node')).toEqual(truth.rows.map((r) => r.node));
    const me = column(n, 'node').indexOf(node.node);
    expect(column(n, 'this')[me]).toBe('t');
    expect(column(n, 'live')[me]).toBe('t');
    expect(column(n, 'pid')[me]).toBe(String(process.pid));
    const c = await ask('SHOW CONFIG');
    const value = (o: string) => c.rows.find((r) => r[0] === o)?.[1];
    expect(value('windows.maxHoldMs')).toBe('5000');
    expect(value('console.roles')).toBe('["postgres","ops"]');
    expect(c.rows.find((r) => r[0] === 'listen')?.[2]).toBe('restart');
    expect(c.rows.find((r) => r[0] === 'windows.maxHoldMs')?.[2]).toBe('live');
  });
});

describe('console: PAUSE, RESUME, SHOW HOLDS', () => {
  test('PAUSE holds one partition only, SHOW HOLDS shows the held session, RESUME releases it', async () => {
    const p = await viaPsql('PAUSE orders_us TIMEOUT 60s');
    expect(p.code).toBe(0);
    expect(psqlTable(p.stdout).rows.map((r) => r[0])).toEqual(['public.orders_us']);
    const app = new pg.Client({ connectionString: node.connectionString });
    await app.connect();
    const pid = (await app.query<{ p: number }>('select pg_backend_pid() p')).rows[0]!.p;
    let done = false;
    const held = app.query("insert into orders (region, amount) values ('us', 42) returning id").then((r) => {
      done = true;
      return r;
    });
    // another partition's writes pass while orders_us is paused
    const other = new pg.Client({ connectionString: node.connectionString });
    await other.connect();
    await other.query("insert into orders (region, amount) values ('eu', 1)");
    await other.end();
    const holds = await waitFor('the held session in SHOW HOLDS', async () => {
      const h = await viaPg('SHOW HOLDS', true);
      return h.rows.length > 0 ? h : null;
    });
    expect(holds.rows).toHaveLength(1);
    expect(column(holds, 'partition')).toEqual(['public.orders_us']);
    expect(column(holds, 'backend_pid')).toEqual([String(pid)]);
    expect(column(holds, 'held_by')).toEqual(['pause']);
    expect(done).toBe(false);
    const w = await viaPg('SHOW WINDOWS', false);
    expect(column(w, 'state')[leaves.indexOf('public.orders_us')]).toBe('paused');
    // a second pause of the same partition is refused
    await expect(viaPg('PAUSE public.orders_us', false)).rejects.toMatchObject({ code: '55006' });
    const r = await viaPg('RESUME orders_us', false);
    expect(r.rows).toEqual([['public.orders_us']]);
    const res = await held;
    const id = res.rows[0]!.id;
    expect((await cluster.query<{ n: number }>('select count(*)::int n from orders_us where id = $1', [id], 'demo')).rows[0]!.n).toBe(1);
    expect((await viaPg('SHOW HOLDS', false)).rows).toEqual([]);
    await app.end();
  });

  test('a held client gets one NOTICE naming the partition and the expected release, then its answer', async () => {
    const p = await viaPg('PAUSE orders_other TIMEOUT 60s', false);
    const until = new Date(Date.parse(p.rows[0]![1]!.replace(' ', 'T').replace('+00', 'Z'))).toISOString();
    const app = new pg.Client({ connectionString: node.connectionString });
    const notices: string[] = [];
    app.on('notice', (n) => notices.push(n.message ?? ''));
    await app.connect();
    const held = app.query("insert into orders (region, amount) values ('zz', 9) returning id");
    await waitFor('the NOTICE for the held write', () => notices.length > 0);
    expect(notices).toEqual([`quietcut: this write waits for a backup window on partition public.orders_other; it is sent on by ${until} at the latest`]);
    await viaPg('RESUME orders_other', false);
    const r = await held;
    expect(r.rows).toHaveLength(1);
    // the session is in step: a pipelined pair afterwards is answered normally
    const [a, b] = await Promise.all([app.query('select 1 as x'), app.query('select 2 as x')]);
    expect([a.rows[0].x, b.rows[0].x]).toEqual([1, 2]);
    expect(notices).toHaveLength(1);
    await app.end();
  });

  test('a held write its client cancels gets 57014 at once and never runs; a cancelled held COMMIT rolls its transaction back', async () => {
    await viaPg('PAUSE orders_us TIMEOUT 60s', false);
    const app = new pg.Client({ connectionString: node.connectionString }) as pg.Client & { processID: number; secretKey: number };
    await app.connect();
    const cancel = async (): Promise<void> => {
      const sock = connect({ host: '127.0.0.1', port: port() });
      await new Promise((r) => sock.once('connect', r));
      sock.end(serialize.cancel(app.processID, app.secretKey));
    };
    const heldNow = async (): Promise<boolean> => (await viaPg('SHOW HOLDS', false)).rows.length === 1;
    try {
      const before = (await cluster.query<{ n: number }>("select count(*)::int n from orders_us where amount = 4711", [], 'demo')).rows[0]!.n;
      const write = app.query("insert into orders (region, amount) values ('us', 4711)").then(() => 'committed', (e: { code?: string }) => e.code);
      await waitFor('the write to be held', heldNow);
      await cancel();
      expect(await write).toBe('57014');
      // a transaction whose COMMIT is held and cancelled: rolled back, the session idle again
      await app.query('begin');
      await app.query("insert into orders (region, amount) values ('us', 4711)");
      const commit = app.query('commit').then(() => 'committed', (e: { code?: string }) => e.code);
      await waitFor('the commit to be held', heldNow);
      await cancel();
      expect(await commit).toBe('57014');
      expect((await app.query<{ x: number }>('select 1 as x')).rows[0]!.x).toBe(1);
      await viaPg('RESUME orders_us', false);
      expect((await cluster.query<{ n: number }>("select count(*)::int n from orders_us where amount = 4711", [], 'demo')).rows[0]!.n).toBe(before);
    } finally {
      await viaPg('RESUME ALL', false);
      await app.end();
    }
  });

  test('PAUSE with a timeout releases by itself', async () => {
    const p = await viaPg('PAUSE public.orders_apac TIMEOUT 1500ms', true);
    const until = Date.parse(p.rows[0]![1]!.replace(' ', 'T').replace('+00', 'Z'));
    const app = new pg.Client({ connectionString: node.connectionString });
    await app.connect();
    const r = await app.query("insert into orders (region, amount) values ('apac', 7) returning id");
    // the insert was answered only once the pause had ended by its own timer
    expect(Date.now()).toBeGreaterThanOrEqual(until - 5);
    expect((await cluster.query<{ n: number }>('select count(*)::int n from orders_apac where id = $1', [r.rows[0]!.id], 'demo')).rows[0]!.n).toBe(1);
    expect(node.pauses.list()).toEqual([]);
    await app.end();
  });

  test('a pause longer than console.maxPauseMs and a bad duration are refused', async () => {
    await expect(viaPg('PAUSE orders_eu TIMEOUT 10min', false)).rejects.toMatchObject({ code: '22023' });
    await expect(viaPg('PAUSE orders_eu TIMEOUT soon', false)).rejects.toMatchObject({ code: '22023', message: expect.stringContaining('invalid duration') });
    expect(node.pauses.list()).toEqual([]);
  });
});

describe('console: RELOAD', () => {
  test('RELOAD applies a changed budget, names options that need a restart, and refuses an invalid file', async () => {
    writeConfig('windows:\n  maxHoldMs: 1234\n');
    const r = await viaPg('RELOAD', false);
    expect(r.rows).toEqual([['windows.maxHoldMs', '5000', '1234', 'live']]);
    expect(node.config.windows.maxHoldMs).toBe(1234);
    writeFileSync(configFile, 'windows: [not, a, map]\n');
    await expect(viaPsql('RELOAD')).resolves.toMatchObject({ code: 1, stderr: expect.stringContaining('configuration not reloaded, the previous one stays in force') });
    expect(node.config.windows.maxHoldMs).toBe(1234);
    writeConfig('windows:\n  maxHoldMs: 5000\n', '127.0.0.1:1');
    const c = new pg.Client({ connectionString: consoleUrl() });
    c.on('error', () => undefined);
    const notices: string[] = [];
    c.on('notice', (n) => notices.push(n.message ?? ''));
    await c.connect();
    const rr = await c.query('RELOAD');
    expect(rr.rows.map((x: Record<string, string>) => [x.option, x.applies])).toEqual([
      ['listen', 'restart'],
      ['windows.maxHoldMs', 'live'],
    ]);
    expect(notices).toEqual(['needs a restart to take effect: listen']);
    await c.end();
    writeConfig();
    await node.reload();
  });
});
