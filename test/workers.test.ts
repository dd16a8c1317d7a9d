/**
 * `quietcut start --workers 2`, the real executable: two worker processes share one port, each a
 * full node; the primary serves the one metrics endpoint and relays cancels and console commands.
 * The server is the oracle of the window (commit timestamps), as in multi-node.test.ts.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { serialize } from 'pg-protocol';
import type { NodeState } from '../src/cli/locate.js';
import type { NodeStatusJson } from '../src/cli/status-table.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { workerOfSecret } from '../src/proxy/cancel-key.js';
import { MAX_RAPID_CRASHES } from '../src/cli/workers/primary.js';
import { sharedWindowKey } from '../src/windows/coordination.js';
import { alive, CliNodes, cliConfigFile, cliStatus, withOutput, type Started } from './helpers/cli-node.js';
import { committedBetween, createWriterTable, windowTimes } from './helpers/cut-checks.js';
import { windowWithWriters as helperWindowWithWriters, type WindowWithWritersOptions } from './helpers/workers-window.js';
import { waitFor } from './helpers/invariants.js';
import { startTestCluster } from './helpers/pg.js';
import { consoleQuery as helperConsoleQuery, metricValue } from './helpers/started-node.js';

let cluster: LocalCluster;
let work: string;
let primary: Started;
let state: NodeState;

const configFile = (): string => cliConfigFile(work, cluster.url('demo'));
let cli: CliNodes;
const startCli = (args: string[]): Started => cli.start(args);

beforeAll(async () => {
  cluster = await startTestCluster({ settings: { track_commit_timestamp: 'on' } });
  await createWriterTable(cluster);
  work = mkdtempSync(join(tmpdir(), 'qc-workers-'));
  cli = new CliNodes(work);
  primary = startCli(['--workers', '2', '--config', configFile()]);
  state = await primary.served();
}, 150_000);
afterAll(async () => {
  await cli?.stopAll();
  await cluster?.stop();
});

const port = (): number => Number(new URL(state.connectionString).port);

const status = (metrics = state.metrics): Promise<NodeStatusJson> => cliStatus(metrics!);

const metric = (series: string): Promise<number> => metricValue(state.metrics!, series);
const consoleQuery = (sql: string): Promise<Array<Record<string, string | null>>> => helperConsoleQuery(state.connectionString, sql);

type KeyedClient = pg.Client & { processID: number; secretKey: number };

/** Run `f` with a client on each worker slot (the key names the worker); every client opened ends after. */
async function withClientPerWorker(f: (bySlot: Map<number, KeyedClient>) => Promise<void>): Promise<void> {
  const bySlot = new Map<number, KeyedClient>();
  const all: KeyedClient[] = [];
  try {
    await waitFor('a client on each worker', async () => {
      const c = new pg.Client({ connectionString: state.connectionString }) as KeyedClient;
      c.on('error', () => undefined);
      await c.connect();
      all.push(c);
      const slot = workerOfSecret(c.secretKey);
      if (!bySlot.has(slot)) bySlot.set(slot, c);
      return bySlot.size === 2;
    });
    await f(bySlot);
  } finally {
    for (const c of all) await c.end();
  }
}

/** The client's end of its connection, as quietcut names it (host:port). */
const clientAddress = (c: pg.Client): string => {
  const sock = (c as unknown as { connection: { stream: { localAddress: string; localPort: number } } }).connection.stream;
  return `${sock.localAddress}:${sock.localPort}`;
};

async function sendCancel(c: KeyedClient): Promise<void> {
  const sock = connect({ host: '127.0.0.1', port: port() });
  await new Promise((r) => sock.once('connect', r));
  sock.end(serialize.cancel(c.processID, c.secretKey));
}

const running = async (pid: number, text: string): Promise<boolean> =>
  (await cluster.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE pid = $1 AND state = 'active' AND query LIKE $2`, [pid, `%${text}%`], 'demo')).rows[0]!.n === '1';

const windowWithWriters = (o: WindowWithWritersOptions = {}): Promise<{ runId: string; runner: string }> => helperWindowWithWriters({ cluster, state }, o);

describe('quietcut start --workers 2', () => {
  test('connections land on both workers; /status, SHOW NODES and /metrics cover every worker', async () => {
    // the state file names the primary, with the one port and the one metrics endpoint
    expect(state.pid).toBe(primary.child.pid);
    await withClientPerWorker(async () => {
      const s = await status();
      expect(s.workers).toHaveLength(2);
      expect(s.workers!.map((w) => w.slot)).toEqual([0, 1]);
      for (const w of s.workers!) expect(w.clients, w.node).toBeGreaterThan(0);
      expect(new Set(s.workers!.map((w) => w.pid)).size).toBe(2);
      // the gauge on the one endpoint is the sum of the workers' own values
      expect(await metric('quietcut_client_connections')).toBe(s.workers!.reduce((n, w) => n + w.clients, 0));
      // a fact every worker states alike is not multiplied
      expect(await metric(`quietcut_build_info{version="${state.version}",node="${process.version}"}`)).toBe(1);
      expect(await (await fetch(`http://${state.metrics}/healthz`)).text()).toBe('ok\n');
      const nodes = await consoleQuery('SHOW NODES');
      for (const w of s.workers!) expect(nodes.find((n) => n.node === w.node), w.node).toMatchObject({ live: 't', role: 'worker', pid: String(w.pid) });
    });
  });

  test('a running query is cancelled by one CancelRequest, whichever worker accepts it (relayed to the one that has the session)', async () => {
    const relayedBefore = await metric('quietcut_cancel_requests_total{outcome="relayed"}');
    await withClientPerWorker(async (bySlot) => {
      // One cancel per query, sessions in the order a a b b …: accepted connections alternate over
      // the workers, so whatever the phase, cancels reach the worker without the session too.
      const [a, b] = [bySlot.get(0)!, bySlot.get(1)!];
      for (let round = 0; round < 12; round++) {
        const c = [a, a, b, b][round % 4]!;
        const q = c.query('select pg_sleep(30)').then(
          () => 'finished',
          (e: { code?: string }) => e.code,
        );
        await waitFor('the sleep to run on the server', () => running(c.processID, 'pg_sleep'));
        await sendCancel(c);
        expect(await q).toBe('57014');
        expect((await c.query<{ ok: number }>('select 1 as ok')).rows[0]!.ok).toBe(1);
        if (round >= 3 && (await metric('quietcut_cancel_requests_total{outcome="relayed"}')) > relayedBefore) break;
      }
      // a forged key (a worker slot that exists, a session that does not) is ignored
      const c = bySlot.get(0)!;
      const q = c.query<{ done: string }>('select pg_sleep(0.3)::text as done');
      await sendCancel({ processID: 12345, secretKey: 999 } as KeyedClient);
      expect((await q).rows[0]!.done).toBe('');
    });
  });

  test('PAUSE on the console holds writes on both workers; SHOW HOLDS, SHOW CLIENTS and SHOW WINDOWS answer for both workers; a cancelled held write gets 57014 and never commits', async () => {
    const heldBefore = await metric('quietcut_held_writes_total{partition="public.w_1"}');
    await withClientPerWorker(async (bySlot) => {
      try {
        await consoleQuery('PAUSE public.w_1 TIMEOUT 60s');
        const ids = [900_001, 900_002];
        const writes = [...bySlot.values()].map((c, i) =>
          c.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 1, 0, 0)', [ids[i]]).then(
            () => 'committed',
            (e: { code?: string }) => e.code,
          ),
        );
        // One held on each worker: the counter on the endpoint is the sum of the two.
        await waitFor('a write held on each worker', async () => (await metric('quietcut_held_writes_total{partition="public.w_1"}')) === heldBefore + 2);
        // One console session answers for the host: both workers' held sessions and clients.
        const addresses = [...bySlot.values()].map(clientAddress).sort();
        const holds = await consoleQuery('SHOW HOLDS');
        expect(holds.map((h) => [h.partition, h.client, h.held_by]).sort()).toEqual(addresses.map((a) => ['public.w_1', a, 'pause']));
        expect(holds.every((h) => typeof h.release_by === 'string' && !Number.isNaN(Date.parse(h.release_by)))).toBe(true);
        const clients = await consoleQuery('SHOW CLIENTS');
        expect(clients.filter((c) => addresses.includes(c.client!)).map((c) => [c.client, c.state]).sort()).toEqual(addresses.map((a) => [a, 'held']));
        const windows = (await consoleQuery('SHOW WINDOWS')).filter((w) => w.partition === 'public.w_1');
        expect(windows.map((w) => [w.state, w.held_now])).toEqual([['paused', '2']]);
        for (const c of bySlot.values()) await sendCancel(c);
        // a cancel that did not reach the worker holding the write would leave it to commit at the pause's end
        expect(await Promise.all(writes)).toEqual(['57014', '57014']);
        await consoleQuery('RESUME ALL');
        for (const c of bySlot.values()) expect((await c.query<{ ok: number }>('select 1 as ok')).rows[0]!.ok).toBe(1);
        const { rows } = await cluster.query<{ n: string }>('SELECT count(*) AS n FROM w WHERE id = ANY($1)', [ids], 'demo');
        expect(rows[0]!.n).toBe('0');
      } finally {
        await consoleQuery('RESUME ALL').catch(() => undefined);
      }
    });
  });

  test('SIGHUP and the console RELOAD reload every worker', async () => {
    const before = await metric('quietcut_config_reloads_total{result="applied"}');
    primary.child.kill('SIGHUP');
    await waitFor('both workers to reload on SIGHUP', async () => (await metric('quietcut_config_reloads_total{result="applied"}')) === before + 2);
    await consoleQuery('RELOAD');
    expect(await metric('quietcut_config_reloads_total{result="applied"}')).toBe(before + 4);
  });

  test('after-dump window with writers on both workers: both hold it, no write commits between cut and window end, nothing lost or duplicated', async () => {
    const { runId, runner } = await windowWithWriters();
    // Both workers took part: the runner, and the other one acknowledged holding the window.
    const nodes = (await status()).workers!.map((w) => w.node);
    expect(nodes).toContain(runner);
    const { rows: acks } = await cluster.query<{ node: string; state: string }>('SELECT node, state FROM quietcut.window_acks WHERE window_key = $1', [sharedWindowKey(runId, 'public.w_0')], 'demo');
    expect(acks).toEqual([{ node: nodes.find((n) => n !== runner)!, state: 'released' }]);
  }, 180_000);

  test('a worker killed with SIGKILL in the middle of a window is restarted; the window holds and nothing is lost', async () => {
    let victim: { slot: number; pid: number } | null = null;
    // pg clients only: a writer whose worker dies stops writing (the pipelined one would fail the test)
    await withOutput(
      primary,
      windowWithWriters({
        kinds: ['simple', 'extended', 'transaction', 'extended'],
        during: async (runner) => {
          victim = (await status()).workers!.find((w) => w.node !== runner)!;
          process.kill(victim.pid, 'SIGKILL');
        },
      }),
    );
    const dead = victim!;
    const back = await waitFor('the killed worker to be back', async () => (await status()).workers?.find((w) => w.slot === dead.slot && w.pid !== dead.pid));
    expect(alive(dead.pid)).toBe(false);
    await waitFor('the dead worker to be logged', () => /worker died/.test(primary.out()));
    await waitFor('the new worker to be live', async () => (await consoleQuery('SHOW NODES')).some((n) => n.node === back.node && n.live === 't'));
    // and it takes part in the next window like any node
    const { runId, runner } = await withOutput(primary, windowWithWriters());
    const { rows: acks } = await cluster.query<{ node: string }>('SELECT node FROM quietcut.window_acks WHERE window_key = $1', [sharedWindowKey(runId, 'public.w_0')], 'demo');
    expect([runner, ...acks.map((a) => a.node)]).toContain(back.node);
  }, 240_000);

  test('a worker started mid-window (its predecessor SIGKILLed) holds the window before its first client, and the window stays a cut', async () => {
    // A straggler row (a live lease that never acknowledges) keeps the runner waiting before its
    // cut, so the window is surely still open when the new worker starts.
    const straggler = `straggler-${process.pid}-${Date.now()}`;
    await cluster.query(`INSERT INTO quietcut.nodes (node, lease_expires_at) VALUES ($1, clock_timestamp() + interval '10 minutes')`, [straggler], 'demo');
    const letGo = (): Promise<unknown> => cluster.query('UPDATE quietcut.nodes SET lease_expires_at = clock_timestamp() WHERE node = $1', [straggler], 'demo');
    const backup = consoleQuery('BACKUP public.w_0');
    try {
      const { key, runner } = await waitFor('the window to open', async () => {
        const { rows } = await cluster.query<{ key: string; runner: string }>(`SELECT window_key AS key, runner FROM quietcut.windows WHERE state = 'open' AND 'public.w_0' = ANY(partitions)`, [], 'demo');
        return rows[0];
      });
      const victim = (await status()).workers!.find((w) => w.node !== runner)!;
      process.kill(victim.pid, 'SIGKILL');
      const back = await waitFor('the killed worker to be back', async () => (await status()).workers?.find((w) => w.slot === victim.slot && w.pid !== victim.pid));
      // It holds the open window (a node arms every open window before it accepts a client) and
      // says so: drained, the acknowledgement the runner's cut waits for.
      await waitFor('the new worker to acknowledge the open window', async () => (await cluster.query('SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = $2 AND state = $3', [key, back.node, 'drained'], 'demo')).rowCount === 1);
      // A write through either worker now is held, not committed.
      const c = new pg.Client({ connectionString: state.connectionString });
      await c.connect();
      const id = -Date.now();
      const write = c.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 99, 0)', [id]);
      await waitFor('the write to be held', async () => (await metric('quietcut_hold_queue_depth{partition="public.w_0"}')) === 1);
      expect((await cluster.query('SELECT 1 FROM w WHERE id = $1', [id], 'demo')).rowCount).toBe(0);
      await letGo();
      const [row] = await backup;
      expect(row, JSON.stringify(row)).toMatchObject({ partition: 'public.w_0', status: 'good' });
      await write;
      await c.end();
      const { cutMs, endMs } = await windowTimes(cluster, row!.run_id!, 'public.w_0');
      expect(await committedBetween(cluster, cutMs, endMs)).toBe(0);
      const { rows } = await cluster.query<{ at: number }>('SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000 AS at FROM w WHERE id = $1', [id], 'demo');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.at).toBeGreaterThan(endMs);
    } finally {
      await letGo();
      await backup.catch(() => undefined);
    }
  }, 180_000);

  test('SIGTERM stops every worker and the primary exits 0', async () => {
    const pids = (await status()).workers!.map((w) => w.pid);
    primary.child.kill('SIGTERM');
    expect(await primary.exited).toBe(0);
    for (const pid of pids) expect(alive(pid), `worker ${pid}`).toBe(false);
  });
});

describe('quietcut start --workers fails fast', () => {
  let busy: Server;
  beforeAll(async () => {
    busy = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  });
  afterAll(() => busy?.close());

  test('a listen port in use stops every worker and exits 1 naming listen', async () => {
    const busyPort = (busy.address() as { port: number }).port;
    const s = startCli(['--workers', '2', '--config', configFile(), '--listen', `127.0.0.1:${busyPort}`]);
    expect(await s.exited).toBe(1);
    expect(s.out()).toMatch(new RegExp(`cannot start: 127\\.0\\.0\\.1:${busyPort} is already in use .*change 'listen' \\(--listen\\)`));
  }, 90_000);

  test('demo mode (no upstream) refuses more than one worker, naming the options', async () => {
    const s = startCli(['--workers', '2', '--listen', '127.0.0.1:0', '--metrics', '127.0.0.1:0']);
    expect(await s.exited).toBe(2);
    expect(s.out()).toMatch(/'workers' \(--workers\) 2 needs an upstream: set upstream\.url \(--upstream\)/);
  }, 60_000);

  test('--workers 0 is refused by the config schema, naming the key', async () => {
    const s = startCli(['--workers', '0', '--config', configFile()]);
    expect(await s.exited).toBe(2);
    expect(s.out()).toMatch(/workers: /);
  }, 60_000);
});

describe('a primary and its workers end together', () => {
  test(`a worker that keeps dying is restarted, up to ${MAX_RAPID_CRASHES} deaths a minute; then every process stops and the primary exits 1`, async () => {
    const s = startCli(['--workers', '2', '--config', configFile()]);
    const st = await s.served();
    const all = new Set<number>();
    for (let i = 0; i < MAX_RAPID_CRASHES; i++) {
      const w = await waitFor('worker 0 to serve', async () => (await status(st.metrics)).workers?.find((x) => x.slot === 0 && !all.has(x.pid)));
      for (const x of (await status(st.metrics)).workers!) all.add(x.pid);
      process.kill(w.pid, 'SIGKILL');
    }
    expect(await s.exited).toBe(1);
    expect(s.out()).toMatch(/workers keep dying: giving up/);
    for (const pid of all) await waitFor(`worker ${pid} to be gone`, () => !alive(pid));
  }, 180_000);

  test('a primary killed with SIGKILL takes its workers with it', async () => {
    const s = startCli(['--workers', '2', '--config', configFile()]);
    const st = await s.served();
    const pids = (await status(st.metrics)).workers!.map((w) => w.pid);
    expect(st.pid).toBe(s.child.pid);
    s.child.kill('SIGKILL');
    await s.exited;
    for (const pid of pids) await waitFor(`worker ${pid} to stop`, () => !alive(pid));
  }, 120_000);
});
