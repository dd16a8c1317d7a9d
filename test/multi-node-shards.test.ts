/**
 * Three quietcut nodes in front of a server whose partitions live on two postgres_fdw shards,
 * writers spread over the nodes: every windowed backup, whichever node runs it, is one cut across
 * the shards (a transaction across them wholly in or wholly out, no effect without its cause),
 * over repeated runs.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest, type Manifest } from '../src/backup/index.js';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { sharedWindowKey } from '../src/windows/coordination.js';
import { startTestCluster } from './helpers/pg.js';
import { checkCut, createShardedTable, restoreShardRows, XWriter, type ShardRows, type XWrite } from './helpers/cross-writers.js';
import { waitFor } from './helpers/invariants.js';

let front: LocalCluster;
let s1: LocalCluster;
let s2: LocalCluster;
let backupDir: string;
const nodes: RunningNode[] = [];

beforeAll(async () => {
  [front, s1, s2] = await Promise.all([startTestCluster(), LocalCluster.start(), LocalCluster.start()]);
  backupDir = mkdtempSync(join(tmpdir(), 'qc-multi-shards-'));
  await createShardedTable(front, s1, s2);
  for (let i = 0; i < 3; i++) {
    const config = loadConfig({
      env: {},
      overrides: {
        upstream: { url: front.url('demo') },
        listen: '127.0.0.1:0',
        metrics: { listen: null },
        windows: { groups: 'table', maxHoldMs: 30_000 },
        servers: { shard1: { url: s1.url('postgres') } },
        nodes: { leaseMs: 3000, heartbeatMs: 200, pollMs: 100 },
        backup: { dir: backupDir, compression: 1 },
        stats: { enabled: false },
      },
    });
    nodes.push(await runNode(config, silentLogger));
  }
}, 180_000);
afterAll(async () => {
  for (const n of nodes) await n.stop().catch(() => undefined);
  await Promise.all([front?.stop(), s1?.stop(), s2?.stop()]);
});

const restoreRows = (files: ReadonlyArray<string>): Promise<ShardRows> => restoreShardRows(front, files);

const file = (m: Manifest, partition: string): string => {
  const e = m.partitions.find((p) => p.partition === partition);
  if (!e || e.status !== 'good') throw new Error(`${partition} is not good in the manifest`);
  return join(backupDir, m.runId, e.file);
};

describe('three nodes, two shards', () => {
  test('each run, by whichever node, is one cut across the shards; every node held; repeated runs', async () => {
    const writers: Array<{ w: XWriter; node: number }> = [];
    nodes.forEach((n, i) => {
      for (const kind of ['transaction', 'causal'] as const) writers.push({ w: new XWriter(kind, `postgres://postgres@127.0.0.1:${n.proxy.address.port}/demo`), node: i });
    });
    for (const { w } of writers) w.start();
    const perf = (d: Date | string): number => new Date(d).getTime() - performance.timeOrigin;
    try {
      const acked = (w: XWriter): number => w.records.filter((r) => r.ackAt !== null).length;
      for (let round = 0; round < 3; round++) {
        // Each cut must have committed transactions and pairs before it, else txIn/pairsIn are 0 by timing.
        const before = writers.map(({ w }) => acked(w));
        await waitFor('every writer acknowledged writes before this cut', () => writers.every(({ w }, i) => acked(w) >= before[i]! + 3), 60_000);
        const runner = nodes[round]!;
        const result = await runner.backup(['public.xw_0', 'public.xw_1', 'public.xw_2']);
        expect(result.status, JSON.stringify(result.partitions.map((p) => p.reason))).toBe('good');
        // writes keep flowing after the cut, so "held writes are absent" has cases
        const seen = writers.map(({ w }) => w.records.length);
        await new Promise<void>((resolve) => {
          const t = setInterval(() => {
            if (writers.every(({ w }, i) => w.records.length > seen[i]! + 2)) {
              clearInterval(t);
              resolve();
            }
          }, 20);
        });
        const m = await readManifest(result.runDir);
        const key = sharedWindowKey(result.runId, 'public.xw');
        // Every node held: the runner by its own window, the two others as followers.
        const starts = new Map<number, number>([[round, perf(m.partitions[0]!.windowStart!)]]);
        nodes.forEach((n, i) => {
          if (i === round) return;
          const o = n.follower.outcome(key);
          expect(o?.state, `round ${round}: node ${i}`).toBe('dumped');
          starts.set(i, perf(o!.startedAt));
        });
        const rows = await restoreRows([file(m, 'public.xw_1'), file(m, 'public.xw_2')]);
        // The cut itself, with no clock involved: no torn transaction, no B without its A.
        const whole = checkCut(writers.flatMap(({ w }) => w.records), rows, null);
        expect(whole.violations, `round ${round}`).toEqual([]);
        expect(whole.txIn).toBeGreaterThan(0);
        expect(whole.pairsIn).toBeGreaterThan(0);
        // Per node, by that node's own start of holding: acknowledged before it → in; sent after it → out.
        for (const [i, startMs] of starts) {
          const mine: XWrite[] = writers.filter((x) => x.node === i).flatMap(({ w }) => w.records);
          const c = checkCut(mine, rows, { startMs, marginMs: 5 });
          expect(c.violations.filter((v) => v.kind !== 'torn-transaction' && v.kind !== 'b-without-a'), `round ${round}, node ${i}`).toEqual([]);
        }
      }
    } finally {
      for (const { w } of writers) await w.stop();
    }
  }, 300_000);
});
