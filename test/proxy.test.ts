import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Readable, Writable } from 'node:stream';
import pg from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { ProxyServer } from '../src/proxy/server.js';
import { startTestCluster } from './helpers/pg.js';
import { proxyClient, settle, startTestProxy } from './helpers/proxy.js';
import { RawClient, serialize } from './helpers/raw-client.js';
import { waitFor } from './helpers/invariants.js';

let cluster: LocalCluster;

let proxy: ProxyServer;

beforeAll(async () => {
  cluster = await startTestCluster();
  proxy = await startTestProxy(cluster);
  await cluster.query('CREATE TABLE kv (k int primary key, v text, b bytea)', [], 'demo');
});
afterAll(async () => {
  if (proxy) await settle(proxy);
  await proxy?.shutdown(500);
  await cluster?.stop();
});

describe('transparent proxying with pg', () => {
  test('simple and extended protocol, named and unnamed statements, NULLs', async () => {
    const c = await proxyClient(proxy);
    try {
      expect((await c.query('select 1 as a, null::int as n')).rows).toEqual([{ a: 1, n: null }]);
      expect((await c.query('select $1::int + 1 as a, $2::text as t', [41, null])).rows).toEqual([{ a: 42, t: null }]);
      for (let i = 0; i < 5; i++) {
        const r = await c.query({ name: 'named_add', text: 'select $1::int * 2 as d', values: [i] });
        expect(r.rows[0].d).toBe(i * 2);
      }
      await c.query('insert into kv values (1, $1, $2)', ['one', Buffer.from([0, 1, 2, 255])]);
      const r = await c.query('select v, b from kv where k = 1');
      expect(r.rows[0].v).toBe('one');
      expect(Buffer.compare(r.rows[0].b as Buffer, Buffer.from([0, 1, 2, 255]))).toBe(0);
    } finally {
      await c.end();
    }
  });

  test('binary parameters and binary results', async () => {
    const c = await proxyClient(proxy);
    try {
      const r = await c.query({ text: 'select encode($1::bytea, $2) as h, 12345::int4 as i, null::int4 as n', values: [Buffer.from('deadbeef00ff', 'hex'), 'hex'], binary: true } as pg.QueryConfig);
      expect(r.rows[0].h).toBe('deadbeef00ff');
      expect(r.rows[0].i).toBe(12345);
      expect(r.rows[0].n).toBeNull();
    } finally {
      await c.end();
    }
  });

  test('errors in and out of transactions keep the session usable', async () => {
    const c = await proxyClient(proxy);
    try {
      await expect(c.query('select * from no_such_table')).rejects.toMatchObject({ code: '42P01' });
      expect((await c.query('select 7 as x')).rows[0].x).toBe(7);
      await c.query('begin');
      await c.query("insert into kv values (100, 'in tx')");
      await expect(c.query("insert into kv values (100, 'dup')")).rejects.toMatchObject({ code: '23505' });
      await expect(c.query('select 1')).rejects.toMatchObject({ code: '25P02' });
      await c.query('rollback');
      expect((await c.query('select count(*)::int n from kv where k = 100')).rows[0].n).toBe(0);
    } finally {
      await c.end();
    }
  });

  test('large result set and a 10 MB row', async () => {
    const c = await proxyClient(proxy);
    try {
      const r = await c.query('select g, md5(g::text) m from generate_series(1, 200000) g');
      expect(r.rowCount).toBe(200000);
      expect(r.rows[199999].m).toBe(createHash('md5').update('200000').digest('hex'));
      const big = randomBytes(5 * 1024 * 1024).toString('hex'); // 10 MB of text
      await c.query('insert into kv values (2, $1)', [big]);
      const back = await c.query('select v, length(v) l from kv where k = 2');
      expect(back.rows[0].l).toBe(big.length);
      expect(back.rows[0].v === big).toBe(true);
      const lit = await c.query(`select length('${big}') as l`);
      expect(lit.rows[0].l).toBe(big.length);
    } finally {
      await c.end();
    }
  });

  test('LISTEN/NOTIFY across two proxied sessions', async () => {
    const a = await proxyClient(proxy);
    const b = await proxyClient(proxy);
    try {
      await a.query('listen qc_chan');
      const got = new Promise<string>((resolve) => a.on('notification', (n) => resolve(n.payload ?? '')));
      await b.query("notify qc_chan, 'hello through quietcut'");
      expect(await got).toBe('hello through quietcut');
    } finally {
      await a.end();
      await b.end();
    }
  });

  test('COPY FROM STDIN and COPY TO STDOUT of 100 MB, byte for byte', async () => {
    const c = await proxyClient(proxy);
    try {
      await c.query('create table copy_big (id int, pad text)');
      const rows = 400_000;
      const pad = 'x'.repeat(250);
      const hashIn = createHash('sha256');
      let bytesIn = 0;
      function* lines(): Generator<Buffer> {
        let batch: string[] = [];
        for (let i = 1; i <= rows; i++) {
          batch.push(`${i}\t${pad}\n`);
          if (batch.length === 1000) {
            const b = Buffer.from(batch.join(''));
            hashIn.update(b);
            bytesIn += b.length;
            yield b;
            batch = [];
          }
        }
      }
      await pipeline(Readable.from(lines()), c.query(copyFrom('COPY copy_big FROM STDIN')));
      expect(bytesIn).toBeGreaterThan(100 * 1000 * 1000);
      const hashOut = createHash('sha256');
      let bytesOut = 0;
      await pipeline(
        c.query(copyTo('COPY (select * from copy_big order by id) TO STDOUT')),
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            hashOut.update(chunk);
            bytesOut += chunk.length;
            cb();
          },
        }),
      );
      expect(bytesOut).toBe(bytesIn);
      expect(hashOut.digest('hex')).toBe(hashIn.digest('hex'));
      expect((await c.query('select count(*)::int n from copy_big')).rows[0].n).toBe(rows);
      await c.query('drop table copy_big');
    } finally {
      await c.end();
    }
  });

  test('pipelined extended-protocol requests in one write, answered in order', async () => {
    const raw = await RawClient.startup(proxy.address.port);
    try {
      const parts: Buffer[] = [];
      for (let i = 0; i < 50; i++) {
        parts.push(serialize.parse({ text: 'select $1::int as v', types: [] }));
        parts.push(serialize.bind({ values: [String(i)] }));
        parts.push(serialize.execute({}));
        parts.push(serialize.sync());
      }
      parts.push(serialize.query('select 1; select 2'));
      raw.send(Buffer.concat(parts));
      await raw.countOf('readyForQuery', 51);
      const values = raw.messages.filter((m) => m.name === 'dataRow').map((m) => (m as unknown as { fields: string[] }).fields[0]);
      expect(values).toEqual([...Array.from({ length: 50 }, (_, i) => String(i)), '1', '2']);
    } finally {
      raw.end();
    }
  });

  test('messages split into single bytes still work', async () => {
    const raw = await RawClient.startup(proxy.address.port);
    try {
      const q = Buffer.concat([serialize.query('select 42 as x'), serialize.parse({ text: 'select 43' }), serialize.bind({}), serialize.execute({}), serialize.sync()]);
      for (const byte of q) {
        raw.send(Buffer.from([byte]));
        await new Promise((r) => setImmediate(r));
      }
      await raw.countOf('readyForQuery', 2);
      const values = raw.messages.filter((m) => m.name === 'dataRow').map((m) => (m as unknown as { fields: string[] }).fields[0]);
      expect(values).toEqual(['42', '43']);
    } finally {
      raw.end();
    }
  });

  test('transaction status is tracked from ReadyForQuery', async () => {
    const c = await proxyClient(proxy);
    try {
      // Find this client's session by its backend (sessions of earlier tests may still be closing).
      const pid = (await c.query('select pg_backend_pid() p')).rows[0].p as number;
      const s = [...proxy.sessions].find((x) => x.pid === pid);
      expect(s).toBeDefined();
      await c.query('begin');
      expect(s!.txStatus).toBe('T');
      // pg rejects at the ErrorResponse, which PostgreSQL flushes before its ReadyForQuery: the
      // status can arrive after the rejection, so wait for it rather than read it at once.
      await expect(c.query('select 1/0')).rejects.toMatchObject({ code: '22012' });
      await waitFor('the session to see the failed transaction', () => s!.txStatus === 'E');
      await c.query('rollback');
      expect(s!.txStatus).toBe('I');
    } finally {
      await c.end();
    }
  });

  test('the upstream going away gives the client 08006 and closes it', async () => {
    const c = await proxyClient(proxy);
    const errors: Array<{ code?: string }> = [];
    c.on('error', (e: Error & { code?: string }) => errors.push(e));
    const pid = (await c.query('select pg_backend_pid() p')).rows[0].p as number;
    await cluster.query('select pg_terminate_backend($1)', [pid]);
    await new Promise((r) => setTimeout(r, 300));
    await expect(c.query('select 1')).rejects.toBeDefined();
    expect(errors.some((e) => e.code === '57P01' || e.code === '08006')).toBe(true);
    // and the proxy still serves others
    const d = await proxyClient(proxy);
    expect((await d.query('select 5 as f')).rows[0].f).toBe(5);
    await d.end();
  });

  test('a client going away closes its server connection', async () => {
    const c = await proxyClient(proxy, 'demo', { application_name: 'qc_gone' });
    await c.query('select 1');
    const before = await cluster.query<{ n: number }>("select count(*)::int n from pg_stat_activity where application_name = 'qc_gone'");
    expect(before.rows[0]!.n).toBe(1);
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    let n = 1;
    for (let i = 0; i < 50 && n > 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      n = (await cluster.query<{ n: number }>("select count(*)::int n from pg_stat_activity where application_name = 'qc_gone'")).rows[0]!.n;
    }
    expect(n).toBe(0);
  });
});

describe('pool of clients', () => {
  test('many concurrent sessions each see their own results', async () => {
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${proxy.address.port}/demo`, max: 20 });
    try {
      const results = await Promise.all(Array.from({ length: 200 }, (_, i) => pool.query('select $1::int as i, pg_backend_pid() as pid', [i])));
      expect(results.map((r) => r.rows[0].i)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    } finally {
      await pool.end();
    }
  });
});
