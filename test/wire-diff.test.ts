import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { ProxyServer } from '../src/proxy/server.js';
import { startTestCluster } from './helpers/pg.js';
import { startTestProxy } from './helpers/proxy.js';
import {
  auth,
  bind,
  bytes,
  close,
  closed,
  count,
  cstr,
  describe as describeMsg,
  execute,
  frame,
  gssencRequest,
  header,
  int32,
  msg,
  parse,
  query,
  rfq,
  runScript,
  sslRequest,
  startupPacket,
  sync,
  terminate,
  type Received,
  type Script,
} from './helpers/wire-script.js';

/**
 * Differential wire test: each script's bytes go to PostgreSQL directly and through quietcut; the
 * streams that come back must be equal once what differs by nature is masked (backend keys,
 * random salts and nonces, the F/L/R fields naming the server's source lines).
 */

const require = createRequire(import.meta.url);
const sasl = require('pg/lib/crypto/sasl.js') as {
  startSession(mechanisms: string[], stream?: unknown): { response: string; mechanism: string };
  continueSession(session: unknown, password: string, serverData: string, stream?: unknown): Promise<void>;
};

let cluster: LocalCluster;
let proxy: ProxyServer;

beforeAll(async () => {
  cluster = await startTestCluster({
    hbaLines: ['host all wd_md5 127.0.0.1/32 md5', 'host all wd_scram 127.0.0.1/32 scram-sha-256'],
  });
  await cluster.query("SET password_encryption = 'md5'; CREATE ROLE wd_md5 LOGIN PASSWORD 'md5-pw'");
  await cluster.query("SET password_encryption = 'scram-sha-256'; CREATE ROLE wd_scram LOGIN PASSWORD 'scram-pw'");
  await cluster.query('CREATE TABLE IF NOT EXISTS wd_copy (a int, b text)', [], 'demo');
  await cluster.query('GRANT ALL ON DATABASE demo TO wd_md5, wd_scram');
  proxy = await startTestProxy(cluster, { maxMessageBytes: 0x3fffffff, startupTimeoutMs: 60_000 });
});
afterAll(async () => {
  await proxy?.shutdown(500);
  await cluster?.stop();
});

const login = (extra: Record<string, string> = {}): Buffer => startupPacket({ user: 'postgres', database: 'demo', ...extra });
const ready = rfq(1);

function md5hex(s: string | Buffer): string {
  return createHash('md5').update(s).digest('hex');
}

/** PasswordMessage answering the md5 request in what came back. */
function md5Answer(user: string, password: string) {
  return (r: Received): Buffer => {
    const m = frame(r.bytes).messages.find((x) => x.type === 'R' && x.bytes.readInt32BE(5) === 5)!;
    const salt = m.bytes.subarray(9, 13);
    return msg('p', cstr('md5' + md5hex(Buffer.concat([Buffer.from(md5hex(password + user)), salt]))));
  };
}

function scramSteps(password: string): Script['steps'] {
  let session: { response: string; mechanism: string } | null = null;
  return [
    {
      send: () => {
        session = sasl.startSession(['SCRAM-SHA-256']);
        const resp = Buffer.from(session.response);
        return msg('p', Buffer.concat([cstr(session.mechanism), int32(resp.length), resp]));
      },
      until: (r, u) => auth(11)(r, u) || count('E', 1)(r, u),
    },
    {
      send: async (r) => {
        const m = frame(r.bytes).messages.find((x) => x.type === 'R' && x.bytes.readInt32BE(5) === 11)!;
        await sasl.continueSession(session, password, m.bytes.subarray(9).toString('utf8'));
        return msg('p', Buffer.from(session!.response));
      },
      until: (r, u) => ready(r, u) || count('E', 1)(r, u),
    },
  ];
}

const simple = (sql: string): Script['steps'][number] => ({ send: query(sql), until: rfq(2) });

/** A pg_sleep is running in the executor (so the query's RowDescription is already produced). */
const sleeping = async (): Promise<boolean> => ((await cluster.query("SELECT 1 FROM pg_stat_activity WHERE wait_event = 'PgSleep'")).rowCount ?? 0) > 0;

const scripts: Script[] = [
  // ---- startup variants
  { name: 'plain startup, a query, Terminate', steps: [{ send: login(), until: ready }, simple('select 1 as one'), { send: terminate(), until: closed }] },
  { name: 'database defaults to the user name', steps: [{ send: startupPacket({ user: 'postgres' }), until: ready }, simple('select current_database()')] },
  { name: 'empty database defaults to the user name', steps: [{ send: startupPacket({ user: 'postgres', database: '' }), until: ready }, simple('select current_database()')] },
  { name: 'options and application_name in the startup packet', steps: [{ send: login({ options: '-c search_path=pg_catalog -c work_mem=1234kB', application_name: 'wd' }), until: ready }, simple('show work_mem')] },
  { name: 'an invalid GUC in the startup packet', steps: [{ send: login({ no_such_setting: 'x' }), until: closed }] },
  { name: 'replication=bogus', steps: [{ send: login({ replication: 'bogus' }), until: closed }] },
  { name: 'SSLRequest answered N, then startup', untyped: 1, steps: [{ send: sslRequest(), until: bytes(1) }, { send: login(), until: ready }, simple('select 2')] },
  { name: 'a second SSLRequest is refused', untyped: 1, steps: [{ send: sslRequest(), until: bytes(1) }, { send: sslRequest(), until: closed }] },
  { name: 'data after SSLRequest in the same write (CVE-2021-23214)', untyped: 1, steps: [{ send: Buffer.concat([sslRequest(), login()]), until: closed }] },
  { name: 'SSLRequest with a longer length is still an SSLRequest', untyped: 1, steps: [{ send: Buffer.concat([int32(12), int32(80877103), int32(0)]), until: bytes(1) }, { send: login(), until: ready }] },
  { name: 'protocol 3.5 with _pq_ options is negotiated down', steps: [{ send: startupPacket({ user: 'postgres', database: 'demo', '_pq_.a': '1', '_pq_.b': '2' }, (3 << 16) | 5), until: ready }, simple('select 3')] },
  { name: 'protocol 3.0 with a _pq_ option', steps: [{ send: startupPacket({ user: 'postgres', database: 'demo', '_pq_.x': 'y' }), until: ready }] },
  { name: 'protocol 3.1 without a user name', steps: [{ send: startupPacket({ database: 'demo' }, (3 << 16) | 1), until: closed }] },
  { name: 'protocol 2.0 is refused in the old format', steps: [{ send: startupPacket({ user: 'postgres' }, 2 << 16), until: closed }] },
  { name: 'protocol 4.0 is refused', steps: [{ send: startupPacket({ user: 'postgres' }, 4 << 16), until: closed }] },
  { name: 'a startup packet without its terminator', steps: [{ send: startupPacket({ user: 'postgres', database: 'demo' }, 196608, false), until: closed }] },
  {
    name: 'a startup packet whose terminator is another byte',
    steps: [
      {
        send: (() => {
          const b = login();
          b[b.length - 1] = 0x41;
          return b;
        })(),
        until: (r, u) => ready(r, u) || closed(r, u),
      },
    ],
  },
  { name: 'a parameter without a value', steps: [{ send: Buffer.concat([int32(4 + 4 + 5 + 1), int32(196608), cstr('user'), Buffer.from([0])]), until: closed }] },
  { name: 'no user name', steps: [{ send: startupPacket({ database: 'demo' }), until: closed }] },
  { name: 'an empty user name', steps: [{ send: startupPacket({ user: '', database: 'demo' }), until: closed }] },
  { name: 'an unknown database', steps: [{ send: login({ database: 'no_such_db' }), until: closed }] },
  { name: 'an unknown role', steps: [{ send: startupPacket({ user: 'no_such_role', database: 'demo' }), until: closed }] },
  { name: 'a startup packet of exactly the largest length', steps: [{ send: startupPacket({ user: 'postgres', database: 'demo', application_name: 'a'.repeat(10_004 - 4 - 4 - 14 - 14 - 17 - 2) }), until: ready }] },
  { name: 'a startup packet one byte over the largest length', steps: [{ send: startupPacket({ user: 'postgres', database: 'demo', application_name: 'a'.repeat(10_004 - 4 - 4 - 14 - 14 - 17 - 1) }), until: closed }] },
  { name: 'a startup length of 7', steps: [{ send: Buffer.concat([int32(7), Buffer.from([0, 3, 0])]), until: closed }] },
  { name: 'a negative startup length', steps: [{ send: Buffer.from([0xff, 0xff, 0xff, 0xf0, 0, 3, 0, 0]), until: closed }] },
  { name: 'Terminate before any StartupMessage (node-postgres connect(); end())', steps: [{ send: terminate(), until: closed }] },
  { name: 'an HTTP request', steps: [{ send: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), until: closed }] },
  { name: 'half a startup packet, then the client closes', steps: [{ send: Buffer.from([0, 0, 0, 40, 0, 3]), end: true, until: closed }] },
  { name: 'a connection closed without a byte', steps: [{ end: true, until: closed }] },
  { name: 'a CancelRequest for no backend', steps: [{ send: Buffer.concat([int32(16), int32(80877102), int32(1), int32(2)]), until: closed }] },
  { name: 'a CancelRequest of the wrong length', steps: [{ send: Buffer.concat([int32(12), int32(80877102), int32(1)]), until: closed }] },
  // ---- pipelined startup
  { name: 'StartupMessage and a Query in one write', steps: [{ send: Buffer.concat([login(), query('select 4')]), until: rfq(2) }] },
  { name: 'StartupMessage and an extended query in one write', steps: [{ send: Buffer.concat([login(), parse('', 'select $1::int + 1', [23]), bind('', '', [0], ['41']), execute(), sync()]), until: rfq(2) }] },
  { name: 'StartupMessage, a Query and Terminate in one write', steps: [{ send: Buffer.concat([login(), query('select 5'), terminate()]), until: closed }] },
  { name: 'StartupMessage and a Query for a role that needs a password', steps: [{ send: Buffer.concat([startupPacket({ user: 'wd_md5', database: 'demo' }), query('select 6')]), until: auth(5) }, { send: md5Answer('wd_md5', 'md5-pw'), until: rfq(2) }] },
  // ---- authentication methods in use
  { name: 'md5, right password', steps: [{ send: startupPacket({ user: 'wd_md5', database: 'demo' }), until: auth(5) }, { send: md5Answer('wd_md5', 'md5-pw'), until: ready }, simple('select current_user')] },
  { name: 'md5, wrong password', steps: [{ send: startupPacket({ user: 'wd_md5', database: 'demo' }), until: auth(5) }, { send: md5Answer('wd_md5', 'nope'), until: closed }] },
  { name: 'md5, client closes instead of answering', steps: [{ send: startupPacket({ user: 'wd_md5', database: 'demo' }), until: auth(5) }, { end: true, until: closed }] },
  { name: 'scram-sha-256, right password', steps: [{ send: startupPacket({ user: 'wd_scram', database: 'demo' }), until: auth(10) }, ...scramSteps('scram-pw'), simple('select current_user')] },
  { name: 'scram-sha-256, wrong password', steps: [{ send: startupPacket({ user: 'wd_scram', database: 'demo' }), until: auth(10) }, ...scramSteps('wrong')] },
  { name: 'a password message of a bad length during authentication', steps: [{ send: startupPacket({ user: 'wd_md5', database: 'demo' }), until: auth(5) }, { send: header('p', 100_000), until: closed }] },
  { name: 'a Query instead of a password', steps: [{ send: startupPacket({ user: 'wd_md5', database: 'demo' }), until: auth(5) }, { send: query('select 1'), until: closed }] },
  // ---- malformed and boundary messages
  { name: 'a message length of 3', steps: [{ send: login(), until: ready }, { send: header('Q', 3), until: closed }] },
  { name: 'a negative message length', steps: [{ send: login(), until: ready }, { send: Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]), until: closed }] },
  { name: 'a Sync declared over the small-message limit', steps: [{ send: login(), until: ready }, { send: header('S', 10_001), until: closed }] },
  { name: 'a Sync declared at the small-message limit', steps: [{ send: login(), until: ready }, { send: Buffer.concat([header('S', 10_000), Buffer.alloc(10_000 - 4)]), until: (r, u) => rfq(2)(r, u) }] },
  { name: 'a Query declared over 1 GiB', steps: [{ send: login(), until: ready }, { send: header('Q', 0x3fffffff), until: closed }] },
  { name: 'a query, then a bad length, in one write', steps: [{ send: login(), until: ready }, { send: Buffer.concat([query('select 7'), header('Q', 2)]), until: closed }] },
  { name: 'an unknown message type', steps: [{ send: login(), until: ready }, { send: msg('z', 'abc'), until: closed }] },
  { name: 'a Query without its terminating zero', steps: [{ send: login(), until: ready }, { send: msg('Q', 'select 8'), until: rfq(2) }, simple('select 9')] },
  { name: 'a Bind with more format codes than parameters', steps: [{ send: login(), until: ready }, { send: Buffer.concat([parse('s1', 'select $1::int', [23]), bind('', 's1', [0, 0], ['1']), execute(), sync()]), until: rfq(2) }, simple('select 10')] },
  { name: 'a Bind with fewer parameters than the statement', steps: [{ send: login(), until: ready }, { send: Buffer.concat([parse('s2', 'select $1::int, $2::int', [23, 23]), bind('', 's2', [], ['1']), execute(), sync()]), until: rfq(2) }, simple('select 11')] },
  { name: 'a Bind cut short', steps: [{ send: login(), until: ready }, { send: Buffer.concat([msg('B', Buffer.from([0, 0, 0xff, 0xff])), sync()]), until: rfq(2) }, simple('select 12')] },
  { name: 'a Close of an unknown kind', steps: [{ send: login(), until: ready }, { send: Buffer.concat([close('Z', 'x'), sync()]), until: rfq(2) }, simple('select 13')] },
  { name: 'a Describe of an unknown kind', steps: [{ send: login(), until: ready }, { send: Buffer.concat([describeMsg('Z', 'x'), sync()]), until: rfq(2) }, simple('select 14')] },
  { name: 'a Parse with a negative parameter count', steps: [{ send: login(), until: ready }, { send: Buffer.concat([msg('P', Buffer.concat([cstr(''), cstr('select 1'), Buffer.from([0xff, 0xff])])), sync()]), until: rfq(2) }, simple('select 15')] },
  { name: 'an Execute of a missing portal', steps: [{ send: login(), until: ready }, { send: Buffer.concat([execute('nope'), sync()]), until: rfq(2) }] },
  { name: 'an empty query', steps: [{ send: login(), until: ready }, simple('')] },
  { name: 'a syntax error, then a query', steps: [{ send: login(), until: ready }, simple('selec 1'), { send: query('select 16'), until: rfq(3) }] },
  { name: 'a pipeline of three queries in one write', steps: [{ send: login(), until: ready }, { send: Buffer.concat([query('select 17'), query('select 18'), query('select 19')]), until: rfq(4) }] },
  // ---- FATAL paths
  { name: 'pg_terminate_backend of the own backend', steps: [{ send: login(), until: ready }, { send: query('select pg_terminate_backend(pg_backend_pid())'), until: closed }] },
  { name: 'idle_session_timeout', steps: [{ send: login(), until: ready }, { send: query("set idle_session_timeout = '50ms'"), until: rfq(2) }, { until: closed }] },
  { name: 'idle_in_transaction_session_timeout', steps: [{ send: login(), until: ready }, { send: query("set idle_in_transaction_session_timeout = '50ms'; begin"), until: rfq(2) }, { until: closed }] },
  // ---- COPY
  { name: 'COPY FROM STDIN', steps: [{ send: login(), until: ready }, { send: query('copy wd_copy from stdin'), until: count('G', 1) }, { send: Buffer.concat([msg('d', '1\tone\n2\ttwo\n'), msg('c')]), until: rfq(2) }, simple('select count(*) from wd_copy where b in (\'one\', \'two\')')] },
  { name: 'COPY FROM STDIN, CopyFail', steps: [{ send: login(), until: ready }, { send: query('copy wd_copy from stdin'), until: count('G', 1) }, { send: Buffer.concat([msg('d', '3\tthree\n'), msg('f', cstr('client gave up'))]), until: rfq(2) }] },
  { name: 'COPY FROM STDIN, bad data', steps: [{ send: login(), until: ready }, { send: query('copy wd_copy from stdin'), until: count('G', 1) }, { send: Buffer.concat([msg('d', 'x\ty\n'), msg('c')]), until: rfq(2) }] },
  { name: 'COPY FROM STDIN, a Query inside the copy', steps: [{ send: login(), until: ready }, { send: query('copy wd_copy from stdin'), until: count('G', 1) }, { send: query('select 1'), until: rfq(2) }] },
  { name: 'COPY TO STDOUT', steps: [{ send: login(), until: ready }, simple('copy (select g, g::text from generate_series(1, 5) g) to stdout')] },
  { name: 'COPY in the extended protocol', steps: [{ send: login(), until: ready }, { send: Buffer.concat([parse('', 'copy (select 1) to stdout'), bind('', '', [], []), execute(), sync()]), until: rfq(2) }] },
  // ---- cancel
  { name: 'CancelRequest for a running query', steps: [{ send: login(), until: ready }, { send: query('select pg_sleep(30)'), cancel: true, cancelAfter: sleeping, until: rfq(2) }] },
];

/**
 * GSSAPI encryption: quietcut has no Kerberos identity, so it answers GSSENCRequest with N where a
 * server built with GSSAPI answers G (Debian's does, on TCP). What follows the N must be what the
 * server says after its own N to an SSLRequest on this cluster (ssl = off): the same startup.
 */
const gssScripts: Array<{ viaProxy: Script; direct: Script }> = [
  {
    viaProxy: { name: 'GSSENCRequest answered N, then startup', untyped: 1, steps: [{ send: gssencRequest(), until: bytes(1) }, { send: login(), until: ready }, simple('select 20')] },
    direct: { name: 'SSLRequest answered N, then startup', untyped: 1, steps: [{ send: sslRequest(), until: bytes(1) }, { send: login(), until: ready }, simple('select 20')] },
  },
  {
    viaProxy: { name: 'data after GSSENCRequest in the same write', untyped: 1, steps: [{ send: Buffer.concat([gssencRequest(), login()]), until: closed }] },
    direct: { name: 'data after SSLRequest in the same write', untyped: 1, steps: [{ send: Buffer.concat([sslRequest(), login()]), until: closed }] },
  },
];

describe('differential wire test: PostgreSQL directly vs through quietcut', () => {
  test.each(gssScripts.map((s) => [s.viaProxy.name, s] as const))('%s (quietcut offers no GSSAPI encryption)', async (_name, { viaProxy, direct }) => {
    const d = await runScript(cluster.port, direct);
    const p = await runScript(proxy.address.port, viaProxy);
    expect(p.prefix).toBe('N');
    // the same words, naming GSSAPI encryption instead of SSL
    const noLength = (m: string): string => m.replace(/^(. .)..../s, '$1');
    expect({ ...p, messages: p.messages.map(noLength) }).toEqual({
      ...d,
      messages: d.messages.map((m) => noLength(m).replace('received unencrypted data after SSL request', 'received unencrypted data after GSSAPI encryption request')),
    });
  });

  test.each(scripts.map((s) => [s.name, s] as const))('%s', async (_name, script) => {
    const direct = await runScript(cluster.port, script);
    const proxied = await runScript(proxy.address.port, script);
    expect(proxied).toEqual(direct);
    // the script saw what it meant to: a connection that was expected to end did end
    const last = script.steps[script.steps.length - 1]!;
    if (last.until === closed) expect(direct.closed).toBe(true);
  });
});
