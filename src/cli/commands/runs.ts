/**
 * `quietcut runs`: backup runs as `pgbackrest info` shows them, from the managed database.
 */
import type { Command } from 'commander';
import { parseUpstreamUrl } from '../../proxy/upstream.js';
import { adminPool, adminTarget } from '../admin-db.js';
import { locateNode } from '../locate.js';
import { findRun, listRuns, type RunRow } from '../../backup/index.js';
import { formatAge, formatBytes, formatTable } from '../text-table.js';
import { resolvePartitionArg } from './partition-arg.js';

interface RunsFlags {
  config?: string;
  upstream?: string;
  partition?: string;
  limit: string;
  json?: boolean;
}

const iso = (d: Date | null): string => (d ? d.toISOString().replace('.000Z', 'Z') : '-');

export function formatRuns(runs: readonly RunRow[], detail: boolean, now = Date.now()): string[] {
  if (!detail) {
    return formatTable(
      ['run', 'status', 'trigger', 'started', 'age', 'good', 'bytes', 'cut of each group'],
      runs.map((r) => {
        const cuts = new Map<string, Date | null>();
        for (const p of r.partitions) if (!cuts.has(p.group) || (p.cutAt && !cuts.get(p.group))) cuts.set(p.group, p.cutAt);
        const good = r.partitions.filter((p) => p.status === 'good');
        const bytes = good.reduce((a, p) => a + (p.bytes ?? 0), 0);
        return [r.runId, r.status, r.trigger, iso(r.startedAt), formatAge(r.startedAt, now), `${good.length}/${r.partitions.length}`, formatBytes(bytes), [...cuts].map(([g, at]) => `${g} ${iso(at)}`).join(', ')];
      }),
    );
  }
  return formatTable(
    ['run', 'partition', 'group', 'status', 'rows', 'size', 'cut at', 'held', 'window ms', 'age', 'reason'],
    runs.flatMap((r) =>
      r.partitions.map((p) => [
        r.runId,
        p.partition,
        p.group,
        p.prunedAt ? `${p.status} (pruned)` : p.status,
        p.rows === null ? '-' : String(p.rows),
        formatBytes(p.bytes),
        iso(p.cutAt),
        String(p.held),
        p.windowMs === null ? '-' : p.windowMs.toFixed(1),
        formatAge(r.startedAt, now),
        p.reason ?? '',
      ]),
    ),
  );
}

export function registerRuns(program: Command): void {
  program
    .command('runs')
    .description('backup runs, newest first: status, sizes, ages, the cut of each group (like pgbackrest info)')
    .argument('[run-id]', 'one run in detail (or latest)')
    .option('-c, --config <file>', 'YAML config file (default: QUIETCUT_CONFIG)')
    .option('--upstream <url>', 'the database the node fronts, postgres://user@host:port/db')
    .option('-p, --partition <name>', 'only runs of this partition, per partition (schema optional)')
    .option('--limit <n>', 'at most this many runs', '20')
    .option('--json', 'print the runs as JSON')
    .action(async (runId: string | undefined, flags: RunsFlags) => {
      const { config } = locateNode(flags);
      const pool = adminPool(adminTarget(config, parseUpstreamUrl(config.upstream.url!)), 1);
      try {
        const partition = flags.partition ? await resolvePartitionArg(pool, config, flags.partition) : null;
        const runs = runId ? [await findRun(pool, runId, partition)] : await listRuns(pool, { partition, limit: Number(flags.limit) });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(runs, null, 2)}\n`);
          return;
        }
        if (runs.length === 0) {
          console.log(partition ? `no runs of ${partition} yet` : 'no backup runs yet (quietcut backup --all makes one)');
          return;
        }
        console.log(formatRuns(runs, Boolean(runId || partition)).join('\n'));
      } finally {
        await pool.end();
      }
    });
}
