/**
 * `quietcut start --workers 2` under what multi-node.test.ts gives single nodes: workers whose
 * clocks are injected apart, one worker cut off from the database in the middle of a window, and
 * the worker running a window killed with SIGKILL.
 * Each worker is a node; the server is the oracle (commit timestamps, window and ack records).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { formatMargin } from '../src/cli/commands/plan.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { TEST_WORKER_OPTIONS_ENV, type TestWorkerOptions } from '../src/cli/workers/test-options.js';
import { loadConfig } from '../src/config/load.js';
import { computePlan } from '../src/coordinator/plan-cycle.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { workerOfSecret } from '../src/proxy/cancel-key.js';
import { silentLogger } from '../src/util/log.js';
import { sharedWindowKey } from '../src/windows/coordination.js';
import { CliNodes, cliConfigFile, cliStatus, withOutput, type Started } from './helpers/cli-node.js';
import { committedBetween, createWriterTable, straggler, windowTimes } from './helpers/cut-checks.js';
import { waitFor } from './helpers/invariants.js';
import { testNodeConfig } from './helpers/node.js';
import { startTestCluster } from './helpers/pg.js';
import { Relay } from './helpers/relay.js';
import { consoleQuery, metricValue } from './helpers/started-node.js';
import { freshId } from './helpers/writers.js';
import { windowWithWriters } from './helpers/workers-window.js';

let cluster: LocalCluster;
let work: string;
let cli: CliNodes;

beforeAll(async () => {
  cluster = await startTestCluster({ settings: { track_commit_timestamp: 'on' } });
  await createWriterTable(cluster);
  work = mkdtempSync(join(tmpdir(), 'qc-workers-faults-'));
  cli = new CliNodes(work);
}, 120_000);
afterAll(async () => {
  await cli?.stopAll();
  await cluster?.stop();
});

const withOptions = (o: TestWorkerOptions): NodeJS.ProcessEnv => ({ [TEST_WORKER_OPTIONS_ENV]: JSON.stringify(o) });

async function workersOf(metrics: string): Promise<Array<{ slot: number; node: string; pid: number }>> {
  return waitFor('both workers to serve', async () => {
    const ws = (await cliStatus(metrics)).workers ?? [];
    return ws.length === 2 && ws.every((w) => w.node !== '') ? ws : null;
  });
}

/** A client session of that worker (the cancel key names it): connections are opened until one lands there; all go into `opened`. */
function clientOn(connectionString: string, slot: number, opened: pg.Client[]): Promise<pg.Client> {
  return waitFor(`a client on worker ${slot}`, async () => {
    const c = new pg.Client({ connectionString }) as pg.Client & { secretKey: number };
    c.on('error', () => undefined);
    await c.connect();
    opened.push(c);
    return workerOfSecret(c.secretKey) === slot ? c : null;
  });
}

async function stop(s: Started): Promise<void> {
  s.child.kill('SIGTERM');
  expect(await s.exited).toBe(0);
}

describe('--workers 2, worker 0 400 ms ahead and worker 1 250 ms behind the server', () => {
  test('each worker measures its own offset within its uncertainty; the plan margin covers the worst; an after-dump window with writers on both is one cut', async () => {
    const injected = [400, -250];
    const file = cliConfigFile(work, cluster.url('demo'));
    const p = cli.start(['--workers', '2', '--config', file], withOptions({ '0': { clockOffsetMs: injected[0]! }, '1': { clockOffsetMs: injected[1]! } }));
    const state = await p.served();
    const workers = await workersOf(state.metrics!);
    type Row = { node: string; offset: number; unc: number };
    const measured = await waitFor('both workers to report a clock offset', async () => {
      const { rows } = await cluster.query<Row>(
        `SELECT node, clock_offset_ms AS offset, clock_uncertainty_ms AS unc FROM quietcut.nodes WHERE node = ANY($1) AND clock_offset_ms IS NOT NULL AND lease_expires_at > clock_timestamp()`,
        [workers.map((w) => w.node)],
        'demo',
      );
      return rows.length === 2 ? new Map(rows.map((r) => [r.node, r])) : null;
    });
    for (const w of workers) {
      const r = measured.get(w.node)!;
      // server − node clock: a worker whose clock runs 400 ms ahead is 400 ms behind the server
      expect(Math.abs(r.offset - -injected[w.slot]!), `worker ${w.slot}`).toBeLessThanOrEqual(r.unc);
      expect(r.unc).toBeGreaterThan(0);
    }
    // The one metrics endpoint keeps each worker's offset apart (a sum or a max of signed offsets would say nothing).
    for (const w of workers) {
      const off = await metricValue(state.metrics!, `quietcut_node_clock_offset_seconds{node="${w.node}"}`);
      expect(Math.abs(off * 1000 - -injected[w.slot]!), `worker ${w.slot} on /metrics`).toBeLessThanOrEqual(250);
      expect(Math.sign(off)).toBe(-Math.sign(injected[w.slot]!));
    }

    // The planner's margin is made of what the live workers measured.
    const client = new pg.Client({ connectionString: cluster.url('demo') });
    await client.connect();
    try {
      const interval = { startMs: Date.now() + 3_600_000, endMs: Date.now() + 7_200_000 };
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const plan = await computePlan(client, loadConfig({ file, env: {} }), { interval, leaves: [] });
      const { rows } = await client.query<Row>(`SELECT node, clock_offset_ms AS offset, clock_uncertainty_ms AS unc FROM quietcut.nodes WHERE lease_expires_at > clock_timestamp()`);
      await client.query('COMMIT');
      const worst = Math.max(...rows.map((r) => Math.abs(r.offset) + r.unc));
      expect(plan.margin.nodes).toBe(2);
      expect(plan.margin.skewMs).toBeCloseTo(worst, 6);
      expect(plan.margin.skewMs).toBeGreaterThanOrEqual(400);
      expect(formatMargin(plan)).toContain(`2 live node(s), measured max |offset| + uncertainty ${Math.round(worst)} ms`);
    } finally {
      await client.end();
    }

    const { runId, runner } = await withOutput(p, windowWithWriters({ cluster, state }));
    const { rows: acks } = await cluster.query<{ node: string; state: string }>('SELECT node, state FROM quietcut.window_acks WHERE window_key = $1', [sharedWindowKey(runId, 'public.w_0')], 'demo');
    expect(workers.map((w) => w.node)).toContain(runner);
    expect(acks).toEqual([{ node: workers.find((w) => w.node !== runner)!.node, state: 'released' }]);
    await stop(p);
  }, 240_000);
});

describe('--workers 2, worker 1 cut off from the database mid-window', () => {
  test('the cut-off worker holds its write to the budget and then lets it go; the window, run by another node, stays a cut; back in contact the worker reports aborted and writes go on', async () => {
    const relay = await Relay.start({ host: cluster.host, port: cluster.port });
    const budget = 12_000;
    const p = cli.start(['--workers', '2', '--config', cliConfigFile(work, cluster.url('demo'), { windows: { maxHoldMs: budget } })], withOptions({ '1': { adminVia: { host: '127.0.0.1', port: relay.port } } }));
    let a: RunningNode | null = null;
    const { join: holdOpen, letGo } = straggler(cluster);
    const clients: pg.Client[] = [];
    try {
      const state = await p.served();
      const workers = await workersOf(state.metrics!);
      const cutNode = workers.find((w) => w.slot === 1)!.node;
      const inContact = workers.find((w) => w.slot === 0)!.node;
      a = await runNode(testNodeConfig(cluster.url('demo'), join(work, 'backups'), { nodes: { leaseMs: 3000, heartbeatMs: 200, pollMs: 100 }, windows: { maxHoldMs: budget } }), silentLogger);
      // A client of worker 1 (the key names the worker that owns the session).
      const mine = await clientOn(state.connectionString, 1, clients);

      // A window kept open by a straggler (a live lease that never acknowledges), run by node a.
      await holdOpen();
      const result = a.backup(['public.w_0'], { release: 'after-dump' });
      const key = await waitFor('the window to open', async () => {
        const { rows } = await cluster.query<{ key: string }>(`SELECT window_key AS key FROM quietcut.windows WHERE runner = $1 AND state = 'open'`, [a!.node], 'demo');
        return rows[0]?.key;
      });
      await waitFor('both workers to acknowledge holding', async () => (await cluster.query(`SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = ANY($2) AND state = 'drained'`, [key, [cutNode, inContact]], 'demo')).rowCount === 2);
      const id = freshId();
      const write = mine.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 96, 0)', [id]);
      await waitFor('the write to be held', async () => (await metricValue(state.metrics!, 'quietcut_hold_queue_depth{partition="public.w_0"}')) === 1);

      relay.cut();
      await waitFor('worker 1 to know it is out of contact', async () => (await metricValue(state.metrics!, 'quietcut_node_out_of_contact')) === 1);
      await letGo();
      const r = await result;
      expect(r.status, JSON.stringify(r.partitions.map((x) => x.reason))).toBe('good');
      const { cutMs, endMs } = await windowTimes(cluster, r.runId, 'public.w_0');
      // Worker 1 cannot hear the end: it holds on to the window's budget (the runner's), then lets the write go.
      await write;
      const { rows } = await cluster.query<{ at: number }>('SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000 AS at FROM w_0 WHERE id = $1', [id], 'demo');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.at).toBeGreaterThanOrEqual(endMs);
      expect(await committedBetween(cluster, cutMs, endMs)).toBe(0);
      const { rows: acked } = await cluster.query<{ state: string }>('SELECT state FROM quietcut.window_acks WHERE window_key = $1 AND node = $2', [key, inContact], 'demo');
      expect(acked).toEqual([{ state: 'released' }]);

      // Back in contact: the late report, the window stays released, and the worker writes again.
      relay.restore();
      await waitFor('the late report', async () => (await cluster.query(`SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = $2 AND state = 'aborted'`, [key, cutNode], 'demo')).rowCount === 1);
      const { rows: win } = await cluster.query<{ state: string }>('SELECT state FROM quietcut.windows WHERE window_key = $1', [key], 'demo');
      expect(win).toEqual([{ state: 'released' }]);
      await waitFor('worker 1 back in contact', async () => (await metricValue(state.metrics!, 'quietcut_node_out_of_contact')) === 0);
      const later = freshId();
      await mine.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 96, 1)', [later]);
      expect((await cluster.query('SELECT 1 FROM w_0 WHERE id = $1', [later], 'demo')).rowCount).toBe(1);
    } finally {
      relay.restore();
      await letGo();
      for (const c of clients) await c.end().catch(() => undefined);
      await a?.stop();
      await stop(p).catch(() => undefined);
      await relay.close();
    }
  }, 180_000);
});

describe('--workers 2, the worker running a window killed with SIGKILL', () => {
  test('the other worker lets its held write go by the budget, the run ends aborted and never good, the primary restarts the dead worker', async () => {
    const budget = 8000;
    const p = cli.start(['--workers', '2', '--config', cliConfigFile(work, cluster.url('demo'), { nodes: { leaseMs: 1500 }, windows: { maxHoldMs: budget } })]);
    const { join: holdOpen, letGo } = straggler(cluster);
    const clients: pg.Client[] = [];
    try {
      const state = await p.served();
      const workers = await workersOf(state.metrics!);
      const runner = workers.find((w) => w.slot === 0)!;
      const other = workers.find((w) => w.slot === 1)!;
      const mine = await clientOn(state.connectionString, 1, clients);
      // The straggler keeps the window open (the runner waits for its acknowledgement) until the kill.
      await holdOpen();
      const backup = consoleQuery(state.connectionString, 'BACKUP public.w_0', runner.node);
      backup.catch(() => undefined);
      const { key, runId } = await waitFor('worker 0 to open its window', async () => {
        const { rows } = await cluster.query<{ key: string; run_id: string }>(`SELECT window_key AS key, run_id FROM quietcut.windows WHERE runner = $1 AND state = 'open'`, [runner.node], 'demo');
        return rows[0] ? { key: rows[0].key, runId: rows[0].run_id } : null;
      });
      await waitFor('worker 1 to acknowledge holding', async () => (await cluster.query(`SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = $2 AND state = 'drained'`, [key, other.node], 'demo')).rowCount === 1);
      const id = freshId();
      const write = mine.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 95, 0)', [id]);
      await waitFor('the write to be held', async () => (await metricValue(state.metrics!, 'quietcut_hold_queue_depth{partition="public.w_0"}')) === 1);
      expect((await cluster.query('SELECT 1 FROM w WHERE id = $1', [id], 'demo')).rowCount).toBe(0);

      process.kill(runner.pid, 'SIGKILL');
      // The console session was on the dead worker: it is gone, not answered with a result.
      await expect(backup).rejects.toThrow();
      await write;
      expect((await cluster.query('SELECT 1 FROM w WHERE id = $1', [id], 'demo')).rowCount).toBe(1);
      const windowState = await waitFor('the window to end', async () => {
        const { rows } = await cluster.query<{ state: string }>('SELECT state FROM quietcut.windows WHERE window_key = $1', [key], 'demo');
        return rows[0]?.state === 'open' ? null : rows[0]?.state;
      });
      expect(windowState).toBe('aborted');
      const runStatus = await waitFor('the run to end', async () => {
        const { rows } = await cluster.query<{ status: string }>('SELECT status FROM quietcut.runs WHERE run_id = $1', [runId], 'demo');
        return rows[0]?.status === 'running' ? null : rows[0]?.status;
      });
      expect(runStatus).toBe('aborted');
      expect((await cluster.query(`SELECT 1 FROM quietcut.run_partitions WHERE run_id = $1 AND status = 'good'`, [runId], 'demo')).rowCount).toBe(0);
      const back = await waitFor('worker 0 to be restarted', async () => (await cliStatus(state.metrics!)).workers?.find((w) => w.slot === 0 && w.pid !== runner.pid && w.node !== ''));
      expect(back.node).not.toBe(runner.node);
    } finally {
      await letGo();
      for (const c of clients) await c.end().catch(() => undefined);
      await stop(p).catch(() => undefined);
    }
  }, 180_000);
});
