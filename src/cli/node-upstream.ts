/**
 * Where a node's PostgreSQL is: the configured upstream, or (demo mode, no upstream.url) a private
 * server with demo tables, and with --demo-shards its foreign shards, stopped by `undo`.
 */
import type { Config } from '../config/schema.js';
import { LocalCluster } from '../localdb/cluster.js';
import { DEMO_SHARD_TABLE, startDemoShards, type DemoShards } from '../localdb/demo-shards.js';
import { parseUpstreamUrl } from '../proxy/upstream.js';
import type { Logger } from '../util/log.js';

export interface NodeUpstream {
  upstream: { host: string; port: number; database: string | null; user: string | null };
  cluster: LocalCluster | null;
  shards: DemoShards | null;
  /** The configuration, with one window group across the demo shards when they run. */
  config: Config;
}

export async function resolveUpstream(config: Config, demoShards: number | undefined, log: Logger, undo: Array<() => unknown>): Promise<NodeUpstream> {
  if (config.upstream.url) {
    if (demoShards) throw new Error('--demo-shards needs demo mode: it starts its own shards next to the private PostgreSQL (no upstream.url)');
    return { upstream: parseUpstreamUrl(config.upstream.url), cluster: null, shards: null, config };
  }
  log.info('no upstream configured: starting a private PostgreSQL with a demo partitioned table');
  const cluster = await LocalCluster.start({ demo: true, log });
  undo.push(() => cluster.stop());
  const upstream = { host: cluster.host, port: cluster.port, database: 'demo', user: 'postgres' };
  if (!demoShards) return { upstream, cluster, shards: null, config };
  const shards = await startDemoShards(cluster, demoShards, 'demo', log);
  undo.push(() => shards.stop());
  // One cut across the shards, unless the configuration names its own groups.
  const withGroups = config.windows.groups === 'partition' ? { ...config, windows: { ...config.windows, groups: { [DEMO_SHARD_TABLE]: shards.leaves } } } : config;
  return { upstream, cluster, shards, config: withGroups };
}
