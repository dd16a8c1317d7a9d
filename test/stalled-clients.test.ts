import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { ProxyServer } from '../src/proxy/server.js';
import { startTestCluster } from './helpers/pg.js';
import { proxyClient, startTestProxy } from './helpers/proxy.js';
import { RawClient } from './helpers/raw-client.js';
import { waitFor } from './helpers/invariants.js';

/**
 * Issue 15 item 7: a client that declares a large message and stalls must not make quietcut
 * reserve the declared size; all stalled clients together stay under limits.maxBufferedBytes; a
 * message that stops arriving times out; what they held is given back when they leave.
 */
let cluster: LocalCluster;

beforeAll(async () => {
  cluster = await startTestCluster();
});
afterAll(async () => {
  await cluster?.stop();
});

/** A Query message header declaring `bodyBytes`, and the first `sent` bytes of its body. */
function stalledQuery(bodyBytes: number, sent: number): Buffer {
  const h = Buffer.alloc(5);
  h[0] = 0x51; // 'Q'
  h.writeInt32BE(bodyBytes + 4, 1);
  return Buffer.concat([h, Buffer.from('SELECT '), Buffer.alloc(sent - 7, 0x20)]);
}

async function stillServes(proxy: ProxyServer): Promise<void> {
  const c = await proxyClient(proxy);
  try {
    const { rows } = await c.query<{ x: number }>('SELECT 41 + 1 AS x');
    expect(rows).toEqual([{ x: 42 }]);
  } finally {
    await c.end();
  }
}

describe('stalled clients', () => {
  test('eight clients declaring 100 MiB and stalling after 1 MiB hold about 1 MiB each, not 800 MiB, and give it back when they leave', async () => {
    const proxy = await startTestProxy(cluster, { maxBufferedBytes: 1024 * 1024 * 1024, messageTimeoutMs: 0 });
    const clients: RawClient[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const c = await RawClient.startup(proxy.address.port);
        c.send(stalledQuery(100 * 1024 * 1024, 1024 * 1024));
        clients.push(c);
      }
      const budget = proxy.bufferBudget!;
      await waitFor('all eight partial messages buffered', () => budget.usedBytes >= 8 * 1024 * 1024);
      // Growth doubles: each holds less than twice what it sent.
      expect(budget.usedBytes).toBeLessThanOrEqual(8 * 2 * (1024 * 1024 + 5));
      await stillServes(proxy);
      for (const c of clients) c.socket.destroy();
      await waitFor('their buffers given back', () => budget.usedBytes === 0);
    } finally {
      for (const c of clients) c.socket.destroy();
      await proxy.shutdown(0);
    }
  });

  test('past limits.maxBufferedBytes the client that would exceed it gets 53200 and is closed; the others go on', async () => {
    const proxy = await startTestProxy(cluster, { maxBufferedBytes: 3 * 1024 * 1024, messageTimeoutMs: 0 });
    const a = await RawClient.startup(proxy.address.port);
    const b = await RawClient.startup(proxy.address.port);
    try {
      const aBody = 2.5 * 1024 * 1024;
      a.send(stalledQuery(aBody, 2 * 1024 * 1024));
      await waitFor('a buffered', () => proxy.bufferBudget!.usedBytes >= 2 * 1024 * 1024);
      b.send(stalledQuery(100 * 1024 * 1024, 2 * 1024 * 1024));
      const err = await b.until((m) => m.name === 'error');
      expect(err).toMatchObject({ name: 'error', code: '53200', severity: 'FATAL' });
      expect((err as unknown as { message: string }).message).toMatch(/limits\.maxBufferedBytes/);
      expect(await b.waitClosed()).toBe(true);
      // a finishes its message after all: it fits, and is answered normally.
      a.send(Buffer.concat([Buffer.alloc(aBody - 2 * 1024 * 1024 - 2, 0x20), Buffer.from('1\0')]));
      const done = await a.until((m) => m.name === 'readyForQuery', 60_000);
      expect(done?.name).toBe('readyForQuery');
      expect(a.messages.some((m) => m.name === 'error')).toBe(false);
      await waitFor('nothing buffered', () => proxy.bufferBudget!.usedBytes === 0);
      await stillServes(proxy);
    } finally {
      a.socket.destroy();
      b.socket.destroy();
      await proxy.shutdown(0);
    }
  });

  test('a message that stops arriving is timed out with 08P01 and its buffer given back', async () => {
    const proxy = await startTestProxy(cluster, { maxBufferedBytes: 1024 * 1024 * 1024, messageTimeoutMs: 500 });
    const c = await RawClient.startup(proxy.address.port);
    try {
      c.send(stalledQuery(10 * 1024 * 1024, 64 * 1024));
      const err = await c.until((m) => m.name === 'error', 60_000);
      expect(err).toMatchObject({ name: 'error', code: '08P01', severity: 'FATAL' });
      expect((err as unknown as { message: string }).message).toMatch(/stopped arriving .*limits\.messageTimeoutMs/);
      expect(await c.waitClosed()).toBe(true);
      await waitFor('its buffer given back', () => proxy.bufferBudget!.usedBytes === 0);
      await stillServes(proxy);
    } finally {
      c.socket.destroy();
      await proxy.shutdown(0);
    }
  });
});
