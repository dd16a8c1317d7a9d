import type { Catalog } from '../catalog/index.js';
import type { Metrics } from '../metrics/registry.js';
import type { CancelOutcome, ProxyCounters, ProxyServer } from '../proxy/server.js';

/**
 * What runs before each scrape of a node's registry: the proxy keeps its hot-path totals as plain
 * numbers (proxy/server.ts ProxyCounters), moved into the registry here; partitions of a new
 * catalog get their zero-valued series.
 */
export function scrapeHook(proxy: ProxyServer, metrics: Metrics, catalog: () => Catalog): () => void {
  const moved = { c2s: 0, s2c: 0, errors: new Map<string, number>(), cancels: { forwarded: 0, held: 0, relayed: 0, ignored: 0 } as ProxyCounters['cancels'] };
  let labelledCatalog: Catalog | null = null;
  return () => {
    if (catalog() !== labelledCatalog) {
      labelledCatalog = catalog();
      metrics.knowPartitions(labelledCatalog.leaves());
    }
    const c = proxy.counters;
    metrics.bytes.labels('client_to_server').inc(c.clientToServer - moved.c2s);
    metrics.bytes.labels('server_to_client').inc(c.serverToClient - moved.s2c);
    moved.c2s = c.clientToServer;
    moved.s2c = c.serverToClient;
    for (const [code, n] of c.clientErrors) {
      const before = moved.errors.get(code) ?? 0;
      if (n > before) metrics.clientErrors.labels(code).inc(n - before);
      moved.errors.set(code, n);
    }
    for (const outcome of Object.keys(c.cancels) as CancelOutcome[]) {
      metrics.cancelRequests.labels(outcome).inc(c.cancels[outcome] - moved.cancels[outcome]);
      moved.cancels[outcome] = c.cancels[outcome];
    }
    metrics.clientConnections.set(proxy.clientConnections);
    metrics.serverConnections.set(c.serverConnections);
  };
}
