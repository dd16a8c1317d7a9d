import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { readManifest, verifyRun } from '../src/backup/index.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import { pgTool } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { testNodeConfig } from './helpers/node.js';
import { startTestCluster } from './helpers/pg.js';
import { Writer, freshId, type WriteRecord } from './helpers/writers.js';
import { RawClient, serialize } from './helpers/raw-client.js';
import { waitFor } from './helpers/invariants.js';

const run = promisify(execFile);
let cluster: LocalCluster;
let backupDir: string;

beforeAll(async () => {
  cluster = await startTestCluster();
  backupDir = mkdtempSync(join(tmpdir(), 'qc-windows-'));
  const parts = Array.from({ length: 8 }, (_, i) => `CREATE TABLE w_${i} PARTITION OF w FOR VALUES IN (${i});`).join('\n');
  await cluster.query(
    `CREATE SEQUENCE w_order;
     CREATE TABLE w (id bigint NOT NULL, p int NOT NULL, sess int NOT NULL, seq int NOT NULL, tx bigint,
                     ord bigint NOT NULL DEFAULT nextval('w_order'), pad text) PARTITION BY LIST (p);
     ALTER SEQUENCE w_order OWNED BY w.ord;
     ${parts}
     -- a partition whose dump takes a few seconds, for after-dump windows
     CREATE TABLE big (id bigint, p int, sess int, seq int, tx bigint, ord bigserial, pad text) PARTITION BY LIST (p);
     CREATE TABLE big_0 PARTITION OF big FOR VALUES IN (0);
     CREATE TABLE big_1 PARTITION OF big FOR VALUES IN (1);
     INSERT INTO big_0 (id, p, sess, seq, pad) SELECT -g, 0, 0, 0, md5(g::text) || md5((g * 7)::text) FROM generate_series(1, 600000) g;`,
    [],
    'demo',
  );
});
afterAll(async () => {
  await cluster?.stop();
});

async function startNode(extra: ConfigInput = {}): Promise<RunningNode> {
  return runNode(testNodeConfig(cluster.url('demo'), backupDir, extra), silentLogger);
}

function nodeUrl(node: RunningNode): string {
  return `postgres://postgres@127.0.0.1:${node.proxy.address.port}/demo`;
}

async function restoreIds(file: string, table: string): Promise<Set<number>> {
  const db = `scratch_${freshId()}`;
  await cluster.query(`CREATE DATABASE ${db}`);
  try {
    await run(pgTool('pg_restore'), ['-h', cluster.host, '-p', String(cluster.port), '-U', 'postgres', '-d', db, '--no-owner', file]);
    const { rows } = await cluster.query<{ id: string }>(`SELECT id::text FROM ${table}`, [], db);
    return new Set(rows.map((r) => Number(r.id)));
  } finally {
    await cluster.query(`DROP DATABASE ${db}`);
  }
}

async function dbRows(): Promise<Map<number, { p: number; sess: number; seq: number; ord: number; n: number }>> {
  const { rows } = await cluster.query<{ id: string; p: number; sess: number; seq: number; ord: string; n: number }>(
    'SELECT id::text, min(p) p, min(sess) sess, min(seq) seq, min(ord)::text ord, count(*)::int n FROM w GROUP BY id',
    [],
    'demo',
  );
  return new Map(rows.map((r) => [Number(r.id), { p: r.p, sess: r.sess, seq: r.seq, ord: Number(r.ord), n: r.n }]));
}

function percentile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

describe('hold mode, after-snapshot: concurrent writers on 8 partitions while one is windowed', () => {
  let node: RunningNode;
  const writers: Writer[] = [];
  let records: WriteRecord[] = [];
  let windowStart = 0;
  let windowEnd = 0;
  let dumpFile = '';
  let runDir = '';
  const readerLatencies: number[] = [];

  beforeAll(async () => {
    node = await startNode();
    const kinds = ['simple', 'extended', 'transaction', 'pipelined'] as const;
    for (let s = 0; s < 8; s++) {
      const w = new Writer(s + 1, kinds[s % 4]!, nodeUrl(node), node.proxy.address.port, () => Math.floor(Math.random() * 8));
      writers.push(w);
      w.start();
    }
    // a reader that keeps reading the windowed partition
    let reading = true;
    const reader = (async () => {
      const c = new pg.Client(nodeUrl(node));
      await c.connect();
      while (reading) {
        const t = performance.now();
        await c.query('select count(*) from w_3');
        readerLatencies.push(performance.now() - t);
      }
      await c.end();
    })();
    // Enough writes to the windowed partition acknowledged before the window, however loaded the machine.
    await waitFor('12 acknowledged writes to w_3', () => writers.reduce((n, w) => n + w.records.filter((r) => r.p === 3 && r.ackAt !== null).length, 0) >= 12);
    const t0 = performance.now();
    const result = await node.backup(['public.w_3']);
    expect(result.status).toBe('good');
    runDir = result.runDir;
    const m = await readManifest(runDir);
    const entry = m.partitions[0]!;
    expect(entry.status).toBe('good');
    // Window start/end in this process's clock: manifest times are wall clock (ms), so convert
    // with an offset read at one instant.
    const wallToPerf = performance.now() - Date.now();
    windowStart = new Date(entry.windowStart!).getTime() + wallToPerf;
    windowEnd = new Date(entry.windowEnd!).getTime() + wallToPerf;
    expect(windowStart).toBeGreaterThanOrEqual(t0 - 50);
    dumpFile = join(runDir, (entry as { file: string }).file);
    await new Promise((r) => setTimeout(r, 500));
    reading = false;
    await reader;
    for (const w of writers) await w.stop();
    records = writers.flatMap((w) => w.records);
  });
  afterAll(async () => {
    await node?.stop();
  });

  test('1. every acknowledged write is in the database exactly once; nothing applied twice', async () => {
    const rows = await dbRows();
    const acked = records.filter((r) => r.ackAt !== null);
    expect(acked.length).toBeGreaterThan(200);
    expect(records.filter((r) => r.error !== null)).toEqual([]);
    for (const r of acked) expect(rows.get(r.id)?.n, `write ${r.id}`).toBe(1);
    for (const [id, row] of rows) expect(row.n, `id ${id}`).toBe(1);
    // writes the window held are among them
    const held = acked.filter((r) => r.p === 3 && r.sentAt > windowStart && r.sentAt < windowEnd);
    void held;
  });

  test('2. per-session order is preserved', async () => {
    const rows = await dbRows();
    for (const w of writers) {
      const mine = w.records.filter((r) => r.ackAt !== null).sort((a, b) => a.seq - b.seq);
      for (let i = 1; i < mine.length; i++) {
        const a = rows.get(mine[i - 1]!.id)!;
        const b = rows.get(mine[i]!.id)!;
        if (mine[i - 1]!.tx !== null && mine[i - 1]!.tx === mine[i]!.tx) continue;
        expect(b.ord, `session ${w.sess} seq ${mine[i]!.seq}`).toBeGreaterThan(a.ord);
      }
    }
  });

  test('3. only the windowed partition is held: reads and other partitions pass', async () => {
    expect(windowEnd - windowStart).toBeGreaterThan(0);
    const held = await node.metrics.heldWrites.get();
    const heldParts = held.values.filter((v) => v.value > 0).map((v) => v.labels.partition);
    for (const p of heldParts) expect(p).toBe('public.w_3');
    // the reader of the windowed partition never waited for the window (after-dump timing is
    // measured in the next test, where the window lasts seconds)
    expect(readerLatencies.length).toBeGreaterThan(10);
    expect(percentile(readerLatencies, 0.99)).toBeLessThan(5000);
  });

  test('4. the dump holds every write acknowledged before the window and none sent after it began', async () => {
    const ids = await restoreIds(dumpFile, 'w_3');
    const p3 = records.filter((r) => r.p === 3);
    const before = p3.filter((r) => r.ackAt !== null && r.ackAt < windowStart);
    const after = p3.filter((r) => r.sentAt > windowStart + 2);
    expect(before.length).toBeGreaterThan(5);
    for (const r of before) expect(ids.has(r.id), `acked-before ${r.id}`).toBe(true);
    for (const r of after) expect(ids.has(r.id), `sent-after ${r.id}`).toBe(false);
    // and the dump holds nothing of other partitions
    const other = new Set(records.filter((r) => r.p !== 3).map((r) => r.id));
    for (const id of ids) expect(other.has(id)).toBe(false);
  });

  test('8. verify passes on the good run and fails on a tampered dump', async () => {
    const scratch = { host: cluster.host, port: cluster.port, user: 'postgres', database: 'postgres' };
    const ok = await verifyRun(runDir, { scratch });
    expect(ok.ok).toBe(true);
    expect(statSync(dumpFile).mode & 0o777).toBe(0o600);
    const bytes = readFileSync(dumpFile);
    const mid = Math.floor(bytes.length / 2);
    bytes[mid] = bytes[mid]! ^ 0xff;
    writeFileSync(dumpFile, bytes);
    const bad = await verifyRun(runDir, { scratch });
    expect(bad.ok).toBe(false);
    expect(bad.partitions[0]!.status).not.toBe('ok');
  });
});

describe('hold mode, after-dump, with a dump of several seconds', () => {
  test('3. other partitions keep flowing while the windowed partition waits for the whole dump', async () => {
    // the budget must cover the whole dump (after-dump), which takes seconds on a busy machine
    const node = await startNode({ windows: { maxHoldMs: 120_000 } });
    try {
      const others = new Writer(100, 'extended', nodeUrl(node), node.proxy.address.port, () => 1, 'big');
      const held = new Writer(101, 'simple', nodeUrl(node), node.proxy.address.port, () => 0, 'big');
      others.start();
      await new Promise((r) => setTimeout(r, 300));
      const backup = node.backup(['public.big_0'], { release: 'after-dump' });
      // the held writer starts once the window holds (however long the pin takes to prepare)
      await waitFor('the window on big_0 to hold', () => node.gate.isHeld('public.big_0'), 60_000);
      held.start();
      const result = await backup;
      await new Promise((r) => setTimeout(r, 300));
      await others.stop();
      await held.stop();
      expect(result.status).toBe('good');
      const windowMs = result.partitions[0]!.windowMs!;
      expect(windowMs).toBeGreaterThan(1000);
      const m = await readManifest(result.runDir);
      const start = new Date(m.partitions[0]!.windowStart!).getTime();
      const end = new Date(m.partitions[0]!.windowEnd!).getTime();
      const offset = performance.now() - Date.now();
      const during = others.records.filter((r) => r.ackAt !== null && r.sentAt - offset > start && r.sentAt - offset < end);
      expect(during.length).toBeGreaterThan(20);
      const maxLat = Math.max(...during.map((r) => r.ackAt! - r.sentAt));
      expect(maxLat).toBeLessThan(windowMs / 2);
      // the held writer's first write waited for the dump, and it was not lost
      const first = held.records[0]!;
      expect(first.ackAt).not.toBeNull();
      expect(first.ackAt! - first.sentAt).toBeGreaterThan(windowMs / 3);
      const ids = await restoreIds(join(result.runDir, 'public.big_0.dump'), 'big_0');
      expect(ids.has(first.id)).toBe(false);
      expect(ids.size).toBe(600000);
    } finally {
      await node.stop();
    }
  });
});

describe('consistency group: table', () => {
  test('4. a transaction writing two partitions is wholly in the backup or wholly out', async () => {
    const node = await startNode({ windows: { groups: 'table' } });
    try {
      const writers = [0, 1, 2, 3].map((i) => new Writer(200 + i, 'transaction', nodeUrl(node), node.proxy.address.port, () => (Math.random() < 0.5 ? 1 : 2)));
      for (const w of writers) w.start();
      await new Promise((r) => setTimeout(r, 500));
      const result = await node.backup(['public.w_1', 'public.w_2']);
      await new Promise((r) => setTimeout(r, 300));
      for (const w of writers) await w.stop();
      expect(result.status).toBe('good');
      expect(new Set(result.partitions.map((p) => p.group))).toEqual(new Set(['public.w']));
      const m = await readManifest(result.runDir);
      expect(new Set(m.partitions.map((p) => p.snapshotId)).size).toBe(1);
      const in1 = await restoreIds(join(result.runDir, 'public.w_1.dump'), 'w_1');
      const in2 = await restoreIds(join(result.runDir, 'public.w_2.dump'), 'w_2');
      const txs = new Map<number, WriteRecord[]>();
      for (const r of writers.flatMap((w) => w.records)) if (r.tx !== null && r.ackAt !== null) txs.set(r.tx, [...(txs.get(r.tx) ?? []), r]);
      let inside = 0;
      let outside = 0;
      for (const [tx, rs] of txs) {
        const present = rs.map((r) => (r.p === 1 ? in1 : in2).has(r.id));
        expect(new Set(present).size, `tx ${tx}`).toBe(1);
        if (present[0]) inside++;
        else outside++;
      }
      expect(inside).toBeGreaterThan(0);
      expect(outside).toBeGreaterThan(0);
    } finally {
      await node.stop();
    }
  });
});

describe('reject mode', () => {
  test('5. writers get 55P03, their transaction commits nothing, a retry after the window succeeds', async () => {
    const node = await startNode({ windows: { mode: 'reject', maxHoldMs: 120_000 } });
    const c = new pg.Client(nodeUrl(node));
    await c.connect();
    try {
      const backup = node.backup(['public.big_0'], { release: 'after-dump' });
      await new Promise((r) => setTimeout(r, 300));
      const id1 = freshId();
      const err1 = await c.query('insert into big (id, p, sess, seq) values ($1, 0, 0, 0)', [id1]).catch((e: { code: string; message: string; hint?: string }) => e);
      expect(err1).toMatchObject({ code: '55P03' });
      expect((err1 as { message: string }).message).toMatch(/big_0/);
      // a transaction: its statements run, its COMMIT is rejected and rolls it back
      const id2 = freshId();
      await c.query('begin');
      await c.query('insert into big (id, p, sess, seq) values ($1, 0, 0, 0)', [id2]);
      await c.query('insert into big (id, p, sess, seq) values ($1, 1, 0, 0)', [id2 + 1000000]);
      await expect(c.query('commit')).rejects.toMatchObject({ code: '55P03' });
      // the session is idle again, not in a failed transaction
      expect((await c.query('select 1 as one')).rows[0].one).toBe(1);
      // other partitions are not rejected
      const id3 = freshId();
      await c.query('insert into big (id, p, sess, seq) values ($1, 1, 0, 0)', [id3]);
      const result = await backup;
      expect(result.status).toBe('good');
      expect(result.partitions[0]!.rejected).toBeGreaterThanOrEqual(2);
      const present = await cluster.query<{ id: string }>('select id::text from big where id = any($1)', [[id1, id2, id2 + 1000000, id3]], 'demo');
      expect(present.rows.map((r) => Number(r.id))).toEqual([id3]);
      // retry after the window: succeeds
      await c.query('insert into big (id, p, sess, seq) values ($1, 0, 0, 0)', [id1]);
      const again = await cluster.query('select 1 from big where id = $1', [id1], 'demo');
      expect(again.rowCount).toBe(1);
    } finally {
      await c.end();
      await node.stop();
    }
  });
  test('5. extended protocol: a write rejected at Flush skips to Sync; a request whose first part already ran commits nothing', async () => {
    const node = await startNode({ windows: { mode: 'reject', maxHoldMs: 120_000 } });
    const raw = await RawClient.startup(node.proxy.address.port);
    try {
      const backup = node.backup(['public.big_0'], { release: 'after-dump' });
      await new Promise((r) => setTimeout(r, 300));
      const insert = (id: number): Buffer[] => [
        serialize.parse({ text: 'insert into big (id, p, sess, seq) values ($1, 0, 0, 0)' }),
        serialize.bind({ values: [String(id)] }),
        serialize.execute({}),
      ];
      // Rejected at the Flush: the error comes at once, then nothing until the Sync's ReadyForQuery.
      const id1 = freshId();
      raw.send(Buffer.concat([...insert(id1), serialize.flush()]));
      const err = await raw.until((m) => m.name === 'error');
      expect((err as unknown as { code: string }).code).toBe('55P03');
      expect(raw.messages.some((m) => m.name === 'readyForQuery')).toBe(false);
      raw.send(serialize.sync());
      const rfq = await raw.until((m) => m.name === 'readyForQuery');
      expect((rfq as unknown as { status: string }).status).toBe('I');
      // A first part without a write goes through at its Flush; the write in the rest is rejected
      // and the part that already ran on the server (an insert into another partition) is undone.
      raw.messages.length = 0;
      const id2 = freshId();
      const id3 = freshId();
      raw.send(Buffer.concat([serialize.parse({ text: 'insert into big (id, p, sess, seq) values ($1, 1, 0, 0)' }), serialize.bind({ values: [String(id2)] }), serialize.execute({}), serialize.flush()]));
      await raw.until((m) => m.name === 'commandComplete');
      raw.send(Buffer.concat([...insert(id3), serialize.sync()]));
      const err2 = await raw.until((m) => m.name === 'error');
      expect((err2 as unknown as { code: string }).code).toBe('55P03');
      await raw.until((m) => m.name === 'readyForQuery');
      expect(raw.messages.filter((m) => m.name === 'readyForQuery')).toHaveLength(1);
      // the session is usable afterwards
      raw.messages.length = 0;
      raw.send(serialize.query('select 1'));
      await raw.until((m) => m.name === 'readyForQuery');
      expect(raw.messages.some((m) => m.name === 'error')).toBe(false);
      const result = await backup;
      expect(result.status).toBe('good');
      const present = await cluster.query<{ id: string }>('select id::text from big where id = any($1)', [[id1, id2, id3]], 'demo');
      expect(present.rows).toEqual([]);
    } finally {
      raw.end();
      await node.stop();
    }
  });
});

describe('budget and queue limits', () => {
  test('6. a dump that cannot take its lock aborts at the budget: writes released, run failed, metric counted', async () => {
    const node = await startNode({ windows: { maxHoldMs: 1500 }, backup: { lockWaitTimeoutMs: 20_000 } });
    const locker = new pg.Client(cluster.url('demo'));
    await locker.connect();
    const writer = new pg.Client(nodeUrl(node));
    await writer.connect();
    try {
      await locker.query('begin; lock table w_6 in access exclusive mode');
      const started = Date.now();
      const backup = node.backup(['public.w_6'], { release: 'after-dump' });
      await new Promise((r) => setTimeout(r, 200));
      const id = freshId();
      const write = writer.query('insert into w (id, p, sess, seq) values ($1, 6, 0, 0)', [id]);
      const result = await backup;
      const took = Date.now() - started;
      expect(result.status).toBe('aborted');
      expect(result.partitions[0]!.status).toBe('aborted');
      expect(result.partitions[0]!.reason).toMatch(/budget/);
      expect(took).toBeGreaterThanOrEqual(1400);
      expect(took).toBeLessThan(10_000);
      // the held write was released to the server (where it waits for the test's lock, as it would without quietcut)
      await locker.query('commit');
      await write;
      expect((await cluster.query('select 1 from w where id = $1', [id], 'demo')).rowCount).toBe(1);
      const m = await readManifest(result.runDir);
      expect(m.status).toBe('aborted');
      expect(existsSync(join(result.runDir, 'public.w_6.dump'))).toBe(false);
      const failures = await node.metrics.backupFailures.get();
      expect(failures.values.find((v) => v.labels.partition === 'public.w_6')?.value).toBe(1);
      const aborted = await node.metrics.windowsAborted.get();
      expect(aborted.values.find((v) => v.labels.partition === 'public.w_6' && v.labels.reason === 'budget')?.value).toBe(1);
    } finally {
      await locker.end().catch(() => undefined);
      await writer.end();
      await node.stop();
    }
  });

  test('7. queue overflow rejects the overflow clearly and loses nothing; a client that left is never executed', async () => {
    const node = await startNode({ windows: { maxHoldMs: 2000, partitions: { 'public.w_5': { maxQueuedRequests: 3 } } }, backup: { lockWaitTimeoutMs: 20_000 } });
    const locker = new pg.Client(cluster.url('demo'));
    await locker.connect();
    try {
      await locker.query('begin; lock table w_5 in access exclusive mode');
      const backup = node.backup(['public.w_5'], { release: 'after-dump' });
      await new Promise((r) => setTimeout(r, 200));
      const clients = await Promise.all(
        Array.from({ length: 8 }, async () => {
          const c = new pg.Client(nodeUrl(node));
          c.on('error', () => undefined);
          await c.connect();
          return c;
        }),
      );
      const ids = clients.map(() => freshId());
      const results: Array<Promise<unknown>> = [];
      for (let i = 0; i < clients.length; i++) {
        results.push(clients[i]!.query('insert into w (id, p, sess, seq) values ($1, 5, 0, 0)', [ids[i]]).then(() => 'ok', (e: { code?: string }) => e.code ?? 'error'));
        await new Promise((r) => setTimeout(r, 20));
      }
      await new Promise((r) => setTimeout(r, 100));
      // the first client was held; it disconnects before the window ends
      (clients[0] as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
      const result = await backup;
      expect(result.partitions[0]!.held).toBe(3);
      expect(result.partitions[0]!.rejected).toBe(5);
      await locker.query('commit');
      const outcomes = await Promise.all(results);
      expect(outcomes.filter((o) => o === '53400')).toHaveLength(5);
      expect(outcomes.filter((o) => o === 'ok')).toHaveLength(2);
      const present = await cluster.query<{ id: string }>('select id::text from w where id = any($1)', [ids], 'demo');
      expect(present.rows.map((r) => Number(r.id)).sort((a, b) => a - b)).toEqual([ids[1], ids[2]].sort((a, b) => a! - b!));
      for (const c of clients.slice(1)) await c.end();
    } finally {
      await locker.end().catch(() => undefined);
      await node.stop();
    }
  });
});
