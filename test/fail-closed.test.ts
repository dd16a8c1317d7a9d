/**
 * The gate fails closed (#11): statements that are not MVCC-safe never reach a windowed partition
 * between the pin and the moment its dumps hold their locks, and requests whose write set quietcut
 * cannot know are held while a window is open. Real PostgreSQL, real pg_dump; the restored artifact
 * and the server's own rows are the truth.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { readManifest, verifyRun } from '../src/backup/index.js';
import { loadConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { pgTool } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { testNodeConfig } from './helpers/node.js';
import { runBackup, type BackupRunResult } from '../src/coordinator/backup-run.js';
import { preparePin } from '../src/windows/pin.js';
import type { WindowMode } from '../src/windows/window.js';
import { startTestCluster } from './helpers/pg.js';
import { freshId } from './helpers/writers.js';

const run = promisify(execFile);
let cluster: LocalCluster;
let backupDir: string;
let node: RunningNode;

beforeAll(async () => {
  cluster = await startTestCluster();
  backupDir = mkdtempSync(join(tmpdir(), 'qc-failclosed-'));
  await cluster.query(
    `CREATE TABLE fc (id bigint NOT NULL, p int NOT NULL, v int) PARTITION BY LIST (p);
     CREATE TABLE fc_0 PARTITION OF fc FOR VALUES IN (0);
     CREATE TABLE fc_1 PARTITION OF fc FOR VALUES IN (1);
     CREATE TABLE side (id bigint);
     -- a function that writes a windowed partition without the statement naming it
     CREATE FUNCTION sneak(i bigint) RETURNS bigint LANGUAGE sql AS $$ INSERT INTO fc VALUES (i, 0, 0) RETURNING id $$;`,
    [],
    'demo',
  );
  node = await startNode();
}, 60_000);
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

function startNode(extra: ConfigInput = {}): Promise<RunningNode> {
  return runNode(testNodeConfig(cluster.url('demo'), backupDir, extra), silentLogger);
}

const nodeUrl = (n: RunningNode): string => `postgres://postgres@127.0.0.1:${n.proxy.address.port}/demo`;

async function until(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function restoreIds(file: string, table: string): Promise<number[]> {
  const db = `scratch_${freshId()}`;
  await cluster.query(`CREATE DATABASE ${db}`);
  try {
    await run(pgTool('pg_restore'), ['-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', '-d', db, '--no-owner', '--exit-on-error', file]);
    const { rows } = await cluster.query<{ id: string }>(`SELECT id::text FROM ${table} ORDER BY id`, [], db);
    return rows.map((r) => Number(r.id)).sort((a, b) => a - b);
  } finally {
    await cluster.query(`DROP DATABASE ${db} WITH (FORCE)`);
  }
}

async function fill(n: number): Promise<void> {
  await cluster.query(`TRUNCATE fc; INSERT INTO fc SELECT g, g % 2, 0 FROM generate_series(1, ${n}) g`, [], 'demo');
}

const count = async (table: string): Promise<number> => (await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`, [], 'demo')).rows[0]!.n;

/**
 * Back up `partition` through `node`'s gate; `during` runs while the window holds (after the drain,
 * before the snapshot is exported), `afterPin` once the dump has started.
 */
async function backupWith(
  partition: string,
  hooks: { during?: () => Promise<void>; afterPin?: () => void; mode?: WindowMode; lockWaitTimeoutMs?: number },
): Promise<BackupRunResult> {
  const config = loadConfig({
    env: {},
    overrides: { backup: { dir: backupDir, compression: 1, ...(hooks.lockWaitTimeoutMs ? { lockWaitTimeoutMs: hooks.lockWaitTimeoutMs } : {}) }, ...(hooks.mode ? { windows: { mode: hooks.mode } } : {}) },
  });
  const target = { host: cluster.host, port: cluster.port, user: 'postgres', database: 'demo' };
  return runBackup({
    partitions: [partition],
    rootOf: () => 'public.fc',
    config,
    gate: node.gate,
    target,
    pool: node.pool,
    node: 'test',
    trigger: 'test',
    onProgress: (_p, state) => {
      if (state === 'dumping') hooks.afterPin?.();
    },
    preparePin: async (_server, t, signal) => {
      const p = await preparePin(t, signal);
      return {
        take: async () => {
          await hooks.during?.();
          return p.take();
        },
        cancel: () => p.cancel(),
      };
    },
  });
}

async function artifactIds(r: BackupRunResult, partition: string): Promise<number[]> {
  const m = await readManifest(r.runDir);
  const e = m.partitions.find((x) => x.partition === partition);
  if (!e || e.status !== 'good') throw new Error(`${partition} not good: ${JSON.stringify(e)}`);
  return restoreIds(join(r.runDir, e.file), partition);
}

const evens = (n: number): number[] => Array.from({ length: n / 2 }, (_, i) => 2 * (i + 1));

describe('statements that are not MVCC-safe wait for the dump locks', () => {
  for (const [name, sql] of [
    ['TRUNCATE of the windowed leaf', 'TRUNCATE fc_0'],
    ['TRUNCATE of its parent', 'TRUNCATE fc'],
    ['a rewriting ALTER TABLE of the parent', 'ALTER TABLE fc ALTER COLUMN v TYPE bigint'],
    ['VACUUM FULL of the leaf', 'VACUUM FULL fc_0'],
  ] as const) {
    test(`${name}, held in the window and released at the pin: the backup still holds every acknowledged row`, async () => {
      await fill(200);
      const c = new pg.Client(nodeUrl(node));
      await c.connect();
      try {
        let sent: Promise<unknown> | null = null;
        let doneAt = 0;
        let dumpEndedBefore = false;
        const r = await backupWith('public.fc_0', {
          during: async () => {
            sent = c.query(sql).then(() => (doneAt = Date.now()));
            await until(() => node.gate.queuedRequests() === 1, 'the statement to be held');
          },
        });
        await sent;
        expect(r.status).toBe('good');
        const ids = await artifactIds(r, 'public.fc_0');
        expect(ids).toEqual(evens(200));
        // and verify agrees: the in-snapshot checksum was not fooled either
        const v = await verifyRun(r.runDir, { scratch: { host: cluster.host, port: cluster.port, user: 'postgres', database: 'postgres' } });
        expect(v.partitions.map((p) => p.status)).toEqual(['ok']);
        // The statement did run (server truth), after the dump had its locks.
        dumpEndedBefore = doneAt > 0;
        expect(dumpEndedBefore).toBe(true);
        if (sql.startsWith('TRUNCATE')) expect(await count('fc_0')).toBe(0);
        else expect(await count('fc_0')).toBe(100);
      } finally {
        await c.end();
        await cluster.query('ALTER TABLE fc ALTER COLUMN v TYPE int', [], 'demo');
      }
    });
  }

  test('a TRUNCATE sent after the pin, before the dump holds its lock, waits for it too', async () => {
    await fill(200);
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      let sent: Promise<unknown> | null = null;
      const r = await backupWith('public.fc_0', { afterPin: () => (sent = c.query('TRUNCATE fc')) });
      await sent;
      expect(sent).not.toBeNull();
      expect(r.status).toBe('good');
      expect(await artifactIds(r, 'public.fc_0')).toEqual(evens(200));
      expect(await count('fc')).toBe(0);
    } finally {
      await c.end();
    }
  });

  test('a transaction that truncated the windowed leaf before the window: the run is never a good empty backup', async () => {
    await fill(200);
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      await c.query('BEGIN');
      await c.query('TRUNCATE fc_0');
      let committing: Promise<unknown> | null = null;
      const r = await backupWith('public.fc_0', {
        lockWaitTimeoutMs: 300,
        during: async () => {
          committing = c.query('COMMIT');
          await until(() => node.gate.queuedRequests() === 1, 'the COMMIT to be held');
        },
      });
      // The open transaction's lock keeps the dump from the table; its COMMIT waits for the dump.
      // That cannot end well for the backup, and it must say so.
      expect(r.status).not.toBe('good');
      await committing;
      expect(await count('fc_0')).toBe(0);
    } finally {
      await c.end();
    }
  });

  test('reject mode: a TRUNCATE of the windowed partition gets 55P03 and nothing of it commits', async () => {
    await fill(200);
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      let err: { code?: string } | null = null;
      const r = await backupWith('public.fc_0', {
        mode: 'reject',
        during: async () => {
          err = await c.query('TRUNCATE fc').then(
            () => null,
            (e: { code?: string }) => e,
          );
        },
      });
      expect(err).toMatchObject({ code: '55P03' });
      expect(r.status).toBe('good');
      expect(await artifactIds(r, 'public.fc_0')).toEqual(evens(200));
      expect(await count('fc')).toBe(200);
    } finally {
      await c.end();
    }
  });
});

describe('requests whose write set is unknown are held while a window is open', () => {
  for (const [name, sql] of [
    ['a DO block writing the windowed partition', 'DO $$ BEGIN INSERT INTO fc VALUES (-1, 0, 0); END $$'],
    ['a user function writing it from a SELECT', 'SELECT sneak(-1)'],
    ['a user function called inside an INSERT of another table', 'INSERT INTO side SELECT sneak(-1)'],
  ] as const) {
    test(`${name}: not in the backup, committed after the window`, async () => {
      await fill(20);
      const c = new pg.Client(nodeUrl(node));
      await c.connect();
      try {
        let sent: Promise<unknown> | null = null;
        let heldAtPin = -1;
        const before = (await node.metrics.gateFailClosed.get()).values.reduce((a, v) => a + v.value, 0);
        const r = await backupWith('public.fc_0', {
          during: async () => {
            sent = c.query(sql);
            await until(() => node.gate.queuedRequests() === 1, 'the request to be held');
            heldAtPin = await count('fc_0');
          },
        });
        await sent;
        expect(heldAtPin).toBe(10);
        expect(r.status).toBe('good');
        expect(await artifactIds(r, 'public.fc_0')).toEqual(evens(20));
        expect(await count('fc_0')).toBe(11);
        const after = (await node.metrics.gateFailClosed.get()).values.reduce((a, v) => a + v.value, 0);
        expect(after).toBeGreaterThan(before);
      } finally {
        await c.end();
        await cluster.query('DELETE FROM side', [], 'demo');
      }
    });
  }

  test('reads of built-in functions are not held: SELECT count(*), now() passes during the window', async () => {
    await fill(20);
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      let n = -1;
      const r = await backupWith('public.fc_0', {
        during: async () => {
          const res = await c.query<{ n: number }>('SELECT count(*)::int AS n, now() FROM fc_0');
          n = res.rows[0]!.n;
        },
      });
      expect(r.status).toBe('good');
      expect(n).toBe(10);
    } finally {
      await c.end();
    }
  });

  test('windows.failClosed false: the user accepts the risk, a DO block passes', async () => {
    const open = await startNode({ windows: { failClosed: false } });
    const c = new pg.Client(nodeUrl(open));
    await c.connect();
    try {
      await fill(20);
      const config = loadConfig({ env: {}, overrides: { backup: { dir: backupDir, compression: 1 } } });
      let passed = false;
      const r = await runBackup({
        partitions: ['public.fc_1'],
        rootOf: () => 'public.fc',
        config,
        gate: open.gate,
        target: { host: cluster.host, port: cluster.port, user: 'postgres', database: 'demo' },
        pool: open.pool,
        node: 'test',
        trigger: 'test',
        preparePin: async (_s, t, signal) => {
          const p = await preparePin(t, signal);
          return {
            take: async () => {
              await c.query('DO $$ BEGIN INSERT INTO side VALUES (7); END $$');
              passed = true;
              return p.take();
            },
            cancel: () => p.cancel(),
          };
        },
      });
      expect(passed).toBe(true);
      expect(r.status).toBe('good');
    } finally {
      await c.end();
      await open.stop();
      await cluster.query('DELETE FROM side', [], 'demo');
    }
  });
});
