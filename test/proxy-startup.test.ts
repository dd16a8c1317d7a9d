import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type Socket } from 'node:net';
import pg from 'pg';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { ProxyServer } from '../src/proxy/server.js';
import { encodeErrorResponse } from '../src/protocol/encode.js';
import { ProxyError } from '../src/protocol/sqlstate.js';
import { startTestCluster } from './helpers/pg.js';
import { startTestProxy } from './helpers/proxy.js';
import { RawClient, serialize } from './helpers/raw-client.js';

let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

describe('startup hook', () => {
  test('a host callback can claim a connection once its StartupMessage names the database', async () => {
    const claimed: Array<{ database: string | undefined; rest: string }> = [];
    const p = await startTestProxy(cluster, {
      claimStartup: (client: Socket, params, rest) => {
        if (params.get('database') !== 'virtual') return false;
        claimed.push({ database: params.get('database'), rest: rest.toString('latin1') });
        client.end(encodeErrorResponse(ProxyError.fatal('0A000', 'claimed by the test')));
        return true;
      },
    });
    const c = await RawClient.open(p.address.port);
    // the StartupMessage and a Query in one write: the hook gets the pipelined bytes
    c.send(Buffer.concat([serialize.startup({ user: 'postgres', database: 'virtual' }), serialize.query('select 1')]));
    const err = await c.until((m) => m.name === 'error');
    expect((err as unknown as { message: string }).message).toBe('claimed by the test');
    expect(await c.waitClosed()).toBe(true);
    expect(claimed).toEqual([{ database: 'virtual', rest: serialize.query('select 1').toString('latin1') }]);
    expect(p.sessions.size).toBe(0);
    expect(p.counters.serverConnections).toBe(0);
    // other databases go to the server as before
    const d = await RawClient.startup(p.address.port, 'postgres', 'demo');
    d.send(serialize.query('select 1'));
    await d.until((m) => m.name === 'readyForQuery');
    d.end();
    await p.shutdown(100);
  });
});

describe('node-postgres sees what it sees directly', () => {
  /** Everything a pg client reports over one scenario: error events, and how connect/query/end settle. */
  async function observe(port: number, scenario: (c: pg.Client) => Promise<void>): Promise<{ errors: string[]; outcome: string }> {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'demo' });
    const errors: string[] = [];
    c.on('error', (e: Error & { code?: string }) => errors.push(e.code ?? e.message));
    let outcome = 'ok';
    try {
      await scenario(c);
    } catch (e) {
      const err = e as Error & { code?: string };
      outcome = `rejected ${err.code ?? err.message}`;
    }
    // let late events arrive: the connection is gone when 'end' fired
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, 2000);
      c.once('end', () => {
        clearTimeout(t);
        setImmediate(resolve);
      });
      if ((c as unknown as { _ended?: boolean })._ended) {
        clearTimeout(t);
        resolve();
      }
    });
    return { errors, outcome };
  }

  let proxy: ProxyServer;
  beforeAll(async () => {
    proxy = await startTestProxy(cluster);
  });
  afterAll(async () => {
    await proxy?.shutdown(200);
  });

  test('after pg_terminate_backend the client gets exactly the server\'s one error event', async () => {
    const scenario = async (c: pg.Client): Promise<void> => {
      await c.connect();
      await c.query('select pg_terminate_backend(pg_backend_pid())');
    };
    const direct = await observe(cluster.port, scenario);
    const proxied = await observe(proxy.address.port, scenario);
    // node-postgres itself: the query rejects with the server's 57P01, one 'error' event for the close
    expect(direct).toEqual({ errors: ['Connection terminated unexpectedly'], outcome: 'rejected 57P01' });
    expect(proxied).toEqual(direct);
  });

  test('an idle_session_timeout ends the session with the server\'s one error', async () => {
    const scenario = async (c: pg.Client): Promise<void> => {
      await c.connect();
      await c.query("set idle_session_timeout = '50ms'");
      await new Promise<void>((resolve) => c.once('end', () => resolve()));
    };
    const direct = await observe(cluster.port, scenario);
    const proxied = await observe(proxy.address.port, scenario);
    expect(direct.errors).toEqual(['57P05', 'Connection terminated unexpectedly']);
    expect(proxied).toEqual(direct);
  });

  test('connect(); end() raises nothing', async () => {
    // node-postgres sends Terminate before its StartupMessage here; its connect() never settles.
    const scenario = async (c: pg.Client): Promise<void> => {
      void c.connect().catch(() => undefined);
      await c.end();
    };
    const direct = await observe(cluster.port, scenario);
    const proxied = await observe(proxy.address.port, scenario);
    expect(direct).toEqual({ errors: [], outcome: 'ok' });
    expect(proxied).toEqual(direct);
  });

  test('an unknown database: one error, the server\'s', async () => {
    const scenario = async (c: pg.Client): Promise<void> => {
      (c as unknown as { database: string }).database = 'no_such_db';
      (c as unknown as { connectionParameters: { database: string } }).connectionParameters.database = 'no_such_db';
      await c.connect();
    };
    const direct = await observe(cluster.port, scenario);
    const proxied = await observe(proxy.address.port, scenario);
    expect(direct.outcome).toBe('rejected 3D000');
    expect(proxied).toEqual(direct);
  });
});

describe('an upstream that vanishes or never answers', () => {
  /** A TCP server standing in for a broken PostgreSQL: it does `onConnection` to every connection. */
  async function brokenUpstream(onConnection: (s: Socket) => void): Promise<{ port: number; close: () => Promise<void>; sockets: Set<Socket> }> {
    const sockets = new Set<Socket>();
    const srv = createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
      onConnection(s);
      s.resume(); // read, so that the proxy's close is seen
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    return {
      port,
      sockets,
      close: () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          srv.close(() => r());
        }),
    };
  }

  test('a server that accepts TCP and never answers: the client gets 08006 after upstream.connectTimeoutMs', async () => {
    const up = await brokenUpstream(() => undefined);
    const p = await startTestProxy(cluster, { upstream: { host: '127.0.0.1', port: up.port, connectTimeoutMs: 300 } });
    const c = new pg.Client({ host: '127.0.0.1', port: p.address.port, user: 'postgres', database: 'demo' });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toMatchObject({ code: '08006', message: expect.stringMatching(/no answer from the server within 300 ms/) as unknown as string });
    for (let i = 0; i < 100 && up.sockets.size > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(up.sockets.size).toBe(0);
    expect(p.counters.serverConnections).toBe(0);
    await p.shutdown(100);
    await up.close();
  });

  test('a server that answers once and then hangs in authentication: 08006 after upstream.startupTimeoutMs', async () => {
    // AuthenticationCleartextPassword, then nothing more, whatever the client says
    const up = await brokenUpstream((s) => s.once('data', () => s.write(Buffer.from([0x52, 0, 0, 0, 8, 0, 0, 0, 3]))));
    const p = await startTestProxy(cluster, { upstream: { host: '127.0.0.1', port: up.port, connectTimeoutMs: 5000, startupTimeoutMs: 400 } });
    const c = new pg.Client({ host: '127.0.0.1', port: p.address.port, user: 'postgres', database: 'demo', password: 'x' });
    c.on('error', () => undefined);
    await expect(c.connect()).rejects.toMatchObject({ code: '08006', message: expect.stringMatching(/did not finish startup within 400 ms/) as unknown as string });
    await p.shutdown(100);
    await up.close();
  });

  test('a server that closes without a word: quietcut says 08006, once', async () => {
    const up = await brokenUpstream((s) => s.once('data', () => s.destroy()));
    const p = await startTestProxy(cluster, { upstream: { host: '127.0.0.1', port: up.port, connectTimeoutMs: 5000 } });
    const raw = await RawClient.open(p.address.port);
    raw.send(serialize.startup({ user: 'postgres', database: 'demo' }));
    expect(await raw.waitClosed()).toBe(true);
    expect(raw.messages.map((m) => [m.name, (m as unknown as { code?: string }).code])).toEqual([['error', '08006']]);
    await p.shutdown(100);
    await up.close();
  });
});
