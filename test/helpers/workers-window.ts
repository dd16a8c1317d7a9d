/**
 * One window on w_0 through a `quietcut start --workers N` process, with writers of every kind
 * spread over its workers, judged on the server's own record (cut-checks.ts).
 */
import { expect } from 'vitest';
import type { NodeState } from '../../src/cli/locate.js';
import type { LocalCluster } from '../../src/localdb/cluster.js';
import { cliStatus } from './cli-node.js';
import { checkNothingLost, committedBetween, windowTimes } from './cut-checks.js';
import { waitFor } from './invariants.js';
import { consoleQuery } from './started-node.js';
import { Writer, type WriterKind } from './writers.js';

/** At most this many writers are opened to get two on every worker. */
const MAX_WRITERS = 40;

export interface WindowWithWritersOptions {
  kinds?: readonly WriterKind[];
  /** Runs while the window is open, given the node that runs it. */
  during?: (runner: string) => Promise<void>;
}

/**
 * A console BACKUP of w_0 with writers on every worker (two of each kind, and more until every
 * worker has two): no write to w_0 commits
 * between the cut and the window's end, no acknowledged write is lost, none is applied twice.
 */
export async function windowWithWriters(at: { cluster: LocalCluster; state: NodeState }, o: WindowWithWritersOptions = {}): Promise<{ runId: string; runner: string }> {
  const { cluster, state } = at;
  const port = Number(new URL(state.connectionString).port);
  const kinds = o.kinds ?? ['simple', 'extended', 'transaction', 'pipelined'];
  const ws: Writer[] = [];
  const addWriter = (): void => {
    const w = new Writer(100 + ws.length, kinds[ws.length % kinds.length]!, state.connectionString, port, () => Math.floor(Math.random() * 4));
    ws.push(w);
    w.start();
  };
  for (let i = 0; i < 2 * kinds.length; i++) addWriter();
  try {
    // The primary hands each connection to a worker that is free to take it, so a busy worker
    // gets fewer: more writers join until every worker has two (bounded).
    await waitFor('writers on every worker', async () => {
      const workers = (await cliStatus(state.metrics!)).workers!;
      if (workers.every((w) => w.clients >= 2)) return true;
      if (ws.length < MAX_WRITERS && workers.reduce((n, w) => n + w.clients, 0) >= ws.length) addWriter();
      // said when the wait times out: which worker lacks clients, and what became of the writers
      throw new Error(`clients per worker ${JSON.stringify(workers.map((w) => [w.slot, w.clients]))}; writers ${ws.length}, lost ${ws.filter((w) => w.lost).length}; errors ${JSON.stringify(ws.flatMap((w) => w.records.map((r) => r.error)).filter((e) => e !== null).slice(0, 5))}`);
    });
    await waitFor('every writer to get writes through', () => ws.every((w) => w.records.some((r) => r.ackAt !== null)));
    const backup = consoleQuery(state.connectionString, 'BACKUP public.w_0');
    const runner = await waitFor('the window to open', async () => {
      const { rows } = await cluster.query<{ runner: string }>(`SELECT runner FROM quietcut.windows WHERE state = 'open' AND 'public.w_0' = ANY(partitions)`, [], 'demo');
      return rows[0]?.runner;
    });
    await o.during?.(runner);
    const [row] = await backup;
    expect(row, JSON.stringify(row)).toMatchObject({ partition: 'public.w_0', status: 'good' });
    // keep writing a little after the window (writers whose worker was killed write no more)
    const live = ws.filter((w) => !w.lost);
    const after = live.map((w) => w.records.length);
    await waitFor('writes after the window', () => live.every((w, i) => w.records.length > after[i]! + 2));
    await Promise.all(ws.map((w) => w.stop()));
    const { cutMs, endMs } = await windowTimes(cluster, row!.run_id!, 'public.w_0');
    expect(endMs).toBeGreaterThan(cutMs);
    expect(await committedBetween(cluster, cutMs, endMs)).toBe(0);
    const { acked } = await checkNothingLost(cluster, ws);
    expect(acked).toBeGreaterThan(50);
    return { runId: row!.run_id!, runner };
  } finally {
    await Promise.all(ws.map((w) => w.stop()));
  }
}
