/**
 * `quietcut restore <run-id>`: put a run's partitions back, safely (backup/restore.ts): into
 * another database whole, or into the live table only when it is empty or with --replace.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { readManifest } from '../../backup/manifest.js';
import { targetFromUrl, type PgTarget } from '../../backup/pg-target.js';
import { restorable, restorePartition } from '../../backup/restore.js';
import { parseUpstreamUrl } from '../../proxy/upstream.js';
import { adminPool, adminTarget } from '../admin-db.js';
import { locateNode } from '../locate.js';
import { findRun } from '../../backup/index.js';
import { formatTable } from '../text-table.js';
import { resolvePartitionArg } from './partition-arg.js';

interface RestoreFlags {
  config?: string;
  upstream?: string;
  partition?: string[];
  into?: string;
  replace?: boolean;
  dir?: string;
}

export function registerRestore(program: Command): void {
  program
    .command('restore')
    .description('restore partitions of a run: into another database (--into URL), or into the live table if it is empty (--replace empties it first)')
    .argument('<run-id>', 'the run (quietcut runs lists them), or latest')
    .option('-c, --config <file>', 'YAML config file (default: QUIETCUT_CONFIG)')
    .option('--upstream <url>', 'the database the node fronts, postgres://user@host:port/db')
    .option('-p, --partition <name...>', 'only these partitions (schema optional); default every good one of the run')
    .option('--into <url>', 'restore into this database instead of the live one, postgres://user@host:port/db (no password in it: PGPASSWORD)')
    .option('--replace', 'live table not empty: truncate the partition and load the backup in one transaction')
    .option('--dir <dir>', "the run's backup directory, if not where the node wrote it")
    .action(async (runId: string, flags: RestoreFlags) => {
      const { config } = locateNode(flags);
      const admin = adminTarget(config, parseUpstreamUrl(config.upstream.url!));
      const pool = adminPool(admin, 1);
      try {
        const names = flags.partition ? await Promise.all(flags.partition.map((p) => resolvePartitionArg(pool, config, p))) : null;
        const run = await findRun(pool, runId, names?.length === 1 ? names[0]! : null);
        const dir = flags.dir ? join(resolve(flags.dir), run.runId) : existsSync(run.dir) ? run.dir : join(resolve(config.backup.dir), run.runId);
        const manifest = await readManifest(dir);
        const parts = restorable(manifest, names);
        const target: PgTarget = flags.into ? targetFromUrl(flags.into) : { host: admin.host, port: admin.port, user: admin.user, database: admin.database };
        const password = process.env.QUIETCUT_ADMIN_PASSWORD ?? process.env.PGPASSWORD;
        if (password && !target.password) target.password = password;
        const rows: string[][] = [];
        for (const p of parts) {
          const o = await restorePartition(dir, p, { target, replace: Boolean(flags.replace) });
          rows.push([o.partition, o.mode === 'full' ? 'created' : o.rowsBefore ? 'replaced' : 'loaded', o.rowsBefore === null ? '-' : String(o.rowsBefore), String(o.rowsAfter), String(o.rowsInBackup)]);
        }
        console.log(`run ${run.runId} → ${target.database} on ${target.host}:${target.port}`);
        console.log(formatTable(['partition', 'how', 'rows before', 'rows after', 'rows in backup'], rows).join('\n'));
        if (rows.some((r) => r[3] !== r[4])) {
          console.error('quietcut: rows after the restore differ from the backup (triggers or rules in the target?)');
          process.exitCode = 1;
        }
      } finally {
        await pool.end();
      }
    });
}
