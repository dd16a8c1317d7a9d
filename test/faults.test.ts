import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { readManifest } from '../src/backup/index.js';
import { loadConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import type { ReleaseRule } from '../src/windows/window.js';
import { startTestCluster } from './helpers/pg.js';
import { FaultWriter, lostAndDuplicated } from './helpers/fault-writer.js';
import { expectNoProcessLeft, expectNothingHolding, expectRunsFinished, processesMentioning, waitFor } from './helpers/invariants.js';

/** Issue 15: whatever dies, every run ends, nothing stays held, nothing acknowledged is lost. */
let cluster: LocalCluster;
let backupDir: string;
const DB = 'demo';

beforeAll(async () => {
  cluster = await startTestCluster();
  backupDir = mkdtempSync(join(tmpdir(), 'qc-faults-'));
  await cluster.query(
    `CREATE TABLE f (id bigint NOT NULL, k int NOT NULL, pad text) PARTITION BY LIST (k);
     CREATE TABLE f_0 PARTITION OF f FOR VALUES IN (0);
     CREATE TABLE f_1 PARTITION OF f FOR VALUES IN (1);
     CREATE TABLE "f.dot" PARTITION OF f FOR VALUES IN (2);
     INSERT INTO f SELECT g, g % 3 FROM generate_series(1, 300) g;
     -- a partition whose dump and checksum take seconds
     CREATE TABLE big (id bigint NOT NULL, k int NOT NULL, pad text) PARTITION BY LIST (k);
     CREATE TABLE big_0 PARTITION OF big FOR VALUES IN (0);
     CREATE TABLE big_1 PARTITION OF big FOR VALUES IN (1);
     INSERT INTO big_0 SELECT -g, 0, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 400000) g;`,
    [],
    DB,
  );
});
afterAll(async () => {
  await cluster?.stop();
});

function nodeConfig(extra: ConfigInput = {}, dir = backupDir): ReturnType<typeof loadConfig> {
  return loadConfig({
    env: {},
    overrides: {
      upstream: { url: cluster.url(DB) },
      listen: '127.0.0.1:0',
      metrics: { listen: null },
      stats: { enabled: false },
      ...extra,
      backup: { dir, compression: 1, ...(extra.backup ?? {}) },
    },
  });
}

const proxyUrl = (node: RunningNode): string => `postgres://postgres@127.0.0.1:${node.proxy.address.port}/${DB}`;
const dumpsRunning = (dir = backupDir): number => processesMentioning(dir).filter((p) => p.args.includes('pg_dump')).length;

async function requestRow(partitions: string[], mode: string | null = null, release: string | null = null): Promise<string> {
  const { rows } = await cluster.query<{ id: string }>('INSERT INTO quietcut.backup_requests (partitions, mode, release) VALUES ($1, $2, $3) RETURNING id::text', [partitions, mode, release], DB);
  return rows[0]!.id;
}

interface RequestResult {
  run?: { status: string; runId: string; runDir: string; partitions: Array<{ partition: string; status: string; reason: string | null; rows: number | null }> };
  error?: string;
  refused?: boolean;
}

function requestDone(id: string, timeoutMs = 90_000): Promise<RequestResult> {
  return waitFor(
    `request ${id} done`,
    async () => {
      const r = await cluster.query<{ done: boolean; result: RequestResult }>('SELECT done_at IS NOT NULL AS done, result FROM quietcut.backup_requests WHERE id = $1', [id], DB);
      return r.rows[0]?.done ? r.rows[0].result : null;
    },
    timeoutMs,
  );
}

function cli(args: string[]): { done: Promise<{ code: number; stdout: string; stderr: string }>; pid: number } {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { env: { ...process.env, QUIETCUT_LOG_LEVEL: 'warn' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return { pid: child.pid!, done: new Promise((resolve) => child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }))) };
}

async function expectNothingLost(w: FaultWriter, table: string): Promise<void> {
  const r = await lostAndDuplicated((sql, params) => cluster.query(sql, params, DB), table, w.acked);
  expect(r).toEqual({ lost: [], duplicated: [] });
  expect(w.acked.size).toBeGreaterThan(0);
}

describe('rows read from the database', () => {
  test('a request with an unknown release or mode is refused and recorded, never half-run: the partition is not held and backs up afterwards', async () => {
    const node = await runNode(nodeConfig(), silentLogger);
    const w = new FaultWriter(() => proxyUrl(node), 'f', () => 0).start();
    try {
      const runsBefore = (await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM quietcut.runs', [], DB)).rows[0]!.n;
      const cases: Array<[string[], string | null, string | null, RegExp]> = [
        [['public.f_0'], null, 'after-lunch', /^refused request \d+: release "after-lunch" is not one of after-snapshot, after-dump$/],
        [['public.f_0'], 'stall', null, /^refused request \d+: mode "stall" is not one of hold, reject$/],
        [['public.f_0', 'table:'], null, null, /^refused request \d+: partition "table:" is not a name$/],
      ];
      for (const [parts, mode, release, message] of cases) {
        const r = await requestDone(await requestRow(parts, mode, release));
        expect(r.refused).toBe(true);
        expect(r.error).toMatch(message);
        expect(r.run).toBeUndefined();
      }
      expect((await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM quietcut.runs', [], DB)).rows[0]!.n).toBe(runsBefore);
      expectNothingHolding(node);
      // A value that reaches a window by another road (an API caller) ends the run failed, not held.
      const bad = await node.backup(['public.f_0'], { release: 'after-lunch' as ReleaseRule });
      expect(bad.status).toBe('failed');
      expect(bad.partitions[0]!.reason).toMatch(/unknown release rule "after-lunch"/);
      expectNothingHolding(node);
      const good = await requestDone(await requestRow(['public.f_0']));
      expect(good.run?.status).toBe('good');
    } finally {
      await w.stop();
      await node.stop();
    }
    await expectNothingLost(w, 'f');
    await expectRunsFinished(cluster, DB);
    await expectNoProcessLeft(backupDir);
  });
});

describe('held writes and failed dumps', () => {
  test('a failed dump releases held writes as soon as it fails, not after the checksum', async () => {
    const node = await runNode(nodeConfig({ windows: { groups: 'table', release: 'after-dump', maxHoldMs: 600_000 }, backup: { lockWaitTimeoutMs: 600_000 } }), silentLogger);
    // The checksum of big_0 cannot finish while this lock is held (nor can its dump).
    const blocker = new pg.Client({ connectionString: cluster.url(DB) });
    await blocker.connect();
    const writer = new pg.Client({ connectionString: proxyUrl(node) });
    await writer.connect();
    try {
      await blocker.query('BEGIN; LOCK TABLE big_0 IN ACCESS EXCLUSIVE MODE');
      const states = new Map<string, string>();
      const run = node.backup(['public.big_0', 'public.big_1'], { onProgress: (p, s) => states.set(p, s) });
      await waitFor('both dumps started', () => states.get('public.big_0') === 'dumping' && dumpsRunning() === 2);
      // A write to the other member is held by the group's window (after-dump).
      let acked = false;
      const write = writer.query('INSERT INTO big_1 (id, k) VALUES (1, 1)').then(() => (acked = true));
      await waitFor('the write is held', async () => {
        const { rows } = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'INSERT INTO big_1%'", [], DB);
        return rows[0]!.n === 0 && !acked && node.gate.isHeld('public.big_1');
      });
      for (const p of processesMentioning(backupDir).filter((x) => x.args.includes('pg_dump') && x.args.includes('big_0'))) process.kill(p.pid, 'SIGKILL');
      await write;
      // Released while the checksum is still blocked on the lock: the release did not wait for it.
      const lock = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE relation = 'big_0'::regclass AND mode = 'AccessExclusiveLock' AND granted", [], DB);
      expect(lock.rows[0]!.n).toBe(1);
      expectNothingHolding(node);
      await blocker.query('COMMIT');
      const r = await run;
      expect(r.status).not.toBe('good');
      expect(r.partitions.find((p) => p.partition === 'public.big_0')!.reason).toMatch(/pg_dump killed by SIGKILL|signal/);
      const rows = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM big_1 WHERE id = 1', [], DB);
      expect(rows.rows[0]!.n).toBe(1);
    } finally {
      await blocker.end().catch(() => undefined);
      await writer.end().catch(() => undefined);
      await node.stop();
    }
    await expectRunsFinished(cluster, DB);
    await expectNoProcessLeft(backupDir);
    expect(readdirSync(backupDir, { recursive: true }).filter((f) => String(f).endsWith('.partial'))).toEqual([]);
  });
});

describe('PostgreSQL restarts', () => {
  test('a fast restart mid-window ends the run, its manifest and its request: nothing is left running', async () => {
    const node = await runNode(nodeConfig({ windows: { release: 'after-dump', maxHoldMs: 600_000 } }), silentLogger);
    const w0 = new FaultWriter(() => proxyUrl(node), 'big', () => 0).start();
    const w1 = new FaultWriter(() => proxyUrl(node), 'f', () => 1).start();
    try {
      const id = await requestRow(['public.big_0']);
      await waitFor('the dump runs', () => dumpsRunning() === 1);
      await cluster.restart('fast');
      const r = await requestDone(id);
      expect(r.run?.status ?? 'error').not.toBe('good');
      if (r.run) {
        const m = await readManifest(r.run.runDir);
        expect(['failed', 'aborted']).toContain(m.status);
      }
      // Writes flow again after the restart, held ones included.
      const before = w0.acked.size;
      await waitFor('writes flow after the restart', () => w0.acked.size > before + 5 && w1.acked.size > 5);
      expectNothingHolding(node);
      // The node still backs up after the restart.
      const again = await requestDone(await requestRow(['public.f_1']));
      expect(again.run?.status).toBe('good');
    } finally {
      await w0.stop();
      await w1.stop();
      await node.stop();
    }
    await expectNothingLost(w0, 'big');
    await expectNothingLost(w1, 'f');
    await expectRunsFinished(cluster, DB);
    await expectNoProcessLeft(backupDir);
  });

  test('the backup CLI reports a PostgreSQL restart during its backup as a failed result, not a crash', async () => {
    const node = await runNode(nodeConfig({ windows: { release: 'after-dump', maxHoldMs: 600_000 } }), silentLogger);
    try {
      const c = cli(['backup', '--upstream', cluster.url(DB), '--partition', 'public.big_0', '--json']);
      await waitFor('the dump runs', () => dumpsRunning() === 1);
      await cluster.restart('fast');
      const r = await c.done;
      expect(r.stderr).not.toMatch(/Unhandled|at .*\.js:\d+|ECONNRESET|terminating connection/);
      expect(r.code).toBe(1);
      const result = JSON.parse(r.stdout) as { status: string; partitions: Array<{ partition: string; status: string; reason: string }> };
      expect(result.status).not.toBe('good');
      expect(result.partitions[0]!.partition).toBe('public.big_0');
      // The server's own words (terminating connection, shutting down, refused): whatever it said, said.
      expect(result.partitions[0]!.reason).toMatch(/\w{4,}/);
      expectNothingHolding(node);
    } finally {
      await node.stop();
    }
    await expectRunsFinished(cluster, DB);
    await expectNoProcessLeft(backupDir);
  });
});

describe('names and neighbours', () => {
  test('a partition whose name holds a dot is backed up, and its table backs up whole', async () => {
    const node = await runNode(nodeConfig(), silentLogger);
    try {
      const r = await requestDone(await requestRow(['table:public.f']));
      expect(r.run?.status).toBe('good');
      const byName = new Map(r.run!.partitions.map((p) => [p.partition, p]));
      expect([...byName.keys()].sort()).toEqual(['public.f.dot', 'public.f_0', 'public.f_1']);
      const dot = byName.get('public.f.dot')!;
      const { rows } = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM public."f.dot"', [], DB);
      expect(dot.rows).toBe(rows[0]!.n);
      const m = await readManifest(r.run!.runDir);
      const entry = m.partitions.find((p) => p.partition === 'public.f.dot')!;
      expect(entry.table).toEqual({ schema: 'public', name: 'f.dot' });
      expect(entry.status).toBe('good');
    } finally {
      await node.stop();
    }
    await expectRunsFinished(cluster, DB);
  });

  test('two deployments sharing a backup directory do not prune each other\'s runs', async () => {
    const shared = mkdtempSync(join(tmpdir(), 'qc-shared-'));
    await cluster.query('CREATE DATABASE other');
    await cluster.query('CREATE TABLE f (id bigint NOT NULL, k int NOT NULL, pad text) PARTITION BY LIST (k); CREATE TABLE f_0 PARTITION OF f FOR VALUES IN (0); INSERT INTO f_0 VALUES (1, 0)', [], 'other');
    const a = await runNode(nodeConfig({ backup: { dir: shared, keepRuns: 1 } }, shared), silentLogger);
    const b = await runNode(loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('other') }, listen: '127.0.0.1:0', metrics: { listen: null }, stats: { enabled: false }, backup: { dir: shared, keepRuns: 1, compression: 1 } } }), silentLogger);
    try {
      const a1 = await a.backup(['public.f_0']);
      const b1 = await b.backup(['public.f_0']);
      const b2 = await b.backup(['public.f_0']);
      expect([a1.status, b1.status, b2.status]).toEqual(['good', 'good', 'good']);
      const dirs = readdirSync(shared).sort();
      // b kept its newest run and pruned its older one; a's only run is untouched.
      expect(dirs).toEqual([a1.runId, b2.runId].sort());
      const ma = await readManifest(a1.runDir);
      expect(ma.partitions[0]!.prunedAt).toBeNull();
      expect(ma.source.systemIdentifier).toMatch(/^\d+$/);
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});

describe('quietcut killed', () => {
  test('SIGKILL of quietcut mid-dump: pg_dump dies with it, `quietcut backup` stops waiting, the restarted node finishes the run and request, no .partial stays', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qc-sigkill-'));
    const { freePort } = await import('../src/localdb/cluster.js');
    const port = await freePort();
    const { writeFileSync } = await import('node:fs');
    const cfg = join(dir, 'quietcut.yaml');
    writeFileSync(
      cfg,
      [`listen: 127.0.0.1:${port}`, 'upstream:', `  url: ${cluster.url(DB)}`, 'metrics:', '  listen: null', 'stats:', '  enabled: false', 'windows:', '  release: after-dump', '  maxHoldMs: 600000', 'backup:', `  dir: ${join(dir, 'runs')}`, '  compression: 1', 'log:', '  level: warn', ''].join('\n'),
    );
    const start = (): { pid: number; exited: Promise<number | null> } => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '-c', cfg], { stdio: ['ignore', 'ignore', 'ignore'] });
      return { pid: child.pid!, exited: new Promise((r) => child.on('exit', (code) => r(code))) };
    };
    const listening = (): Promise<boolean> =>
      waitFor('quietcut listening', async () => {
        const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/${DB}` });
        c.on('error', () => undefined);
        await c.connect();
        await c.end();
        return true;
      });
    let q = start();
    await listening();
    const w = new FaultWriter(() => `postgres://postgres@127.0.0.1:${port}/${DB}`, 'f', () => 1).start();
    try {
      const asking = cli(['backup', '--upstream', cluster.url(DB), '--partition', 'public.big_0']);
      await waitFor('the dump runs', () => dumpsRunning(dir) === 1);
      const t0 = Date.now();
      process.kill(q.pid, 'SIGKILL');
      await q.exited;
      // pg_dump had a process group of its own: the watchdog takes it down with its parent.
      await waitFor('pg_dump gone with quietcut', () => dumpsRunning(dir) === 0, 30_000);
      const asked = await asking.done;
      expect(asked.code).not.toBe(0);
      expect(asked.stderr).toMatch(/node .* stopped working on the request \(no heartbeat for \d+ s\)/);
      expect(Date.now() - t0).toBeLessThan(120_000); // not the one-hour --timeout
      const runDir = readdirSync(join(dir, 'runs'))[0]!;
      expect(readdirSync(join(dir, 'runs', runDir)).some((f) => f.endsWith('.partial'))).toBe(true);
      // Same host and port: the same node, back; it ends what its earlier life left.
      q = start();
      await listening();
      await waitFor('the abandoned run is finished', async () => {
        const { rows } = await cluster.query<{ status: string }>('SELECT status FROM quietcut.runs WHERE run_id = $1', [runDir], DB);
        return rows[0]?.status === 'aborted';
      });
      await waitFor('its partial file removed', () => readdirSync(join(dir, 'runs', runDir)).every((f) => !f.endsWith('.partial')));
      expect((await readManifest(join(dir, 'runs', runDir))).status).toBe('aborted');
      const next = cli(['backup', '--upstream', cluster.url(DB), '--partition', 'public.f_1']);
      expect((await next.done).code).toBe(0);
    } finally {
      await w.stop();
      process.kill(q.pid, 'SIGTERM');
      expect(await q.exited).toBe(0);
    }
    await expectNothingLost(w, 'f');
    await expectRunsFinished(cluster, DB);
    await expectNoProcessLeft(dir);
  });
});
