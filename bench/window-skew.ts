/**
 * Held time of a window as a function of clock skew between nodes (issue 13). Two nodes in front
 * of one server, node B's clock shifted by each injected offset (the test-only clockOffsetMs);
 * writers on both nodes insert into the windowed partition without pause; each round runs a
 * backup (after-snapshot) through node A. Per offset it prints the offsets the nodes measured, the
 * planner's skew margin from them (measured skew − min client round trip), and the held time the
 * clients saw on each node (the longest wait of a write to the partition, ~ that node's hold
 * span) and the window's span on the runner (open → release, server clock).
 *
 *   npx tsx bench/window-skew.ts [rounds=4] [offsets=0,100,400,1600,-400]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { skewMarginMs } from '../src/planner/index.js';
import { measuredMargin } from '../src/coordinator/plan-input.js';
import { liveNodes } from '../src/coordinator/membership.js';
import { silentLogger } from '../src/util/log.js';

const rounds = Number(process.argv[2] ?? 4);
const offsets = (process.argv[3] ?? '0,100,400,1600,-400').split(',').map(Number);

const cluster = await LocalCluster.start({ settings: { track_commit_timestamp: 'on' } });
await cluster.createDatabase('bench');
await cluster.query(
  `CREATE TABLE ev (id bigserial, p int NOT NULL, pad text) PARTITION BY LIST (p);
   CREATE TABLE ev_0 PARTITION OF ev FOR VALUES IN (0); CREATE TABLE ev_1 PARTITION OF ev FOR VALUES IN (1);
   INSERT INTO ev_0 (p, pad) SELECT 0, md5(g::text) FROM generate_series(1, 50000) g;`,
  [],
  'bench',
);
const backupDir = mkdtempSync(join(tmpdir(), 'qc-skew-'));

async function node(clockOffsetMs: number): Promise<RunningNode> {
  const config = loadConfig({
    env: {},
    overrides: {
      upstream: { url: cluster.url('bench') },
      listen: '127.0.0.1:0',
      metrics: { listen: null },
      stats: { enabled: false },
      backup: { dir: backupDir, compression: 1, keepRuns: 1 },
      nodes: { leaseMs: 3000, heartbeatMs: 200, pollMs: 100 },
    },
  });
  return runNode(config, silentLogger, { clockOffsetMs });
}

/** A client inserting into ev_0 back to back, remembering when each write was sent and acknowledged. */
function writer(port: number): { waits: () => Array<[number, number]>; stop: () => Promise<void> } {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'bench' });
  const seen: Array<[number, number]> = [];
  let on = true;
  const loop = (async () => {
    await c.connect();
    while (on) {
      const t = Date.now();
      await c.query("INSERT INTO ev (p, pad) VALUES (0, 'x')");
      seen.push([t, Date.now() - t]);
    }
    await c.end();
  })();
  return {
    waits: () => seen,
    stop: async () => {
      on = false;
      await loop;
    },
  };
}

const pct = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))] ?? NaN;
const f0 = (x: number): string => (Number.isFinite(x) ? x.toFixed(0) : '—');

console.log('offset_ms  measured_B_ms  ±unc_ms  skew_ms  min_rtt_ms  margin_ms  held_A_ms(p50/max)  held_B_ms(p50/max)  window_ms(p50)');
for (const offset of offsets) {
  const a = await node(0);
  const b = await node(offset);
  const until = Date.now() + 30_000;
  while ((a.membership.offset === null || b.membership.offset === null || a.membership.live.length < 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
  const wa = [writer(a.proxy.address.port), writer(a.proxy.address.port)];
  const wb = [writer(b.proxy.address.port), writer(b.proxy.address.port)];
  const heldA: number[] = [];
  const heldB: number[] = [];
  const spans: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await new Promise((res) => setTimeout(res, 500));
    const from = Date.now();
    const result = await a.backup(['public.ev_0'], { release: 'after-snapshot' });
    if (result.status !== 'good') console.error(`round ${r}: ${result.status}`);
    const to = Date.now();
    const worst = (ws: typeof wa): number => Math.max(0, ...ws.flatMap((w) => w.waits().filter(([t]) => t >= from - 2000 && t <= to).map(([, d]) => d)));
    heldA.push(worst(wa));
    heldB.push(worst(wb));
    const { rows } = await cluster.query<{ ms: number }>(
      `SELECT extract(epoch FROM (w.ended_at - w.created_at))::float8 * 1000 AS ms FROM quietcut.windows w WHERE run_id = $1`,
      [result.runId],
      'bench',
    );
    spans.push(rows[0]?.ms ?? NaN);
  }
  await Promise.all([...wa, ...wb].map((w) => w.stop()));
  const m = measuredMargin(await liveNodes(a.pool));
  const margin = skewMarginMs({ clockSkewMs: m.skewMs, minRoundTripMs: m.minClientRttMs ?? 0 });
  const ob = b.membership.offset!;
  console.log(
    [offset, f0(ob.offsetMs), ob.uncertaintyMs.toFixed(1), f0(m.skewMs), f0(m.minClientRttMs ?? NaN), f0(margin), `${f0(pct(heldA, 0.5))}/${f0(Math.max(...heldA))}`, `${f0(pct(heldB, 0.5))}/${f0(Math.max(...heldB))}`, f0(pct(spans, 0.5))]
      .map((x, i) => String(x).padStart(i === 0 ? 9 : [13, 8, 8, 11, 10, 19, 19, 15][i - 1]!))
      .join('  '),
  );
  await b.stop();
  await a.stop();
}
await cluster.stop();
