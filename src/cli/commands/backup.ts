import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { parseUpstreamUrl } from '../../proxy/upstream.js';
import { BACKUP_CHANNEL } from '../../coordinator/requests.js';
import type { BackupRunResult } from '../../coordinator/backup-run.js';
import { adminPool, adminTarget, resolveAdminTls } from '../admin-db.js';
import { locateNode } from '../locate.js';
import { formatTable } from '../text-table.js';
import { resolveTargetArgs } from './partition-arg.js';
import { retrying, STALE_AFTER_MS, staleSql } from '../../store/liveness.js';

interface BackupFlags {
  config?: string;
  upstream?: string;
  partition?: string[];
  table?: string[];
  all?: boolean;
  mode?: string;
  release?: string;
  timeout: string;
  json?: boolean;
}

const STEPS = ['queued', 'holding', 'dumping', 'good'];

export function registerBackup(program: Command): void {
  program
    .command('backup')
    .description('ask the running quietcut node(s) to open windows and back up partitions now')
    .option('-c, --config <file>', 'YAML config file (upstream.url names the database the node fronts; default: QUIETCUT_CONFIG, else the running node)')
    .option('--upstream <url>', 'the database the node fronts, postgres://host:port/dbname')
    .option('--partition <schema.leaf...>', 'leaf partitions to back up (schema optional)')
    .option('--table <schema.table...>', 'every partition of these tables (schema optional)')
    .option('--all', 'every managed partition')
    .option('--mode <hold|reject>', 'what writes get during the window')
    .option('--release <after-snapshot|after-dump>', 'when held writes are released')
    .option('--timeout <seconds>', 'give up waiting after this long', '3600')
    .option('--json', 'print the result as JSON')
    .action(async (flags: BackupFlags) => {
      if (!flags.partition?.length && !flags.table?.length && !flags.all) throw new Error('say what to back up: --partition schema.leaf, --table schema.table or --all');
      if (flags.mode && !['hold', 'reject'].includes(flags.mode)) throw new Error(`--mode must be hold or reject, not ${flags.mode}`);
      if (flags.release && !['after-snapshot', 'after-dump'].includes(flags.release)) throw new Error(`--release must be after-snapshot or after-dump, not ${flags.release}`);
      const { config } = locateNode(flags);
      const pool = adminPool(await resolveAdminTls(adminTarget(config, parseUpstreamUrl(config.upstream.url!))), 1);
      // An idle connection lost to a PostgreSQL restart: the pool drops it and the next poll reconnects.
      pool.on('error', () => undefined);
      try {
        // Names as people type them (schema optional), checked here so a typo gets a did-you-mean.
        const named = await resolveTargetArgs(pool, config, flags.partition ?? [], flags.table ?? []);
        const specs = [...named.partitions, ...named.tables.map((t) => `table:${t}`), ...(flags.all ? ['*'] : [])];
        const { rows } = await pool.query<{ id: string }>('INSERT INTO quietcut.backup_requests (partitions, mode, release) VALUES ($1, $2, $3) RETURNING id::text', [specs, flags.mode ?? null, flags.release ?? null]);
        const id = rows[0]!.id;
        await pool.query(`NOTIFY ${BACKUP_CHANNEL}`).catch(() => undefined); // nodes also poll
        const result = await follow(pool, id, Number(flags.timeout) * 1000, !flags.json && Boolean(process.stdout.isTTY));
        if (flags.json) console.log(JSON.stringify(result, null, 2));
        else printResult(result);
        if (result.status !== 'good') process.exitCode = 1;
      } finally {
        await pool.end();
      }
    });
}

interface RequestState {
  claimed_by: string | null;
  /** ms since the claiming node last showed it is working on the request. */
  silent_ms: number | null;
  /** The claiming node is gone (its heartbeat, and its lease, lapsed). */
  stale: boolean | null;
  done_at: string | null;
  result: { progress?: Record<string, string>; run?: BackupRunResult; error?: string } | null;
}

async function follow(pool: import('pg').Pool, id: string, timeoutMs: number, bars: boolean): Promise<BackupRunResult> {
  const deadline = Date.now() + timeoutMs;
  const claimDeadline = Date.now() + 15_000;
  const multi = bars ? new cliProgress.MultiBar({ format: ' {bar} {partition} {state}', hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic) : null;
  const barOf = new Map<string, cliProgress.SingleBar>();
  const printed = new Map<string, string>();
  try {
    for (;;) {
      // The database may restart during the backup: keep asking until it answers again.
      const { rows } = await retrying(() =>
        pool.query<RequestState>(
          `SELECT claimed_by, done_at, result, (extract(epoch FROM clock_timestamp() - coalesce(heartbeat_at, claimed_at)) * 1000)::float8 AS silent_ms,
                  ${staleSql('heartbeat_at', 'claimed_at', '$2', 'claimed_by')} AS stale
             FROM quietcut.backup_requests WHERE id = $1`,
          [id, STALE_AFTER_MS],
        ),
      );
      const r = rows[0];
      if (!r) throw new Error(`backup request ${id} disappeared`);
      if (!r.claimed_by && Date.now() > claimDeadline) {
        await pool.query('DELETE FROM quietcut.backup_requests WHERE id = $1 AND claimed_by IS NULL', [id]);
        throw new Error('no quietcut node picked up the request in 15 s: is a node running in front of this database?');
      }
      for (const [p, state] of Object.entries(r.result?.progress ?? {})) {
        const step = Math.max(0, STEPS.indexOf(state));
        if (multi) {
          let bar = barOf.get(p);
          if (!bar) {
            bar = multi.create(STEPS.length - 1, 0, { partition: p, state });
            barOf.set(p, bar);
          }
          bar.update(state === 'good' ? STEPS.length - 1 : step, { partition: p, state });
        } else if (printed.get(p) !== state) {
          printed.set(p, state);
          console.error(`${p}: ${state}`);
        }
      }
      if (!r.done_at && r.claimed_by && r.stale) {
        throw new Error(`node ${r.claimed_by} stopped working on the request (no heartbeat for ${Math.round((r.silent_ms ?? 0) / 1000)} s): it died or lost the database; its run ends aborted`);
      }
      if (r.done_at) {
        if (r.result?.error) throw new Error(r.result.error);
        if (!r.result?.run) throw new Error('the node finished the request without a result');
        return r.result.run;
      }
      if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s; the backup goes on in the node (request ${id})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  } finally {
    multi?.stop();
  }
}

function printResult(r: BackupRunResult): void {
  console.log(`run ${r.runId}: ${r.status}  (${r.runDir})`);
  const rows = r.partitions.map((p) => [p.partition, p.status, p.rows ?? '-', p.bytes ?? '-', p.held, p.rejected, p.windowMs ?? '-', p.reason ?? ''].map(String));
  console.log(formatTable(['partition', 'status', 'rows', 'bytes', 'held', 'rejected', 'window ms', 'reason'], rows).join('\n'));
}
