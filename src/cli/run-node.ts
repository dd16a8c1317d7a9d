import { LocalCluster } from '../localdb/cluster.js';
import type { Config } from '../config/schema.js';
import { Metrics } from '../metrics/registry.js';
import { startMetricsHttp } from '../metrics/http.js';
import { ProxyServer } from '../proxy/server.js';
import { parseHostPort, parseUpstreamUrl } from '../proxy/upstream.js';
import type { Logger } from '../util/log.js';

/** One running quietcut node: the proxy, its metrics endpoint, and (demo mode) a private PostgreSQL. */
export interface RunningNode {
  proxy: ProxyServer;
  metrics: Metrics;
  metricsPort: number | null;
  cluster: LocalCluster | null;
  connectionString: string;
  stop(): Promise<void>;
}

export async function runNode(config: Config, log: Logger): Promise<RunningNode> {
  let cluster: LocalCluster | null = null;
  let upstream: { host: string; port: number; database: string | null; user: string | null };
  if (config.upstream.url) {
    upstream = parseUpstreamUrl(config.upstream.url);
  } else {
    log.info('no upstream configured: starting a private PostgreSQL with a demo partitioned table');
    cluster = await LocalCluster.start({ demo: true, log });
    upstream = { host: cluster.host, port: cluster.port, database: 'demo', user: 'postgres' };
  }

  const metrics = new Metrics(config.metrics.maxPartitionLabels);
  const listen = parseHostPort(config.listen);
  const proxy = new ProxyServer({
    listen,
    upstream: { host: upstream.host, port: upstream.port, connectTimeoutMs: config.upstream.connectTimeoutMs },
    maxClientConnections: config.limits.maxClientConnections,
    maxMessageBytes: config.limits.maxMessageBytes,
    startupTimeoutMs: config.limits.startupTimeoutMs,
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    tls: config.tls.cert && config.tls.key ? { cert: config.tls.cert, key: config.tls.key } : null,
    log,
  });
  const addr = await proxy.listen();

  const moved = { c2s: 0, s2c: 0, errors: new Map<string, number>() };
  const beforeScrape = (): void => {
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
    metrics.clientConnections.set(proxy.clientConnections);
    metrics.serverConnections.set(c.serverConnections);
  };

  let metricsPort: number | null = null;
  let closeMetrics: (() => Promise<void>) | null = null;
  if (config.metrics.listen) {
    const m = parseHostPort(config.metrics.listen);
    const http = await startMetricsHttp({
      host: m.host,
      port: m.port,
      metrics,
      beforeScrape,
      status: () => ({ listen: `${addr.host}:${addr.port}`, clients: proxy.clientConnections, upstream: `${upstream.host}:${upstream.port}` }),
    });
    metricsPort = http.port;
    closeMetrics = http.close;
  }

  const db = upstream.database ?? 'postgres';
  const user = upstream.user ?? 'postgres';
  const connectionString = `postgres://${encodeURIComponent(user)}@${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}/${encodeURIComponent(db)}`;

  return {
    proxy,
    metrics,
    metricsPort,
    cluster,
    connectionString,
    async stop() {
      await proxy.shutdown();
      await closeMetrics?.();
      await cluster?.stop();
    },
  };
}
