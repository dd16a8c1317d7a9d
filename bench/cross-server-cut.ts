/**
 * What a cross-server cut costs (issue 8): writers insert through quietcut into a table with two
 * local partitions and two postgres_fdw partitions on two shards, while backups of the two shard
 * partitions (one `table` group, one cut across both servers) run one after another:
 *
 *   quietcut  hold the members from drain to the parallel pins, release after-snapshot
 *   uniform   the design quietcut starts from: block writes to every partition for the whole
 *             backup (one named group of all four leaves, release after-dump)
 *
 * Prints, per approach, the added latency of writes to the member partitions: the time held
 * requests waited in the proxy (p50/p99/max), the client-observed latency of member writes sent
 * while a window was open, next to the baseline without windows, and the window lengths.
 *
 *   npx tsx bench/cross-server-cut.ts [windows=6] [clients=6] [shardRows=200000]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readManifest } from '../src/backup/index.js';
import { loadConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';

const windows = Number(process.argv[2] ?? 6);
const clients = Number(process.argv[3] ?? 6);
const shardRows = Number(process.argv[4] ?? 200_000);

function pct(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
const max = (xs: readonly number[]): number => xs.reduce((a, b) => Math.max(a, b), -Infinity);

const [front, s1, s2] = await Promise.all([LocalCluster.start(), LocalCluster.start(), LocalCluster.start()]);
try {
  await front.createDatabase('bench');
  for (const s of [s1, s2]) {
    await s.query(`CREATE TABLE ev_remote (p int NOT NULL, at timestamptz NOT NULL DEFAULT now(), payload text)`);
    await s.query(`INSERT INTO ev_remote (p, payload) SELECT 0, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, ${shardRows}) g`);
  }
  await front.query(
    `CREATE EXTENSION postgres_fdw;
     CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${s1.port}', dbname 'postgres');
     CREATE SERVER shard2 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host '127.0.0.1', port '${s2.port}', dbname 'postgres');
     CREATE USER MAPPING FOR postgres SERVER shard1 OPTIONS (user 'postgres');
     CREATE USER MAPPING FOR postgres SERVER shard2 OPTIONS (user 'postgres');
     CREATE TABLE ev (p int NOT NULL, at timestamptz NOT NULL DEFAULT now(), payload text) PARTITION BY LIST (p);
     CREATE TABLE ev_0 PARTITION OF ev FOR VALUES IN (0);
     CREATE TABLE ev_3 PARTITION OF ev FOR VALUES IN (3);
     CREATE FOREIGN TABLE ev_1 PARTITION OF ev FOR VALUES IN (1) SERVER shard1 OPTIONS (table_name 'ev_remote');
     CREATE FOREIGN TABLE ev_2 PARTITION OF ev FOR VALUES IN (2) SERVER shard2 OPTIONS (table_name 'ev_remote');`,
    [],
    'bench',
  );

  const dir = mkdtempSync(join(tmpdir(), 'qc-xbench-'));
  const start = (windowsCfg: ConfigInput['windows']): Promise<RunningNode> =>
    runNode(
      loadConfig({
        env: {},
        overrides: {
          upstream: { url: front.url('bench') },
          listen: '127.0.0.1:0',
          metrics: { listen: null },
          windows: { maxHoldMs: 60_000, ...windowsCfg },
          backup: { dir, keepRuns: 1, compression: 1 },
          stats: { enabled: false },
        },
      }),
      silentLogger,
    );

  interface Sample {
    p: number;
    sentAt: number;
    latencyMs: number;
  }

  async function measure(node: RunningNode, backup: () => Promise<{ waits: number[]; windowMs: number; pinMs: number[] }>): Promise<{
    baseline: number[];
    during: number[];
    waits: number[];
    windowMs: number[];
    pinMs: number[];
  }> {
    const url = `postgres://postgres@127.0.0.1:${node.proxy.address.port}/bench`;
    const samples: Sample[] = [];
    let stop = false;
    const workers = Array.from({ length: clients }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      while (!stop) {
        const p = Math.floor(Math.random() * 4);
        const sentAt = performance.now();
        await c.query('INSERT INTO ev (p, payload) VALUES ($1, md5(random()::text))', [p]);
        samples.push({ p, sentAt, latencyMs: performance.now() - sentAt });
      }
      await c.end();
    });
    const open: Array<[number, number]> = [];
    const waits: number[] = [];
    const windowMs: number[] = [];
    const pinMs: number[] = [];
    await new Promise((r) => setTimeout(r, 1000));
    for (let i = 0; i < windows; i++) {
      const t0 = performance.now();
      const r = await backup();
      open.push([t0, performance.now()]);
      waits.push(...r.waits);
      windowMs.push(r.windowMs);
      pinMs.push(...r.pinMs);
      await new Promise((res) => setTimeout(res, 700));
    }
    stop = true;
    await Promise.all(workers);
    const member = samples.filter((s) => s.p === 1 || s.p === 2);
    const inWindow = (s: Sample): boolean => open.some(([a, b]) => s.sentAt >= a && s.sentAt <= b);
    return { baseline: member.filter((s) => !inWindow(s)).map((s) => s.latencyMs), during: member.filter(inWindow).map((s) => s.latencyMs), waits, windowMs, pinMs };
  }

  const lines: string[] = [];
  const report = (name: string, m: Awaited<ReturnType<typeof measure>>): void => {
    const base = pct(m.baseline, 0.5);
    lines.push(
      `${name.padEnd(9)} held waits p50/p99/max ${f(pct(m.waits, 0.5))}/${f(pct(m.waits, 0.99))}/${f(max(m.waits))} ms (n=${m.waits.length})` +
        ` | member writes during backups p50/p99/max ${f(pct(m.during, 0.5))}/${f(pct(m.during, 0.99))}/${f(max(m.during))} ms (n=${m.during.length}), added p99 ${f(pct(m.during, 0.99) - base)} ms` +
        ` | baseline p50/p99 ${f(base)}/${f(pct(m.baseline, 0.99))} ms | window p50/max ${f(pct(m.windowMs, 0.5))}/${f(max(m.windowMs))} ms` +
        (m.pinMs.length ? ` | pin per server p50/max ${f(pct(m.pinMs, 0.5))}/${f(max(m.pinMs))} ms` : ''),
    );
  };

  {
    const node = await start({ groups: 'table' });
    try {
      const m = await measure(node, async () => {
        const r = await node.backup(['public.ev_1', 'public.ev_2']);
        if (r.status !== 'good') throw new Error(`cut failed: ${r.partitions.map((p) => p.reason).join('; ')}`);
        const p = r.partitions[0]!;
        const man = await readManifest(r.runDir);
        return { waits: p.holdWaitsMs, windowMs: p.windowMs ?? NaN, pinMs: (man.cuts ?? []).map((c) => c.pinMs) };
      });
      report('quietcut', m);
    } finally {
      await node.stop();
    }
  }
  {
    const node = await start({ groups: { all: ['public.ev_0', 'public.ev_1', 'public.ev_2', 'public.ev_3'] } });
    try {
      const m = await measure(node, async () => {
        const r = await node.backup(['public.ev_1', 'public.ev_2'], { release: 'after-dump' });
        if (r.status !== 'good') throw new Error(`uniform backup failed: ${r.partitions.map((p) => p.reason).join('; ')}`);
        const p = r.partitions[0]!;
        return { waits: p.holdWaitsMs, windowMs: p.windowMs ?? NaN, pinMs: [] };
      });
      report('uniform', m);
    } finally {
      await node.stop();
    }
  }
  console.log(`cross-server cut: ${windows} backups of two shard partitions (${shardRows} rows each), ${clients} clients writing 4 partitions at random\n`);
  for (const l of lines) console.log(l);
} finally {
  await Promise.all([front.stop(), s1.stop(), s2.stop()]);
}
