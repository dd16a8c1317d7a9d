import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Socket } from 'node:net';
import type { LocalCluster } from '../src/localdb/cluster.js';
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
