/**
 * What a window costs, measured (issue 4): pgbench inserts into 8 partitions through quietcut
 * while windows on partition 0 open every second (after-snapshot, hold mode), interleaved with
 * rounds without windows. Prints hold p50/p99/max, pin → first released request, and the
 * throughput of the other partitions with and without windows.
 *
 *   npx tsx bench/window-cost.ts [rounds=3] [seconds=8] [clients=8]
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/load.js';
import { runNode } from '../src/cli/run-node.js';
import { pgTool } from '../src/localdb/binaries.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';

const run = promisify(execFile);
const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 8);
const clients = Number(process.argv[4] ?? 8);

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

const cluster = await LocalCluster.start({ settings: { fsync: 'on', synchronous_commit: 'on' } });
await cluster.createDatabase('bench');
await cluster.query(
  `CREATE TABLE ev (p int NOT NULL, at timestamptz NOT NULL DEFAULT now(), payload text) PARTITION BY LIST (p);
   ${Array.from({ length: 8 }, (_, i) => `CREATE TABLE ev_${i} PARTITION OF ev FOR VALUES IN (${i});`).join('\n')}`,
  [],
  'bench',
);
const dir = mkdtempSync(join(tmpdir(), 'qc-wbench-'));
const node = await runNode(
  loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('bench') }, listen: '127.0.0.1:0', metrics: { listen: null }, backup: { dir, keepRuns: 1, compression: 1 }, stats: { enabled: false } } }),
  silentLogger,
);
const script = join(dir, 'ins.sql');
writeFileSync(script, "\\set p random(0, 7)\nINSERT INTO ev (p, payload) VALUES (:p, md5(random()::text));\n");
const url = `postgres://postgres@127.0.0.1:${node.proxy.address.port}/bench`;

async function pgbench(): Promise<{ tps: number; perPartition: Map<number, number> }> {
  const before = await cluster.query<{ p: number; n: string }>('select p, count(*)::text n from ev group by p', [], 'bench');
  const { stdout } = await run(pgTool('pgbench'), ['-n', '-c', String(clients), '-j', '2', '-T', String(seconds), '-f', script, url]);
  const after = await cluster.query<{ p: number; n: string }>('select p, count(*)::text n from ev group by p', [], 'bench');
  const b = new Map(before.rows.map((r) => [r.p, Number(r.n)]));
  const perPartition = new Map(after.rows.map((r) => [r.p, Number(r.n) - (b.get(r.p) ?? 0)]));
  const tps = Number(/tps = ([\d.]+)/.exec(stdout)?.[1] ?? NaN);
  return { tps, perPartition };
}

const waits: number[] = [];
const pinToRelease: number[] = [];
const windowLens: number[] = [];
const rows: Array<{ round: number; windows: boolean; tps: number; othersPerSec: number; windowsRun: number }> = [];
for (let r = 1; r <= rounds; r++) {
  for (const withWindows of [false, true]) {
    let stop = false;
    let count = 0;
    const opener = withWindows
      ? (async () => {
          await new Promise((res) => setTimeout(res, 500));
          while (!stop) {
            const result = await node.backup(['public.ev_0']);
            const p = result.partitions[0]!;
            if (p.status !== 'good') throw new Error(`window failed: ${p.reason}`);
            waits.push(...p.holdWaitsMs);
            if (p.pinToFirstReleaseMs !== null) pinToRelease.push(p.pinToFirstReleaseMs);
            if (p.windowMs !== null) windowLens.push(p.windowMs);
            count++;
            await new Promise((res) => setTimeout(res, 1000));
          }
        })()
      : Promise.resolve();
    const res = await pgbench();
    stop = true;
    await opener;
    let others = 0;
    for (const [p, n] of res.perPartition) if (p !== 0) others += n;
    rows.push({ round: r, windows: withWindows, tps: res.tps, othersPerSec: others / seconds, windowsRun: count });
    console.log(`round ${r} ${withWindows ? 'windows   ' : 'no windows'} tps=${res.tps.toFixed(0)} other-partition rows/s=${(others / seconds).toFixed(0)} windows=${count}`);
  }
}
const med = (xs: number[]): number => pct(xs, 0.5);
const base = med(rows.filter((x) => !x.windows).map((x) => x.othersPerSec));
const withW = med(rows.filter((x) => x.windows).map((x) => x.othersPerSec));
console.log('\nwindow on public.ev_0, after-snapshot, hold mode, pgbench', clients, 'clients inserting into 8 partitions');
console.log(`windows: ${windowLens.length}, window length ms p50=${med(windowLens).toFixed(1)} max=${Math.max(...windowLens).toFixed(1)}`);
console.log(`held requests: ${waits.length}; added latency ms p50=${pct(waits, 0.5).toFixed(2)} p99=${pct(waits, 0.99).toFixed(2)} max=${Math.max(...waits).toFixed(2)}`);
console.log(`pin -> first released request ms: p50=${med(pinToRelease).toFixed(3)} max=${Math.max(...pinToRelease).toFixed(3)}`);
console.log(`other partitions rows/s: no windows ${base.toFixed(0)}, with windows ${withW.toFixed(0)}, ratio ${(withW / base).toFixed(3)}`);
await node.stop();
await cluster.stop();
