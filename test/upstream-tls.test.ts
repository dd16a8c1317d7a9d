import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFile } from 'node:child_process';
import { chownSync, chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { runNode } from '../src/cli/run-node.js';
import { loadConfig } from '../src/config/load.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { loadUpstreamTls, type SslMode } from '../src/util/pg-tls.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';
import { startTestProxy } from './helpers/proxy.js';
import { pgTool } from '../src/localdb/binaries.js';

/**
 * TLS to the server: a throwaway cluster with ssl = on whose pg_hba takes TLS connections only,
 * certificates from a throwaway CA made here with openssl.
 */
const run = promisify(execFile);
let cluster: LocalCluster;
let dir: string;
const file = (n: string): string => join(dir, n);

async function openssl(args: string[]): Promise<void> {
  await run('openssl', args);
}

/** A CA, and a certificate it signs for `cn` with these subjectAltNames (or none). */
async function makeCa(name: string): Promise<void> {
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', `/CN=${name}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.crt`)]);
}
async function signed(ca: string, name: string, cn: string, san: string | null): Promise<void> {
  await openssl(['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${cn}`, '-keyout', file(`${name}.key`), '-out', file(`${name}.csr`)]);
  const ext = file(`${name}.ext`);
  writeFileSync(ext, san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  await openssl(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${ca}.crt`), '-CAkey', file(`${ca}.key`), '-CAcreateserial', '-days', '1', '-extfile', ext, '-out', file(`${name}.crt`)]);
  chmodSync(file(`${name}.key`), 0o600);
}

function postgresOwns(paths: string[]): void {
  const line = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith('postgres:'));
  if (!line || process.getuid?.() !== 0) return;
  const [, , uid, gid] = line.split(':');
  for (const p of paths) chownSync(p, Number(uid), Number(gid));
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qc-upstream-tls-'));
  chmodSync(dir, 0o755);
  await makeCa('ca');
  await makeCa('other-ca');
  await signed('ca', 'server', 'quietcut test server', 'IP:127.0.0.1,DNS:localhost');
  await signed('ca', 'client', 'tls_certuser', null);
  await signed('ca', 'proxy', 'quietcut test proxy', 'IP:127.0.0.1');
  postgresOwns([file('server.crt'), file('server.key'), file('ca.crt')]);
  cluster = await startTestCluster({
    settings: { ssl: 'on', ssl_cert_file: `'${file('server.crt')}'`, ssl_key_file: `'${file('server.key')}'`, ssl_ca_file: `'${file('ca.crt')}'` },
  });
  await cluster.query('CREATE ROLE tls_certuser LOGIN');
  await cluster.query('GRANT ALL ON DATABASE demo TO tls_certuser');
  await cluster.query("SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_user LOGIN PASSWORD 'scram-secret'");
  // TLS only from now on: a plain TCP connection is refused by the server itself
  const hba = join(cluster.dataDir, 'pg_hba.conf');
  const owner = statSync(hba);
  writeFileSync(hba, ['hostssl all tls_certuser 127.0.0.1/32 cert', 'hostssl all scram_user 127.0.0.1/32 scram-sha-256', 'hostssl all all 127.0.0.1/32 trust', 'local all all trust', ''].join('\n'));
  chownSync(hba, owner.uid, owner.gid);
  const c = new pg.Client({ host: cluster.socketDir, port: cluster.port, user: 'postgres', database: 'postgres' });
  await c.connect();
  await c.query('select pg_reload_conf()');
  await c.end();
});
afterAll(async () => {
  await cluster?.stop();
});

function tlsConfig(mode: SslMode, rootCert: string | null = null, client = false) {
  return { mode, rootCert, cert: client ? file('client.crt') : null, key: client ? file('client.key') : null };
}

/** Through a proxy with this upstream.tls: is the session's server connection encrypted? */
async function sessionThrough(mode: SslMode, rootCert: string | null, user = 'postgres', client = false): Promise<{ ssl?: boolean; error?: string }> {
  const proxy = await startTestProxy(cluster, {
    upstream: { host: '127.0.0.1', port: cluster.port, connectTimeoutMs: 5000, tls: loadUpstreamTls(tlsConfig(mode, rootCert, client)) },
  });
  const c = new pg.Client({ host: '127.0.0.1', port: proxy.address.port, user, database: 'demo' });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
    return { ssl: r.rows[0]!.ssl };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { error: `${err.code ?? ''} ${err.message}` };
  } finally {
    await c.end().catch(() => undefined);
    await proxy.shutdown(100);
  }
}

describe('client sessions over TLS to the server, for each sslmode', () => {
  test('disable: the server refuses the plain connection and the client gets its words', async () => {
    const r = await sessionThrough('disable', null);
    expect(r.error).toMatch(/^28000 no pg_hba\.conf entry for host "127\.0\.0\.1", user "postgres", database "demo", no encryption/);
  });
  test('prefer: TLS, since the server offers it', async () => {
    expect(await sessionThrough('prefer', null)).toEqual({ ssl: true });
  });
  test('require: TLS, certificate not checked', async () => {
    expect(await sessionThrough('require', null)).toEqual({ ssl: true });
  });
  test('verify-ca with the CA that signed the server certificate', async () => {
    expect(await sessionThrough('verify-ca', file('ca.crt'))).toEqual({ ssl: true });
  });
  test('verify-ca with another CA: refused by quietcut, the client told why', async () => {
    const r = await sessionThrough('verify-ca', file('other-ca.crt'));
    expect(r.error).toMatch(/^08006 quietcut: server connection lost: server certificate not trusted/);
  });
  test('require with a rootCert verifies the chain, as libpq does', async () => {
    const r = await sessionThrough('require', file('other-ca.crt'));
    expect(r.error).toMatch(/server certificate not trusted/);
  });
  test('verify-full: chain and host name (127.0.0.1 is in the certificate)', async () => {
    expect(await sessionThrough('verify-full', file('ca.crt'))).toEqual({ ssl: true });
  });
  test('a client certificate for pg_hba cert authentication of quietcut\'s role', async () => {
    expect(await sessionThrough('verify-full', file('ca.crt'), 'tls_certuser', true)).toEqual({ ssl: true });
    const without = await sessionThrough('verify-full', file('ca.crt'), 'tls_certuser', false);
    expect(without.error).toMatch(/^28000 connection requires a valid client certificate/);
  });
});

describe('SCRAM channel binding over TLS on both hops (psql, libpq)', () => {
  /** psql as scram_user with these connection options; the password comes from the environment. */
  async function psql(port: number, options: string): Promise<{ ok: boolean; out: string }> {
    try {
      const r = await run(pgTool('psql'), ['-X', '-At', '-c', 'select current_user', `host=127.0.0.1 port=${port} dbname=demo user=scram_user ${options}`], {
        env: { ...process.env, PGPASSWORD: 'scram-secret', PGSSLROOTCERT: file('ca.crt') },
      });
      return { ok: true, out: r.stdout.trim() };
    } catch (e) {
      return { ok: false, out: String((e as { stderr?: string }).stderr ?? e) };
    }
  }
  async function withProxy<T>(presents: 'proxy' | 'server', f: (port: number) => Promise<T>): Promise<T> {
    const proxy = await startTestProxy(cluster, {
      upstream: { host: '127.0.0.1', port: cluster.port, connectTimeoutMs: 5000, tls: loadUpstreamTls(tlsConfig('require')) },
      tls: { cert: file(`${presents}.crt`), key: file(`${presents}.key`) },
    });
    try {
      return await f(proxy.address.port);
    } finally {
      await proxy.shutdown(100);
    }
  }

  test('directly, the libpq default (channel_binding=prefer) binds and logs in', async () => {
    expect(await psql(cluster.port, 'sslmode=require')).toEqual({ ok: true, out: 'scram_user' });
  });

  test('through quietcut with its own certificate: binding clients are refused by quietcut, naming what to change; channel_binding=disable logs in', async () => {
    await withProxy('proxy', async (port) => {
      for (const cb of ['prefer', 'require']) {
        const r = await psql(port, `sslmode=require channel_binding=${cb}`);
        expect(r.ok, cb).toBe(false);
        expect(r.out, cb).toContain('quietcut: SCRAM channel binding cannot pass quietcut');
        expect(r.out, cb).toContain('channel_binding=disable');
      }
      expect(await psql(port, 'sslmode=require channel_binding=disable')).toEqual({ ok: true, out: 'scram_user' });
    });
  });

  test('a client without TLS to quietcut is offered SCRAM without PLUS, as a plain client of the server is, and logs in', async () => {
    // libpq refuses a PLUS offer over a plain connection; the server makes it to quietcut, on TLS.
    await withProxy('proxy', async (port) => {
      expect(await psql(port, 'sslmode=disable')).toEqual({ ok: true, out: 'scram_user' });
      expect(await psql(port, 'sslmode=disable channel_binding=prefer')).toEqual({ ok: true, out: 'scram_user' });
      const viaPg = new pg.Client({ host: '127.0.0.1', port, user: 'scram_user', password: 'scram-secret', database: 'demo' });
      await viaPg.connect();
      expect((await viaPg.query<{ u: string }>('select current_user u')).rows[0]!.u).toBe('scram_user');
      await viaPg.end();
    });
  });

  test("through quietcut presenting the server's own certificate, channel binding holds end to end", async () => {
    await withProxy('server', async (port) => {
      expect(await psql(port, 'sslmode=require channel_binding=require')).toEqual({ ok: true, out: 'scram_user' });
    });
  });
});

describe("quietcut's own connections over TLS", () => {
  test('verify-full: catalog, history, pins and pg_dump work against a TLS-only server', async () => {
    const backupDir = mkdtempSync(join(tmpdir(), 'qc-tls-backup-'));
    const config = loadConfig({
      env: {},
      overrides: {
        upstream: { url: cluster.url('demo'), tls: { mode: 'verify-full', rootCert: file('ca.crt') } },
        listen: '127.0.0.1:0',
        metrics: { listen: null },
        backup: { dir: backupDir },
        planner: { enabled: false },
      },
    });
    const node = await runNode(config, silentLogger);
    try {
      // the admin pool is encrypted
      const own = await node.pool.query<{ ssl: boolean }>('select ssl from pg_stat_ssl where pid = pg_backend_pid()');
      expect(own.rows[0]!.ssl).toBe(true);
      const c = new pg.Client({ connectionString: node.connectionString });
      await c.connect();
      await c.query("insert into orders (region, amount) values ('eu', 7)");
      await c.end();
      const result = await node.backup(['public.orders_eu']);
      expect(result.status).toBe('good');
      expect(result.partitions.map((p) => [p.partition, p.status])).toEqual([['public.orders_eu', 'good']]);
      // every connection quietcut made for it was encrypted: the server saw no other kind
      const plain = await node.pool.query<{ n: number }>("select count(*)::int n from pg_stat_ssl s join pg_stat_activity a using (pid) where a.backend_type = 'client backend' and not s.ssl and a.client_addr is not null");
      expect(plain.rows[0]!.n).toBe(0);
    } finally {
      await node.stop();
    }
  });
});
