import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { pgTool } from '../src/localdb/binaries.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { ProxyServer } from '../src/proxy/server.js';
import { startTestCluster } from './helpers/pg.js';
import { proxyClient, startTestProxy } from './helpers/proxy.js';
import { RawClient, serialize } from './helpers/raw-client.js';

const run = promisify(execFile);
let cluster: LocalCluster;
let proxy: ProxyServer;
let certDir: string;

beforeAll(async () => {
  cluster = await startTestCluster({
    hbaLines: ['host all md5_user 127.0.0.1/32 md5', 'host all scram_user 127.0.0.1/32 scram-sha-256'],
  });
  await cluster.query("SET password_encryption = 'md5'; CREATE ROLE md5_user LOGIN PASSWORD 'md5-secret'");
  await cluster.query("SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_user LOGIN PASSWORD 'scram-secret'");
  await cluster.query('GRANT ALL ON DATABASE demo TO md5_user, scram_user');
  certDir = mkdtempSync(join(tmpdir(), 'qc-tls-'));
  await run('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(certDir, 'key.pem'), '-out', join(certDir, 'cert.pem')]);
  proxy = await startTestProxy(cluster, { tls: { cert: join(certDir, 'cert.pem'), key: join(certDir, 'key.pem') }, maxClientConnections: 40, maxMessageBytes: 64 * 1024 * 1024 });
});
afterAll(async () => {
  await proxy?.shutdown(500);
  await cluster?.stop();
});

function psql(args: string[], env: Record<string, string> = {}): Promise<{ stdout: string; stderr: string; code: number }> {
  return new Promise((resolve) => {
    const child = spawn(pgTool('psql'), ['-X', '-v', 'ON_ERROR_STOP=1', ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => resolve({ stdout, stderr, code: code ?? -1 }));
  });
}

describe('authentication passes through', () => {
  test.each([
    ['md5_user', 'md5-secret'],
    ['scram_user', 'scram-secret'],
  ])('%s with the right password connects, a wrong one gets 28P01', async (user, password) => {
    const good = new pg.Client({ host: '127.0.0.1', port: proxy.address.port, database: 'demo', user, password });
    await good.connect();
    expect((await good.query('select current_user u')).rows[0].u).toBe(user);
    await good.end();
    const bad = new pg.Client({ host: '127.0.0.1', port: proxy.address.port, database: 'demo', user, password: 'wrong' });
    await expect(bad.connect()).rejects.toMatchObject({ code: '28P01' });
  });

  test('trust role through psql -c', async () => {
    const r = await psql(['-h', '127.0.0.1', '-p', String(proxy.address.port), '-U', 'postgres', '-d', 'demo', '-Atc', 'select 40 + 2']);
    expect(r.stdout.trim()).toBe('42');
  });
});

describe('TLS', () => {
  test('psql with sslmode=require talks TLS to the proxy', async () => {
    const r = await psql(['-Atc', 'select 1'], {
      PGHOST: '127.0.0.1', PGPORT: String(proxy.address.port), PGUSER: 'scram_user', PGPASSWORD: 'scram-secret', PGDATABASE: 'demo', PGSSLMODE: 'require',
    });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('1');
  });

  test('pg with ssl sees an encrypted socket and SCRAM still works', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port: proxy.address.port, database: 'demo', user: 'scram_user', password: 'scram-secret', ssl: { rejectUnauthorized: false } });
    await c.connect();
    expect((await c.query('select 3 as x')).rows[0].x).toBe(3);
    const stream = (c as unknown as { connection: { stream: { encrypted?: boolean } } }).connection.stream;
    expect(stream.encrypted).toBe(true);
    await c.end();
  });

  test('GSSENCRequest is answered N and the client goes on in plain text', async () => {
    const raw = await RawClient.open(proxy.address.port);
    const g = Buffer.alloc(8);
    g.writeInt32BE(8, 0);
    g.writeInt32BE(80877104, 4);
    const answer = new Promise<Buffer>((r) => raw.socket.once('data', (d: Buffer) => r(d)));
    raw.socket.write(g);
    expect((await answer).toString()).toBe('N');
    raw.end();
  });
});

describe('cancel', () => {
  test('pg_sleep(30) through the proxy is cancelled by its CancelRequest (57014) and the session goes on', async () => {
    const c = await proxyClient(proxy);
    const q = c.query('select pg_sleep(30)');
    await new Promise((r) => setTimeout(r, 200));
    const canceller = new pg.Client({ host: '127.0.0.1', port: proxy.address.port, database: 'demo', user: 'postgres' });
    // pg's own cancel path: a new connection sending CancelRequest with the key it got.
    const { processID, secretKey } = c as unknown as { processID: number; secretKey: number };
    const sock = connect({ host: '127.0.0.1', port: proxy.address.port });
    await new Promise((r) => sock.once('connect', r));
    sock.end(serialize.cancel(processID, secretKey));
    await expect(q).rejects.toMatchObject({ code: '57014' });
    expect((await c.query('select 1 as ok')).rows[0].ok).toBe(1);
    await c.end();
    void canceller;
  });

  test('a cancel key the proxy did not hand out is ignored', async () => {
    const c = await proxyClient(proxy);
    const q = c.query('select pg_sleep(0.5) as done');
    const sock = connect({ host: '127.0.0.1', port: proxy.address.port });
    await new Promise((r) => sock.once('connect', r));
    sock.end(serialize.cancel(12345, 999));
    expect((await q).rows[0].done).toBe('');
    await c.end();
  });
});

describe('limits and bad input', () => {
  test('more clients than maxClientConnections get 53300; the others are unaffected', async () => {
    const clients: pg.Client[] = [];
    try {
      for (let i = 0; i < 40; i++) clients.push(await proxyClient(proxy));
      const extra = new pg.Client({ host: '127.0.0.1', port: proxy.address.port, database: 'demo', user: 'postgres' });
      await expect(extra.connect()).rejects.toMatchObject({ code: '53300' });
      const rs = await Promise.all(clients.map((c, i) => c.query('select $1::int as i', [i])));
      expect(rs.map((r) => r.rows[0].i)).toEqual(clients.map((_, i) => i));
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  test('a message over quietcut\'s own lower limit gets 08P01 naming the setting, and a closed connection', async () => {
    const raw = await RawClient.startup(proxy.address.port);
    const hdr = Buffer.alloc(5);
    hdr[0] = 0x51;
    hdr.writeInt32BE(65 * 1024 * 1024, 1);
    raw.send(hdr);
    const err = await raw.until((m) => m.name === 'error');
    expect(err).toMatchObject({ code: '08P01', message: expect.stringMatching(/limits\.maxMessageBytes/) as unknown as string });
    expect(await raw.waitClosed()).toBe(true);
  });

  test.each([
    ['garbage bytes at startup', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')],
    ['a negative startup length', Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0])],
    ['a huge startup length', Buffer.from([0x10, 0, 0, 0, 0, 3, 0, 0])],
  ])('%s closes that client without a word, as PostgreSQL does; the others go on', async (_name, bytes) => {
    const other = await proxyClient(proxy);
    const raw = await RawClient.open(proxy.address.port);
    raw.send(bytes);
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.messages).toEqual([]);
    expect((await other.query('select 9 as n')).rows[0].n).toBe(9);
    await other.end();
  });

  test('garbage after startup: a negative message length closes only that client', async () => {
    const other = await proxyClient(proxy);
    const raw = await RawClient.startup(proxy.address.port);
    raw.send(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.messages).toEqual([]);
    expect((await other.query('select 9 as n')).rows[0].n).toBe(9);
    await other.end();
  });

  test('a malformed Bind gets the server\'s ERROR and the session goes on', async () => {
    const raw = await RawClient.startup(proxy.address.port);
    const bad = Buffer.from([0x42, 0, 0, 0, 8, 0, 0, 0xff, 0xff]); // portal "", stmt "", then nFormats -1
    bad.writeInt32BE(bad.length - 1, 1);
    raw.send(Buffer.concat([bad, serialize.sync()]));
    const err = await raw.until((m) => m.name === 'error');
    expect(err).toMatchObject({ severity: 'ERROR' });
    await raw.until((m) => m.name === 'readyForQuery');
    raw.messages.length = 0;
    raw.send(serialize.query('select 21'));
    await raw.until((m) => m.name === 'readyForQuery');
    expect(raw.messages.map((m) => m.name)).toEqual(['rowDescription', 'dataRow', 'commandComplete', 'readyForQuery']);
    raw.end();
  });

  test('a newer 3.x minor version is negotiated down to 3.0 and works', async () => {
    const raw = await RawClient.open(proxy.address.port);
    const b = serialize.startup({ user: 'postgres', database: 'demo', '_pq_.future_option': 'on' } as Record<string, string>);
    b.writeInt32BE((3 << 16) | 5, 4);
    const got: Buffer[] = [];
    raw.socket.on('data', (d: Buffer) => got.push(d));
    raw.send(b);
    await raw.until((m) => m.name === 'readyForQuery');
    const first = Buffer.concat(got);
    expect(first[0]).toBe(0x76); // NegotiateProtocolVersion before anything else
    expect(first.readInt32BE(5)).toBe(196608); // PG_PROTOCOL_LATEST, 3.0, as the server sends it
    expect(first.toString('utf8', 13, 13 + '_pq_.future_option'.length)).toBe('_pq_.future_option');
    raw.messages.length = 0;
    raw.send(serialize.query('select 11'));
    await raw.until((m) => m.name === 'readyForQuery');
    expect(raw.messages.some((m) => m.name === 'dataRow')).toBe(true);
    raw.end();
  });

  test('a client that never finishes its startup packet is closed without a word after the startup timeout', async () => {
    const small = await startTestProxy(cluster, { startupTimeoutMs: 300 });
    const raw = await RawClient.open(small.address.port);
    raw.send(Buffer.from([0, 0, 0, 40, 0, 3]));
    expect(await raw.waitClosed(5000)).toBe(true);
    expect(raw.messages).toEqual([]);
    expect(small.sessions.size).toBe(0);
    await small.shutdown(100);
  });

  test('bad clients during a pgbench run: pgbench sees zero failed transactions', async () => {
    const url = `postgres://postgres@127.0.0.1:${proxy.address.port}/demo`;
    await run(pgTool('pgbench'), ['-i', '-s', '1', '-q', url]);
    const bench = run(pgTool('pgbench'), ['-n', '-c', '4', '-j', '2', '-T', '4', '-M', 'extended', url]);
    const abusers: Promise<unknown>[] = [];
    for (let i = 0; i < 30; i++) {
      abusers.push(
        (async () => {
          await new Promise((r) => setTimeout(r, i * 100));
          const raw = await RawClient.open(proxy.address.port);
          raw.send(i % 3 === 0 ? Buffer.from('\x00\x00\x00\x08garbage!') : i % 3 === 1 ? Buffer.from([0xff, 0, 0, 0, 0]) : Buffer.from([0, 0, 0, 9, 0, 3, 0, 0, 0x41]));
          await raw.waitClosed(3000);
        })(),
      );
    }
    await Promise.all(abusers);
    const { stdout } = await bench;
    expect(stdout).toMatch(/number of failed transactions: 0 /);
    const tx = /number of transactions actually processed: (\d+)/.exec(stdout);
    expect(Number(tx?.[1])).toBeGreaterThan(100);
  });
});

describe('real tools', () => {
  test('psql \\copy in and out through the proxy', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'qc-copy-'));
    const csv = Array.from({ length: 5000 }, (_, i) => `${i},row ${i}`).join('\n') + '\n';
    writeFileSync(join(dir, 'in.csv'), csv);
    const base = ['-h', '127.0.0.1', '-p', String(proxy.address.port), '-U', 'postgres', '-d', 'demo'];
    expect((await psql([...base, '-c', 'create table psql_copy (id int, t text)'])).code).toBe(0);
    const inRes = await psql([...base, '-c', `\\copy psql_copy from '${join(dir, 'in.csv')}' csv`]);
    expect(inRes.stdout).toMatch(/COPY 5000/);
    const out = await psql([...base, '-Atc', 'select count(*), sum(id) from psql_copy']);
    expect(out.stdout.trim()).toBe(`5000|${(4999 * 5000) / 2}`);
    const outRes = await psql([...base, '-c', `\\copy (select * from psql_copy order by id) to '${join(dir, 'out.csv')}' csv`]);
    expect(outRes.stdout).toMatch(/COPY 5000/);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(join(dir, 'out.csv'), 'utf8')).toBe(csv);
  });

  test.each(['simple', 'extended', 'prepared'])('pgbench -M %s: zero failed transactions', async (mode) => {
    const url = `postgres://postgres@127.0.0.1:${proxy.address.port}/demo`;
    await run(pgTool('pgbench'), ['-i', '-s', '1', '-q', url]);
    const { stdout } = await run(pgTool('pgbench'), ['-n', '-c', '4', '-j', '2', '-T', '3', '-M', mode, url]);
    expect(stdout).toMatch(/number of failed transactions: 0 /);
    const before = await cluster.query<{ n: string }>('select sum(abalance)::text n from pgbench_accounts', [], 'demo');
    const hist = await cluster.query<{ s: string }>('select coalesce(sum(delta),0)::text s from pgbench_history', [], 'demo');
    // every acknowledged tpcb transaction added its delta to an account and a history row
    expect(before.rows[0]!.n).toBe(hist.rows[0]!.s);
  });
});

describe('shutdown', () => {
  test('SIGTERM-style shutdown lets a running transaction finish, then closes', async () => {
    const p = await startTestProxy(cluster, { shutdownTimeoutMs: 5000 });
    const idle = await proxyClient(p);
    const busy = await proxyClient(p);
    const idleErr = new Promise<string>((r) => idle.on('error', (e: Error & { code?: string }) => r(e.code ?? '')));
    await busy.query('begin');
    const longQ = busy.query('select pg_sleep(0.5) as s');
    const done = p.shutdown();
    expect(await idleErr).toBe('57P01');
    expect((await longQ).rows[0].s).toBe('');
    await busy.query('commit').catch(() => undefined);
    await done;
    expect(p.sessions.size).toBe(0);
    await expect(proxyClient(p)).rejects.toBeDefined();
  });
});

describe('no leaks', () => {
  test('500 connect/disconnect cycles leave no session and no server connection behind', async () => {
    const p = await startTestProxy(cluster);
    for (let i = 0; i < 500; i++) {
      const c = new pg.Client({ host: '127.0.0.1', port: p.address.port, database: 'demo', user: 'postgres', application_name: 'qc_cycle' });
      await c.connect();
      if (i % 2 === 0) await c.query('select 1');
      await c.end();
    }
    for (let i = 0; i < 50 && p.sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(p.sessions.size).toBe(0);
    expect(p.counters.serverConnections).toBe(0);
    const left = await cluster.query<{ n: number }>("select count(*)::int n from pg_stat_activity where application_name = 'qc_cycle'");
    expect(left.rows[0]!.n).toBe(0);
    await p.shutdown(100);
  });
});
