/**
 * Three quietcut nodes in front of one server, writers spread over them (autocommit, extended
 * protocol, transactions, pipelines): one window, enforced by every node. The server is the oracle:
 * commit timestamps (track_commit_timestamp) say when each row became visible, so "no write to the
 * windowed partition is acknowledged by any node between the cut and the window's end" is checked
 * on the server's own record, not on what the nodes say they did.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { readManifest } from '../src/backup/index.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunNodeOptions, type RunningNode } from '../src/cli/run-node.js';
import { pgTool } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { testNodeConfig } from './helpers/node.js';
import { sharedWindowKey } from '../src/windows/coordination.js';
import type { BackupRunResult } from '../src/coordinator/backup-run.js';
import { startTestCluster } from './helpers/pg.js';
import { Relay } from './helpers/relay.js';
import { Writer, freshId, type WriterKind } from './helpers/writers.js';
import { waitFor } from './helpers/invariants.js';
import { checkNothingLost, committedBetween, createWriterTable, windowTimes } from './helpers/cut-checks.js';

const run = promisify(execFile);
let cluster: LocalCluster;
let backupDir: string;
const nodes: RunningNode[] = [];

beforeAll(async () => {
  cluster = await startTestCluster({ settings: { track_commit_timestamp: 'on' } });
  backupDir = mkdtempSync(join(tmpdir(), 'qc-multi-'));
  await createWriterTable(cluster);
}, 120_000);
afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await cluster?.stop();
});

async function startNode(o: RunNodeOptions = {}, extra: ConfigInput = {}): Promise<RunningNode> {
  const config = testNodeConfig(cluster.url('demo'), backupDir, {
    nodes: { leaseMs: 3000, heartbeatMs: 200, pollMs: 100 },
    windows: { maxHoldMs: 60_000 },
    ...extra,
  });
  const n = await runNode(config, silentLogger, o);
  nodes.push(n);
  return n;
}

async function stopNode(n: RunningNode): Promise<void> {
  nodes.splice(nodes.indexOf(n), 1);
  await n.stop();
}

const urlOf = (n: RunningNode): string => `postgres://postgres@127.0.0.1:${n.proxy.address.port}/demo`;

/** Writers on every node, each kind on each, choosing partitions 0–3 (0 is the windowed one). */
function spreadWriters(on: readonly RunningNode[]): Writer[] {
  const kinds: WriterKind[] = ['simple', 'extended', 'transaction', 'pipelined'];
  const ws: Writer[] = [];
  let sess = 0;
  for (const n of on) for (const k of kinds) ws.push(new Writer(sess++, k, urlOf(n), n.proxy.address.port, () => Math.floor(Math.random() * 4)));
  for (const w of ws) w.start();
  return ws;
}

async function restoredIds(file: string): Promise<Set<number>> {
  const db = `scratch_${freshId()}`;
  await cluster.query(`CREATE DATABASE ${db}`);
  try {
    await run(pgTool('pg_restore'), ['-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', '-d', db, '--no-owner', file]);
    const { rows } = await cluster.query<{ id: string }>('SELECT id::text FROM public.w_0 WHERE id > 0', [], db);
    return new Set(rows.map((r) => Number(r.id)));
  } finally {
    await cluster.query(`DROP DATABASE ${db} WITH (FORCE)`);
  }
}

describe('three nodes in front of one server', () => {
  test.each([
    ['one clock', [0, 0, 0]],
    ['clocks injected 400 ms ahead and 250 ms behind', [0, 400, -250]],
  ] as const)('after-dump, %s: every node holds the window; no write to the partition commits between the cut and the window end; the artifact is exactly what committed before the cut', async (_name, offsets) => {
    const [a, b, c] = [await startNode({ clockOffsetMs: offsets[0] }), await startNode({ clockOffsetMs: offsets[1] }), await startNode({ clockOffsetMs: offsets[2] })];
    const writers = spreadWriters([a!, b!, c!]);
    try {
      // the skew is real: each node measured its injected offset (the server's clock minus its own)
      [a!, b!, c!].forEach((n, i) => {
        expect(n.membership.offset, n.node).not.toBeNull();
        expect(Math.abs(n.membership.offset!.offsetMs + offsets[i]!), n.node).toBeLessThanOrEqual(n.membership.offset!.uncertaintyMs);
      });
      await waitFor('every writer to get writes through', () => writers.every((w) => w.records.some((r) => r.ackAt !== null)));
      const result = await a!.backup(['public.w_0'], { release: 'after-dump' });
      expect(result.status, JSON.stringify(result.partitions.map((p) => p.reason))).toBe('good');
      // keep writing a little after the window, so held writes and later ones mix
      const after = writers.map((w) => w.records.length);
      await waitFor('writes after the window', () => writers.every((w, i) => w.records.length > after[i]! + 2));
      await Promise.all(writers.map((w) => w.stop()));

      const key = sharedWindowKey(result.runId, 'public.w_0');
      const { rows: win } = await cluster.query<{ state: string; runner: string }>('SELECT state, runner FROM quietcut.windows WHERE window_key = $1', [key], 'demo');
      expect(win).toEqual([{ state: 'released', runner: a!.node }]);
      const { rows: acks } = await cluster.query<{ node: string; state: string }>('SELECT node, state FROM quietcut.window_acks WHERE window_key = $1 ORDER BY node', [key], 'demo');
      expect(acks).toEqual([b!.node, c!.node].sort().map((node) => ({ node, state: 'released' })));
      // The other two held writes of the partition too (else "every node holds" checked nothing).
      for (const n of [b!, c!]) {
        const o = n.follower.outcome(key);
        expect(o?.state, n.node).toBe('dumped');
        expect(o!.held.get('public.w_0') ?? 0, `${n.node} held writes`).toBeGreaterThan(0);
      }

      const { cutMs, endMs } = await windowTimes(cluster, result.runId, 'public.w_0');
      expect(endMs).toBeGreaterThan(cutMs);
      expect(await committedBetween(cluster, cutMs, endMs)).toBe(0);
      // The artifact holds exactly the rows that had committed at the cut, on the server's record.
      const m = await readManifest(result.runDir);
      const file = join(backupDir, result.runId, m.partitions[0]!.file!);
      const dumped = await restoredIds(file);
      const { rows: before } = await cluster.query<{ id: string }>(
        'SELECT id::text FROM w_0 WHERE id > 0 AND extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1000 <= $1',
        [cutMs],
        'demo',
      );
      expect(dumped.size).toBeGreaterThan(0);
      expect([...dumped].sort((x, y) => x - y)).toEqual(before.map((r) => Number(r.id)).sort((x, y) => x - y));
      const { acked } = await checkNothingLost(cluster, writers);
      expect(acked).toBeGreaterThan(50);
    } finally {
      await Promise.all(writers.map((w) => w.stop()));
      for (const n of [a, b, c]) if (n) await stopNode(n);
    }
  }, 180_000);

  /**
   * A window kept open on purpose: a straggler (a node row with a valid lease that never
   * acknowledges) makes the runner wait before its cut, with every real node holding, until the
   * test lets the straggler's lease go.
   */
  async function heldOpenWindow(runner: RunningNode, release: 'after-dump' | 'after-snapshot' = 'after-dump'): Promise<{ key: string; result: Promise<BackupRunResult>; letGo: () => Promise<void> }> {
    const straggler = `straggler-${freshId()}`;
    await cluster.query(`INSERT INTO quietcut.nodes (node, lease_expires_at) VALUES ($1, clock_timestamp() + interval '10 minutes')`, [straggler], 'demo');
    const letGo = async (): Promise<void> => {
      await cluster.query('UPDATE quietcut.nodes SET lease_expires_at = clock_timestamp() WHERE node = $1', [straggler], 'demo');
    };
    const result = runner.backup(['public.w_0'], { release });
    const key = await waitFor('the window to open', async () => {
      const { rows } = await cluster.query<{ key: string }>(`SELECT window_key AS key FROM quietcut.windows WHERE runner = $1 AND state = 'open' AND 'public.w_0' = ANY(partitions)`, [runner.node], 'demo');
      return rows[0]?.key;
    });
    return { key, result, letGo };
  }

  const heldOn = async (n: RunningNode, depth: number): Promise<boolean> =>
    (await n.metrics.registry.getSingleMetric('quietcut_hold_queue_depth')!.get()).values.some((v) => v.labels.partition === 'public.w_0' && v.value === depth);

  test('a node started mid-window enforces it before it accepts its first client', async () => {
    const a = await startNode();
    const w = await heldOpenWindow(a);
    let d: RunningNode | null = null;
    try {
      d = await startNode();
      // Before any client: the open window is held here already.
      expect(d.proxy.clientConnections).toBe(0);
      expect(d.follower.holding()).toEqual([w.key]);
      expect(d.gate.isHeld('public.w_0')).toBe(true);
      const pgc = new pg.Client({ connectionString: urlOf(d) });
      await pgc.connect();
      const id = freshId();
      const write = pgc.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 99, 0)', [id]);
      await waitFor('the write to be held on the new node', () => heldOn(d!, 1));
      // The runner waited for the new node as for every live one: it acknowledged.
      await waitFor('the new node to acknowledge', async () => (await cluster.query('SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = $2 AND state = $3', [w.key, d!.node, 'drained'], 'demo')).rowCount === 1);
      await w.letGo();
      const result = await w.result;
      await write;
      await pgc.end();
      expect(result.status).toBe('good');
      const { endMs } = await windowTimes(cluster, result.runId, 'public.w_0');
      const { rows } = await cluster.query<{ at: number }>('SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000 AS at FROM w_0 WHERE id = $1', [id], 'demo');
      expect(rows[0]!.at).toBeGreaterThanOrEqual(endMs);
      expect(d.follower.outcome(w.key)?.held.get('public.w_0')).toBe(1);
    } finally {
      await w.letGo();
      await w.result.catch(() => undefined);
      if (d) await stopNode(d);
      await stopNode(a);
    }
  }, 120_000);

  test('a node cut off from the database mid-window keeps holding to the budget, then releases; the cut stays a cut and nothing is lost', async () => {
    const relay = await Relay.start({ host: cluster.host, port: cluster.port });
    const budget = { windows: { maxHoldMs: 12_000 } };
    const a = await startNode({}, budget);
    const c = await startNode({ adminVia: { host: '127.0.0.1', port: relay.port } }, budget);
    const w = await heldOpenWindow(a);
    try {
      await waitFor('the node to acknowledge', async () => (await cluster.query('SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = $2 AND state = $3', [w.key, c.node, 'drained'], 'demo')).rowCount === 1);
      const pgc = new pg.Client({ connectionString: urlOf(c) });
      await pgc.connect();
      const id = freshId();
      const write = pgc.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 98, 0)', [id]);
      await waitFor('the write to be held', () => heldOn(c, 1));
      relay.cut();
      await w.letGo();
      const result = await w.result;
      expect(result.status, JSON.stringify(result.partitions.map((p) => p.reason))).toBe('good');
      const { cutMs, endMs } = await windowTimes(cluster, result.runId, 'public.w_0');
      // The node out of contact cannot hear the end: it holds on until its budget, then lets go.
      await write;
      await pgc.end();
      const { rows } = await cluster.query<{ at: number }>('SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000 AS at FROM w_0 WHERE id = $1', [id], 'demo');
      expect(rows).toHaveLength(1);
      expect(rows[0]!.at).toBeGreaterThanOrEqual(endMs);
      expect(await committedBetween(cluster, cutMs, endMs)).toBe(0);
      expect(c.follower.outcome(w.key)?.state).toBe('aborted');
      // Back in contact, it reports what it did; a window already released stays released.
      relay.restore();
      await waitFor('the late report', async () => (await cluster.query('SELECT 1 FROM quietcut.window_acks WHERE window_key = $1 AND node = $2 AND state = $3', [w.key, c.node, 'aborted'], 'demo')).rowCount === 1);
      const { rows: win } = await cluster.query<{ state: string }>('SELECT state FROM quietcut.windows WHERE window_key = $1', [w.key], 'demo');
      expect(win[0]!.state).toBe('released');
    } finally {
      relay.restore();
      await w.letGo();
      await w.result.catch(() => undefined);
      await stopNode(c);
      await stopNode(a);
      await relay.close();
    }
  }, 120_000);

  test.each([
    ['another node was live', false],
    ['it was alone, and a node starts once its lease ran out', true],
  ] as const)('a node cut off before a window opens holds every partition (it cannot see the window), %s; the window cuts without it; nothing it holds commits inside the cut; back in contact its writes go on', async (_name, alone) => {
    const relay = await Relay.start({ host: cluster.host, port: cluster.port });
    let a = alone ? null : await startNode({}, { windows: { maxHoldMs: 60_000 } });
    const c = await startNode({ adminVia: { host: '127.0.0.1', port: relay.port } }, { windows: { maxHoldMs: 60_000 } });
    const pgc = new pg.Client({ connectionString: urlOf(c) });
    const sess = alone ? 96 : 97;
    try {
      if (a === null) await waitFor('the node to see only itself live', () => c.membership.live.length === 1 && c.membership.live[0]!.node === c.node);
      else await waitFor('each node to see the other live', () => a!.membership.live.some((n) => n.node === c.node) && c.membership.live.some((n) => n.node === a!.node));
      await pgc.connect();
      relay.cut();
      await waitFor('the cut-off node to stop trusting its lease', () => !c.membership.trusted);
      // With another node live the fence goes up when the trust timer fires, a moment after
      // `trusted` reads false (half a lease before the server would let the node go); alone, a
      // quarter lease later (a quarter lease before).
      await waitFor('the fence to go up', async () => (await c.metrics.outOfContact.get()).values[0]?.value === 1);
      const ids = [freshId(), freshId()];
      // No window exists anywhere yet: still held, on every partition.
      const writes = [pgc.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, $2, 0)', [ids[0], sess])];
      await waitFor('the write to w_0 to be held', () => c.gate.queuedRequests() === 1);
      // The runner counts only live leases: once c's has expired, it cuts without waiting for c.
      await waitFor("c's lease to expire on the server", async () => (await cluster.query('SELECT 1 FROM quietcut.nodes WHERE node = $1 AND lease_expires_at < clock_timestamp()', [c.node], 'demo')).rowCount === 1);
      if (a === null) {
        a = await startNode({}, { windows: { maxHoldMs: 60_000 } });
        expect(a.membership.live.map((n) => n.node)).toEqual([a.node]);
      }
      const result = await a.backup(['public.w_0'], { release: 'after-dump' });
      expect(result.status, JSON.stringify(result.partitions.map((p) => p.reason))).toBe('good');
      const { cutMs, endMs } = await windowTimes(cluster, result.runId, 'public.w_0');
      expect(await committedBetween(cluster, cutMs, endMs)).toBe(0);
      const { rows: none } = await cluster.query('SELECT 1 FROM w WHERE id = ANY($1)', [ids], 'demo');
      expect(none).toEqual([]);
      relay.restore();
      await Promise.all(writes);
      writes.push(pgc.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 1, $2, 1)', [ids[1], sess]));
      await Promise.all(writes);
      const { rows } = await cluster.query<{ id: string; at: number }>('SELECT id::text, extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 * 1000 AS at FROM w WHERE id = ANY($1) ORDER BY id', [ids], 'demo');
      expect(rows.map((r) => Number(r.id)).sort((x, y) => x - y)).toEqual([...ids].sort((x, y) => x - y));
      for (const r of rows) expect(r.at).toBeGreaterThan(endMs);
      expect((await c.metrics.outOfContact.get()).values[0]?.value).toBe(0);
    } finally {
      relay.restore();
      await pgc.end().catch(() => undefined);
      await stopNode(c);
      if (a) await stopNode(a);
      await relay.close();
    }
  }, 120_000);

  test('kill -9 of the dumping node mid-window: the others release by the budget, the run ends aborted, never good, and nothing is lost', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qc-kill-'));
    const cfgFile = join(dir, 'quietcut.yaml');
    writeFileSync(
      cfgFile,
      [
        `upstream: { url: "${cluster.url('demo')}" }`,
        'listen: 127.0.0.1:0',
        'metrics: { listen: null }',
        'nodes: { leaseMs: 1500, heartbeatMs: 200, pollMs: 100 }',
        'windows: { maxHoldMs: 8000 }',
        `backup: { dir: "${backupDir}", compression: 1 }`,
        'stats: { enabled: false }',
        'log: { level: warn, pretty: false }',
      ].join('\n'),
    );
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '-c', cfgFile], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const straggler = `straggler-${freshId()}`;
    let b: RunningNode | null = null;
    try {
      await waitFor(`the child node to start (${out})`, () => out.includes('quietcut is listening'));
      const { rows: me } = await cluster.query<{ node: string }>('SELECT node FROM quietcut.nodes WHERE pid = $1 AND lease_expires_at > clock_timestamp()', [child.pid], 'demo');
      const runner = me[0]!.node;
      await cluster.query(`INSERT INTO quietcut.nodes (node, lease_expires_at) VALUES ($1, clock_timestamp() + interval '10 minutes')`, [straggler], 'demo');
      await cluster.query(`INSERT INTO quietcut.backup_requests (partitions, release) VALUES ('{public.w_0}', 'after-dump'); NOTIFY quietcut_backup`, [], 'demo');
      const { key, runId } = await waitFor('the child to open its window', async () => {
        const { rows } = await cluster.query<{ key: string; run_id: string }>(`SELECT window_key AS key, run_id FROM quietcut.windows WHERE runner = $1 AND state = 'open'`, [runner], 'demo');
        return rows[0] ? { key: rows[0].key, runId: rows[0].run_id } : null;
      });
      // A node joining mid-window holds it, and a write through it waits.
      b = await startNode({}, { windows: { maxHoldMs: 8000 } });
      expect(b.follower.holding()).toEqual([key]);
      const pgc = new pg.Client({ connectionString: urlOf(b) });
      await pgc.connect();
      const id = freshId();
      const write = pgc.query('INSERT INTO w (id, p, sess, seq) VALUES ($1, 0, 97, 0)', [id]);
      await waitFor('the write to be held', () => heldOn(b!, 1));
      process.kill(child.pid!, 'SIGKILL');
      await write;
      await pgc.end();
      expect((await cluster.query('SELECT 1 FROM w_0 WHERE id = $1', [id], 'demo')).rowCount).toBe(1);
      expect(b.follower.outcome(key)?.state).toBe('aborted');
      const { rows: win } = await cluster.query<{ state: string }>('SELECT state FROM quietcut.windows WHERE window_key = $1', [key], 'demo');
      expect(win[0]!.state).toBe('aborted');
      // Once the dead node's lease has run out, its run is marked aborted (by the node left).
      const status = await waitFor('the run to end', async () => {
        const { rows } = await cluster.query<{ status: string }>('SELECT status FROM quietcut.runs WHERE run_id = $1', [runId], 'demo');
        return rows[0]?.status === 'running' ? null : rows[0]?.status;
      });
      expect(status).toBe('aborted');
      const { rows: good } = await cluster.query("SELECT 1 FROM quietcut.run_partitions WHERE run_id = $1 AND status = 'good'", [runId], 'demo');
      expect(good).toHaveLength(0);
    } finally {
      await cluster.query('UPDATE quietcut.nodes SET lease_expires_at = clock_timestamp() WHERE node = $1', [straggler], 'demo');
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
      if (b) await stopNode(b);
    }
  }, 120_000);
});
