/**
 * What `quietcut start` tells the terminal and the node state file once it serves, the same for
 * one node and for a primary with workers.
 */
import { resolve } from 'node:path';
import type { Config } from '../config/schema.js';
import { BUILD } from '../metrics/registry.js';
import type { Logger } from '../util/log.js';
import type { AdminTarget } from './admin-db.js';
import { removeNodeState, writeNodeState } from './locate.js';

/** The database a node fronts, as a URL without a password (the state file's upstreamUrl). */
export function upstreamUrlOf(admin: Pick<AdminTarget, 'user' | 'host' | 'port' | 'database'>): string {
  return `postgres://${encodeURIComponent(admin.user)}@${admin.host.includes(':') ? `[${admin.host}]` : admin.host}:${admin.port}/${encodeURIComponent(admin.database)}`;
}

const metricsAddress = (config: Config, port: number | null): string | null => (port ? `${config.metrics.listen?.split(':')[0]}:${port}` : null);

export interface Serving {
  connectionString: string;
  upstreamUrl: string;
  metricsPort: number | null;
}

/** How `quietcut backup`, `runs`, `restore` and `status` in another terminal find this process. */
export function recordNodeState(s: Serving, config: Config, file: string | undefined, log: Logger): void {
  try {
    writeNodeState({
      pid: process.pid,
      version: BUILD.version,
      startedAt: new Date().toISOString(),
      connectionString: s.connectionString,
      upstreamUrl: s.upstreamUrl,
      metrics: metricsAddress(config, s.metricsPort),
      backupDir: resolve(config.backup.dir),
      configFile: file ? resolve(file) : null,
    });
    process.on('exit', () => removeNodeState());
  } catch (err) {
    log.warn({ err }, 'could not write the node state file; other commands need --upstream to find this node');
  }
}

/** Where to connect, the console, the metrics. */
export function announce(s: Serving, config: Config): void {
  console.log(`quietcut is listening. Point applications at:\n\n  ${s.connectionString}\n`);
  console.log(`admin console: psql "${s.connectionString.replace(/\/[^/]*$/, `/${config.console.database}`)}" -c 'SHOW WINDOWS'`);
  const m = metricsAddress(config, s.metricsPort);
  if (m) console.log(`metrics: http://${m}/metrics`);
}
