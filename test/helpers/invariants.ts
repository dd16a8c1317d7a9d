import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import type { LocalCluster } from '../../src/localdb/cluster.js';
import type { RunningNode } from '../../src/cli/run-node.js';

/**
 * What every fault test ends with (issue 15): no window left holding, every run finished, nothing
 * left running. Acknowledged-write checks are the test's own (they know what was written).
 */

/** pids of processes whose command line mentions `needle` (a backup dir, a data dir), this one excluded. */
export function processesMentioning(needle: string): Array<{ pid: number; args: string }> {
  const out = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.includes(needle))
    .map((l) => ({ pid: Number(l.split(/\s+/, 1)[0]), args: l.slice(l.indexOf(' ') + 1) }))
    .filter((p) => p.pid !== process.pid && !p.args.startsWith('ps '));
}

/** Wait (bounded) for a condition; the bound is generous: the machine is loaded. */
export async function waitFor<T>(what: string, f: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    try {
      const v = await f();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function expectRunsFinished(cluster: LocalCluster, database: string): Promise<Array<{ run_id: string; status: string }>> {
  const { rows } = await cluster.query<{ run_id: string; status: string; finished: boolean }>('SELECT run_id, status, finished_at IS NOT NULL AS finished FROM quietcut.runs ORDER BY run_id', [], database);
  for (const r of rows) {
    expect(['good', 'failed', 'aborted'], `run ${r.run_id}`).toContain(r.status);
    expect(r.finished, `run ${r.run_id} finished_at`).toBe(true);
  }
  const open = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM quietcut.backup_requests WHERE done_at IS NULL', [], database);
  expect(open.rows[0]!.n, 'requests without a result').toBe(0);
  return rows.map(({ run_id, status }) => ({ run_id, status }));
}

export function expectNothingHolding(node: RunningNode): void {
  expect(node.gate.active, 'a window is still holding').toBe(false);
}

/** No pg_dump (or anything else) still running with files in `backupDir`. */
export async function expectNoProcessLeft(backupDir: string): Promise<void> {
  await waitFor(`no process left writing into ${backupDir}`, () => processesMentioning(backupDir).length === 0, 30_000).catch(() => undefined);
  expect(processesMentioning(backupDir)).toEqual([]);
}
