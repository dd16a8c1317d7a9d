/**
 * `quietcut status`: the per-partition status table of any running node, read from its metrics
 * endpoint's GET /status (so it needs no database access, only the metrics address).
 */
import type { Command } from 'commander';
import { renderStatusTable, type NodeStatusJson } from '../status-table.js';
import { locateMetrics } from '../locate.js';

interface StatusFlags {
  metrics?: string;
  config?: string;
  json?: boolean;
}

export async function fetchStatus(metrics: string, timeoutMs = 5000): Promise<NodeStatusJson> {
  const url = `http://${metrics}/status`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    // fetch hides the reason (ECONNREFUSED, bad port, timeout) in err.cause.
    const c = (err as { cause?: { code?: string; message?: string } }).cause;
    const cause = c?.code ?? c?.message ?? (err instanceof Error ? err.message : String(err));
    throw new Error(`no quietcut node answers at ${url} (${cause}); is it running, and is --metrics its metrics.listen address?`);
  }
  if (!res.ok) throw new Error(`${url} answered HTTP ${res.status}`);
  return (await res.json()) as NodeStatusJson;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description("print a running node's per-partition status (write rate, window, held writes, last backup)")
    .option('--metrics <host:port>', "the node's metrics endpoint (default: the running node's, else metrics.listen of the configuration)")
    .option('-c, --config <file>', 'YAML config file (default: QUIETCUT_CONFIG)')
    .option('--json', 'print the raw /status JSON')
    .action(async (flags: StatusFlags) => {
      const status = await fetchStatus(locateMetrics(flags.metrics, flags.config));
      if (flags.json) {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      const head = [status.node && `node ${status.node}`, status.listen && `listen ${status.listen}`, status.upstream && `upstream ${status.upstream}`, status.clients !== undefined && `${status.clients} clients`];
      console.log(head.filter(Boolean).join('  ·  '));
      console.log(renderStatusTable(status).join('\n'));
    });
}
