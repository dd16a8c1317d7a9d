import pg from 'pg';
import { ProxyServer, type ProxyServerOptions } from '../../src/proxy/server.js';
import type { LocalCluster } from '../../src/localdb/cluster.js';

/** A proxy on 127.0.0.1 port 0 in front of a test cluster. */
export async function startTestProxy(cluster: LocalCluster, opts: Partial<ProxyServerOptions> = {}): Promise<ProxyServer> {
  const proxy = new ProxyServer({
    listen: { host: '127.0.0.1', port: 0 },
    upstream: { host: cluster.host, port: cluster.port, connectTimeoutMs: 5000 },
    maxClientConnections: 1000,
    maxMessageBytes: 256 * 1024 * 1024,
    startupTimeoutMs: 5000,
    shutdownTimeoutMs: 2000,
    ...opts,
  });
  await proxy.listen();
  return proxy;
}

export function proxyUrl(proxy: ProxyServer, database = 'demo', user = 'postgres'): string {
  return `postgres://${user}@127.0.0.1:${proxy.address.port}/${database}`;
}

export async function proxyClient(proxy: ProxyServer, database = 'demo', extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: proxyUrl(proxy, database), ...extra });
  // Tests that expect a connection error listen themselves; stray ones must not crash the run.
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Wait (bounded) until clients that already said goodbye are gone, so shutdown errors reach nobody. */
export async function settle(proxy: ProxyServer, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (proxy.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}
