/**
 * `quietcut start --workers 2` in front of a server whose partitions live on two postgres_fdw
 * shards, cross-shard writers spread over both workers: every console BACKUP, whichever worker
 * runs it, is one cut across the shards, over repeated runs (multi-node-shards.test.ts with
 * workers instead of in-process nodes); nothing acknowledged is lost or applied twice.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifest, type Manifest } from '../src/backup/index.js';
import type { NodeState } from '../src/cli/locate.js';
import { LocalCluster } from '../src/localdb/cluster.js';
import { sharedWindowKey } from '../src/windows/coordination.js';
import { CliNodes, cliConfigFile, cliStatus, withOutput, type Started } from './helpers/cli-node.js';
import { checkCut, createShardedTable, restoreShardRows, XWriter } from './helpers/cross-writers.js';
import { waitFor } from './helpers/invariants.js';
import { startTestCluster } from './helpers/pg.js';
import { consoleQuery } from './helpers/started-node.js';

let front: LocalCluster;
let s1: LocalCluster;
let s2: LocalCluster;
let work: string;
let cli: CliNodes;
let primary: Started;
let state: NodeState;

beforeAll(async () => {
  [front, s1, s2] = await Promise.all([startTestCluster(), LocalCluster.start(), LocalCluster.start()]);
  work = mkdtempSync(join(tmpdir(), 'qc-workers-shards-'));
  await createShardedTable(front, s1, s2);
  cli = new CliNodes(work);
  primary = cli.start(['--workers', '2', '--config', cliConfigFile(work, front.url('demo'), { windows: { groups: 'table', maxHoldMs: 30_000 }, servers: { shard1: { url: s1.url('postgres') } } })]);
  state = await primary.served();
}, 180_000);
afterAll(async () => {
  await cli?.stopAll();
  await Promise.all([front?.stop(), s1?.stop(), s2?.stop()]);
});

const file = (m: Manifest, partition: string): string => {
  const e = m.partitions.find((p) => p.partition === partition);
  if (!e || e.status !== 'good') throw new Error(`${partition} is not good in the manifest`);
  return join(work, 'backups', m.runId, e.file);
};

describe('--workers 2, two shards', () => {
  test('each console BACKUP, each worker running one in turn, is one cut across the shards; the other worker held; repeated runs; nothing lost', async () => {
    const writers: XWriter[] = [];
    const addWriter = (): void => {
      const w = new XWriter(writers.length % 2 === 0 ? 'transaction' : 'causal', state.connectionString);
      writers.push(w);
      w.start();
    };
    for (let i = 0; i < 6; i++) addWriter();
    const perf = (d: Date | string): number => new Date(d).getTime() - performance.timeOrigin;
    const acked = (w: XWriter): number => w.records.filter((r) => r.ackAt !== null).length;
    // The primary hands a connection to a worker free to take it (a busy one gets fewer): more
    // writers join, all connected so far, until each worker has two.
    const workers = await waitFor('writers on both workers', async () => {
      const ws = (await cliStatus(state.metrics!)).workers ?? [];
      if (ws.length === 2 && ws.every((w) => w.clients >= 2)) return ws;
      if (writers.length < 30 && ws.reduce((n, w) => n + w.clients, 0) >= writers.length) addWriter();
      return null;
    });
    const runners = new Set<string>();
    try {
      for (let round = 0; round < 3; round++) {
        // Each cut must have committed transactions and pairs before it, else txIn/pairsIn are 0 by timing.
        const before = writers.map(acked);
        await waitFor('every writer acknowledged writes before this cut', () => writers.every((w, i) => acked(w) >= before[i]! + 3), 60_000);
        // the console session's worker runs the window: worker 0, 1, 0
        const rows = await withOutput(primary, consoleQuery(state.connectionString, 'BACKUP public.xw', workers.find((w) => w.slot === round % 2)!.node));
        expect(rows.map((r) => [r.partition, r.status]), JSON.stringify(rows)).toEqual([
          ['public.xw_0', 'good'],
          ['public.xw_1', 'good'],
          ['public.xw_2', 'good'],
        ]);
        const runId = rows[0]!.run_id!;
        // writes keep flowing after the cut, so later runs have something new to cut
        const seen = writers.map((w) => w.records.length);
        await waitFor('writes after the cut', () => writers.every((w, i) => w.records.length > seen[i]! + 2));

        const m = await readManifest(join(work, 'backups', runId));
        expect(m.node).toBe(workers.find((w) => w.slot === round % 2)!.node);
        runners.add(m.node);
        // Both workers held: the runner by its own window, the other acknowledged holding and releasing it.
        const { rows: acks } = await front.query<{ node: string; state: string }>('SELECT node, state FROM quietcut.window_acks WHERE window_key = $1', [sharedWindowKey(runId, 'public.xw')], 'demo');
        expect(acks, `round ${round}`).toEqual([{ node: workers.find((w) => w.node !== m.node)!.node, state: 'released' }]);

        const restored = await restoreShardRows(front, [file(m, 'public.xw_1'), file(m, 'public.xw_2')]);
        // The cut itself, with no clock involved: no torn transaction, no B without its A.
        const whole = checkCut(
          writers.flatMap((w) => w.records),
          restored,
          null,
        );
        expect(whole.violations, `round ${round}`).toEqual([]);
        expect(whole.txIn).toBeGreaterThan(0);
        expect(whole.pairsIn).toBeGreaterThan(0);
        // Acknowledged before the runner started holding (so before either worker did): in the cut.
        const startMs = perf(m.partitions[0]!.windowStart!);
        const early = checkCut(writers.flatMap((w) => w.records), restored, { startMs, marginMs: 5 });
        expect(early.violations.filter((v) => v.kind === 'acked-before-missing'), `round ${round}`).toEqual([]);
      }
    } finally {
      for (const w of writers) await w.stop();
    }
    // Nothing acknowledged is lost or applied twice, on the shards themselves.
    const onShards = new Map<number, number>();
    for (const s of [s1, s2]) {
      const { rows } = await s.query<{ id: string }>('SELECT id::text FROM data.w_part');
      for (const r of rows) onShards.set(Number(r.id), (onShards.get(Number(r.id)) ?? 0) + 1);
    }
    let n = 0;
    for (const r of writers.flatMap((w) => w.records)) {
      if (r.ackAt === null || r.error !== null) continue;
      n++;
      expect(onShards.get(r.id), `acknowledged write ${r.id}`).toBe(1);
    }
    expect(n).toBeGreaterThan(50);
    // Each worker ran at least one of the windows, the other holding for it.
    expect([...runners].sort()).toEqual(workers.map((w) => w.node).sort());
  }, 300_000);
});
