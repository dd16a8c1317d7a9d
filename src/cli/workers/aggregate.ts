/**
 * One endpoint for several workers: /metrics sums their registries, /status merges their
 * per-partition activity and lists every worker's node.
 */
import { AggregatorRegistry } from 'prom-client';
import type { Scrape } from '../../metrics/http.js';
import type { PartitionStatus } from '../node-status.js';
import type { MetricsJson } from '../run-node.js';
import type { NodeStatusJson } from '../status-table.js';

/** Every worker's registry as one exposition: counters and histograms summed, gauges by their aggregator. */
export async function sumMetrics(registries: readonly MetricsJson[]): Promise<Scrape> {
  const sum = AggregatorRegistry.aggregate(registries as MetricsJson[]);
  return { contentType: sum.contentType, text: await sum.metrics() };
}

export interface WorkerStatus {
  slot: number;
  pid: number;
  status: NodeStatusJson;
}

/** The host's /status: one row per partition over all workers, and the workers themselves. */
export function mergeStatus(workers: readonly WorkerStatus[]): NodeStatusJson {
  const parts = new Map<string, PartitionStatus>();
  for (const w of workers) {
    for (const p of w.status.partitions ?? []) {
      const seen = parts.get(p.partition);
      parts.set(p.partition, seen ? mergePartition(seen, p) : { ...p });
    }
  }
  const first = workers[0]?.status;
  return {
    ...(first?.listen ? { listen: first.listen } : {}),
    ...(first?.upstream ? { upstream: first.upstream } : {}),
    clients: workers.reduce((n, w) => n + (w.status.clients ?? 0), 0),
    node: workers.map((w) => w.status.node ?? `worker ${w.slot}`).join(', '),
    now: Date.now(),
    partitions: [...parts.values()].sort((a, b) => a.partition.localeCompare(b.partition)),
    workers: workers.map((w) => ({ slot: w.slot, node: w.status.node ?? '', pid: w.pid, clients: w.status.clients ?? 0 })),
  };
}

/** Traffic adds up over workers; a window is every worker's, so its step is whichever is not idle. */
function mergePartition(a: PartitionStatus, b: PartitionStatus): PartitionStatus {
  const latest = (x: PartitionStatus['lastBackup'], y: PartitionStatus['lastBackup']): PartitionStatus['lastBackup'] => (x === null ? y : y === null ? x : y.at > x.at ? y : x);
  const next = [a.nextWindowAt, b.nextWindowAt].filter((v): v is number => v !== null);
  return {
    partition: a.partition,
    table: a.table ?? b.table,
    writesPerSec: a.writesPerSec + b.writesPerSec,
    writesTotal: a.writesTotal + b.writesTotal,
    window: a.window === 'idle' ? b.window : a.window,
    nextWindowAt: next.length > 0 ? Math.min(...next) : null,
    heldLast: a.heldLast + b.heldLast,
    heldTotal: a.heldTotal + b.heldTotal,
    windows: Math.max(a.windows, b.windows),
    lastBackup: latest(a.lastBackup, b.lastBackup),
  };
}
