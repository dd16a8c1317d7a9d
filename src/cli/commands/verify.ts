import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { isRunId } from '../../backup/names.js';
import { targetFromUrl, type PgTarget } from '../../backup/pg-target.js';
import { verifyRun, type VerifyResult } from '../../backup/verify.js';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { parseUpstreamUrl } from '../../proxy/upstream.js';
import { createLogger, silentLogger } from '../../util/log.js';
import { adminPool, adminTarget } from '../admin-db.js';
import { configFileOf, locateNode } from '../locate.js';
import { findRun } from '../../backup/index.js';

interface VerifyFlags {
  dir?: string;
  scratchUrl?: string;
  config?: string;
  verbose?: boolean;
}

/** Plain aligned columns: readable in a terminal and easy to grep in CI logs. */
export function formatVerifyTable(r: VerifyResult): string {
  const head = ['partition', 'status', 'rows (manifest)', 'rows (restored)', 'checksum', 'reason'];
  const rows = r.partitions.map((p) => [
    p.partition,
    p.status,
    p.expected.rows === null ? '-' : String(p.expected.rows),
    p.actual.rows === null ? '-' : String(p.actual.rows),
    p.actual.checksum === null ? '-' : p.actual.checksum === p.expected.checksum ? 'match' : 'DIFFERS',
    p.reason ?? '',
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out = [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
  out.push('', `run ${r.runId}: ${r.ok ? 'ok' : 'FAILED'}`);
  return out.join('\n');
}

function scratchTarget(flags: VerifyFlags, located: Config | null): PgTarget {
  if (flags.scratchUrl) return targetFromUrl(flags.scratchUrl);
  const config = located ?? loadConfig({ file: configFileOf(flags.config) });
  if (!config.upstream.url) throw new Error('no server for scratch databases: pass --scratch-url postgres://user@host:port/postgres (upstream.url is not set)');
  // CREATE/DROP DATABASE run from the maintenance database, never from the managed one.
  return targetFromUrl(config.upstream.url, { user: config.admin.user, database: 'postgres' });
}

export function registerVerify(program: Command): void {
  program
    .command('verify')
    .description('restore every dump of a run into a scratch database and compare rows and checksums with its manifest')
    .argument('<run-id>', 'run to verify, e.g. 20261124T081500Z-1a2b, or latest')
    .option('--dir <dir>', 'backup directory (default: backup.dir from the configuration)')
    .option('--scratch-url <url>', 'server where scratch databases may be created (password via PGPASSWORD or PGPASSFILE)')
    .option('--config <file>', 'configuration file')
    .option('--verbose', 'log progress to stdout')
    .action(async (runId: string, flags: VerifyFlags) => {
      // A run id is a directory name: refuse anything else, so `../x` cannot point elsewhere.
      if (!isRunId(runId) && runId !== 'latest') throw new Error(`not a run id: ${JSON.stringify(runId)} (expected e.g. 20261124T081500Z-1a2b, or latest)`);
      let runDir: string;
      let located: Config | null = null;
      if (flags.dir && runId !== 'latest') {
        runDir = join(resolve(flags.dir), runId);
      } else {
        // Where the node wrote the run, as recorded in the database it fronts.
        located = locateNode({ config: flags.config }).config;
        const pool = adminPool(adminTarget(located, parseUpstreamUrl(located.upstream.url!)), 1);
        try {
          const run = await findRun(pool, runId);
          runDir = flags.dir ? join(resolve(flags.dir), run.runId) : run.dir;
        } finally {
          await pool.end();
        }
      }
      const log = flags.verbose ? createLogger() : silentLogger;
      const result = await verifyRun(runDir, { scratch: scratchTarget(flags, located), log });
      console.log(formatVerifyTable(result));
      if (!result.ok) process.exitCode = 1;
    });
}
