/**
 * Membership of several nodes in front of one server: leases in quietcut.nodes, clock offsets
 * measured against the server's clock (nodes given injected clock offsets), client round trips,
 * and the planner's skew margin built from them.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunNodeOptions, type RunningNode } from '../src/cli/run-node.js';
import { formatMargin } from '../src/cli/commands/plan.js';
import { computePlan } from '../src/coordinator/plan-cycle.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';
import { Relay } from './helpers/relay.js';
import { waitFor } from './helpers/invariants.js';

let cluster: LocalCluster;
const nodes: RunningNode[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await cluster?.stop();
});

async function startNode(o: RunNodeOptions = {}, nodesConfig: ConfigInput['nodes'] = { leaseMs: 1500, heartbeatMs: 100 }): Promise<RunningNode> {
  const config = loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('demo') }, listen: '127.0.0.1:0', metrics: { listen: null }, stats: { enabled: false }, nodes: nodesConfig } });
  const n = await runNode(config, silentLogger, o);
  nodes.push(n);
  return n;
}

interface NodeRow {
  node: string;
  host: string;
  pid: number;
  version: string;
  role: string;
  live: boolean;
  offset: number | null;
  unc: number | null;
  rtt: number | null;
}

async function rows(via?: pg.Client): Promise<Map<string, NodeRow>> {
  const sql = `SELECT node, host, pid, version, role, lease_expires_at > clock_timestamp() AS live, clock_offset_ms AS offset, clock_uncertainty_ms AS unc, min_client_rtt_ms AS rtt FROM quietcut.nodes`;
  const { rows: r } = via ? await via.query<NodeRow>(sql) : await cluster.query<NodeRow>(sql, [], 'demo');
  return new Map(r.map((x) => [x.node, x]));
}

describe('membership', () => {
  test('each node registers with a lease and its measured clock offset; injected offsets come back within their uncertainty; the plan margin grows with them', async () => {
    const injected = [0, 400, -250];
    const [plain, ahead, behind] = await Promise.all(injected.map((ms) => startNode({ clockOffsetMs: ms })));
    const all = [plain!, ahead!, behind!];
    const table = await rows();
    for (const [i, n] of all.entries()) {
      const r = table.get(n.node);
      expect(r, n.node).toBeDefined();
      expect(r).toMatchObject({ live: true, pid: process.pid, role: 'node' });
      expect(r!.version).toMatch(/^\d+\.\d+\.\d+/);
      // server − node clock: a node whose clock runs 400 ms ahead is 400 ms behind the server.
      expect(Math.abs(r!.offset! - -injected[i]!)).toBeLessThanOrEqual(r!.unc!);
      expect(r!.unc).toBeGreaterThan(0);
      // The metric says the same as the row it was measured with (after the same heartbeat).
      const off = (await n.metrics.registry.getSingleMetric('quietcut_node_clock_offset_seconds')!.get()).values[0]!.value;
      expect(Math.abs(off * 1000 - -injected[i]!)).toBeLessThanOrEqual(n.membership.offset!.uncertaintyMs);
    }

    // Client round trips on one node: the smallest gap between an answer and the next request.
    const c = new pg.Client({ connectionString: plain!.connectionString });
    await c.connect();
    const t0 = performance.now();
    const n = 20;
    for (let i = 0; i < n; i++) await c.query('SELECT 1');
    const elapsed = performance.now() - t0;
    await c.end();
    await plain!.membership.heartbeat();
    const rtt = (await rows()).get(plain!.node)!.rtt;
    expect(rtt).not.toBeNull();
    expect(rtt!).toBeGreaterThan(0);
    // n requests have n − 1 gaps inside the loop: the smallest is at most their mean.
    expect(rtt!).toBeLessThanOrEqual(elapsed / (n - 1));

    const client = new pg.Client({ connectionString: cluster.url('demo') });
    await client.connect();
    try {
      const interval = { startMs: Date.now() + 3_600_000, endMs: Date.now() + 7_200_000 };
      // One snapshot for the plan and the rows it is checked against: heartbeats keep updating them.
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
      const skewed = await computePlan(client, plain!.config, { interval, leaves: [] });
      const t = await rows(client);
      await client.query('COMMIT');
      const worst = Math.max(...all.map((x) => Math.abs(t.get(x.node)!.offset!) + t.get(x.node)!.unc!));
      expect(skewed.margin.nodes).toBe(3);
      expect(skewed.margin.skewMs).toBeCloseTo(worst, 6);
      expect(skewed.margin.skewMs).toBeGreaterThanOrEqual(400);
      // Heartbeats go on reporting the smallest gap seen: compare with the rows of the plan's own snapshot.
      const planRtt = Math.min(...all.map((x) => t.get(x.node)!.rtt).filter((v): v is number => v !== null));
      expect(planRtt).toBeLessThanOrEqual(rtt!);
      expect(skewed.margin.minClientRttMs).toBe(planRtt);
      expect(skewed.input.clockSkewMs).toBeCloseTo(worst, 6);
      expect(skewed.margin.marginMs).toBeCloseTo(worst - planRtt, 6);
      // `quietcut plan` shows both measurements and the margin made of them.
      const line = formatMargin(skewed);
      expect(line).toContain('3 live node(s)');
      expect(line).toContain(`max |offset| + uncertainty ${Math.round(worst)} ms`);
      expect(line).toContain(`min client round trip ${planRtt.toFixed(2)} ms`);
      expect(line).toContain(`margin ${Math.round(worst - planRtt)} ms`);

      // Skewed nodes leave (giving their leases up): the margin shrinks to what is left.
      await ahead!.stop();
      await behind!.stop();
      nodes.splice(nodes.indexOf(ahead!), 1);
      nodes.splice(nodes.indexOf(behind!), 1);
      const after = await rows();
      expect(after.get(ahead!.node)!.live).toBe(false);
      expect(after.get(behind!.node)!.live).toBe(false);
      const calm = await computePlan(client, plain!.config, { interval, leaves: [] });
      expect(calm.margin.nodes).toBe(1);
      expect(calm.margin.skewMs).toBeLessThan(skewed.margin.skewMs - 200);
    } finally {
      await client.end();
    }
  }, 120_000);

  test('a node that cannot renew its lease stops trusting itself no later than the server lets the lease go, and trusts itself again once renewed', async () => {
    const relay = await Relay.start({ host: cluster.host, port: cluster.port });
    try {
      const n = await startNode({ adminVia: { host: '127.0.0.1', port: relay.port } }, { leaseMs: 800, heartbeatMs: 100 });
      expect(n.membership.trusted).toBe(true);
      const changes: Array<{ trusted: boolean; atMs: number }> = [];
      n.membership.onTrustChange((trusted) => changes.push({ trusted, atMs: Date.now() }));
      relay.cut();
      const lost = await waitFor('the node to distrust itself', () => changes.find((c) => !c.trusted));
      // The server's expiry is the bound: a node that still trusted itself past it could admit writes
      // in a window the others cut without it. (Same machine, same clock: no offset to correct for.)
      const { rows: r } = await cluster.query<{ exp: number }>('SELECT extract(epoch FROM lease_expires_at)::float8 * 1000 AS exp FROM quietcut.nodes WHERE node = $1', [n.node], 'demo');
      expect(lost.atMs).toBeLessThanOrEqual(r[0]!.exp);
      relay.restore();
      await waitFor('the node to trust itself again', () => changes.at(-1)?.trusted === true);
      expect((await rows()).get(n.node)!.live).toBe(true);
    } finally {
      await relay.close();
    }
  }, 60_000);
});
