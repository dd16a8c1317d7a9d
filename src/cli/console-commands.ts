/**
 * What each admin console command answers (the console itself, in proxy/console/, only speaks the
 * protocol): the cli is the one place that knows the proxy, the windows and the backups at once.
 */
import type pg from 'pg';
import type { LeafInfo } from '../catalog/index.js';
import type { Config } from '../config/schema.js';
import { flattenConfig, type ReloadResult } from '../config/reload.js';
import { BUILD, type Metrics } from '../metrics/registry.js';
import { ConsoleError, parseDurationMs, type Cell, type Column, type ConsoleCaller, type ConsoleCommand } from '../proxy/console/index.js';
import { parseStatement } from '../proxy/console/commands.js';
import type { ConsoleServer } from '../proxy/console/index.js';
import type { ProxyServer } from '../proxy/server.js';
import { SqlState } from '../protocol/sqlstate.js';
import type { BackupRunResult } from '../coordinator/backup-run.js';
import { PauseConflict, type Pauses } from '../windows/pause.js';
import type { PartitionActivity } from './node-status.js';
import { resolveNames, UnknownNameError } from './partition-names.js';
import { hostRows, mergeRows, type Everywhere, type MergeRule } from './console-host-rows.js';

export interface ConsoleContext {
  node: string;
  listen: string;
  upstream: string;
  startedAt: Date;
  config: () => Config;
  reload: () => ReloadResult;
  proxy: ProxyServer;
  console: () => ConsoleServer | null;
  activity: PartitionActivity;
  leaves: () => readonly LeafInfo[];
  pauses: Pauses;
  metrics: Metrics;
  pool: pg.Pool;
  backup: (partitions: readonly string[], o: { trigger: string }) => Promise<BackupRunResult>;
  /**
   * A worker (cli/workers): run a statement on every other worker of this host too, so that what
   * an operator pauses, resumes or reloads applies to all of them, and listings answer for the
   * host; their rows and who failed.
   */
  everywhere?: Everywhere;
}

/** Who runs a statement relayed from another worker: it is not relayed again. */
const RELAYED: ConsoleCaller = { user: 'quietcut', client: 'another worker' };

/** Run a statement another worker relayed here (its console client was told the local outcome there); its rows. */
export async function runRelayedConsole(commands: ReadonlyMap<string, ConsoleCommand>, text: string): Promise<Cell[][]> {
  const st = parseStatement(text, new Set(commands.keys()));
  if (!st) throw new Error(`not a console command: ${text}`);
  return (await commands.get(st.verb)!.run(st.args, RELAYED)).rows;
}

/** This host's rows of a listing (every worker's), unless the statement came from another worker. */
async function onEveryWorkerRows(ctx: ConsoleContext, caller: ConsoleCaller, text: string, columns: readonly Column[], local: Cell[][]): Promise<{ rows: Cell[][]; notices?: string[] }> {
  if (!ctx.everywhere || caller === RELAYED) return { rows: local };
  return hostRows(ctx.everywhere, text, columns, local);
}

/** The same statement on the other workers, unless it came from one; their failures become NOTICEs. */
async function onEveryWorker(ctx: ConsoleContext, caller: ConsoleCaller, text: string): Promise<string[]> {
  if (!ctx.everywhere || caller === RELAYED) return [];
  return (await ctx.everywhere(text)).failures.map((f) => `not applied on every worker: ${f}`);
}

/** Names quoted for a relayed statement (the console's words keep a quoted name whole). */
const quoted = (names: readonly string[]): string => names.map((n) => `"${n}"`).join(' ');

const col = (name: string, type: Column['type'] = 'text'): Column => ({ name, type });
const ms = (v: number | null): Date | null => (v === null ? null : new Date(v));

function targets(ctx: ConsoleContext, names: readonly string[]): string[] {
  if (names.length === 0) throw new ConsoleError(SqlState.InvalidParameterValue, 'name a partition or a partitioned table');
  try {
    return resolveNames(names, ctx.leaves());
  } catch (err) {
    if (err instanceof UnknownNameError) throw new ConsoleError(SqlState.UndefinedObject, err.message);
    throw err;
  }
}

const WINDOWS_COLUMNS: ReadonlyArray<Column & { merge: MergeRule }> = [
  { ...col('partition'), merge: 'key' },
  { ...col('table'), merge: 'same' },
  { ...col('state'), merge: 'busy' },
  { ...col('held_now', 'int8'), merge: 'sum' },
  { ...col('paused_until', 'timestamptz'), merge: 'max' },
  { ...col('next_window_at', 'timestamptz'), merge: 'min' },
  { ...col('last_status'), merge: 'last' },
  { ...col('last_at', 'timestamptz'), merge: 'last' },
  { ...col('last_window_ms', 'float8'), merge: 'last' },
  { ...col('last_held', 'int8'), merge: 'sum' },
  { ...col('windows', 'int8'), merge: 'max' },
  { ...col('held_total', 'int8'), merge: 'sum' },
];
const LAST_AT = WINDOWS_COLUMNS.findIndex((c) => c.name === 'last_at');
const HOLDS_COLUMNS = [col('partition'), col('user'), col('database'), col('client'), col('backend_pid', 'int8'), col('waiting_ms', 'float8'), col('held_by'), col('release_by', 'timestamptz')];
const CLIENTS_COLUMNS = [col('user'), col('database'), col('client'), col('state'), col('backend_pid', 'int8'), col('connected_at', 'timestamptz')];

/** Held sessions per partition now. */
function heldNow(ctx: ConsoleContext): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of ctx.proxy.sessions) {
    const h = s.heldFor;
    if (h) out.set(h.partition, (out.get(h.partition) ?? 0) + 1);
  }
  return out;
}

export function consoleCommands(ctx: ConsoleContext): Map<string, ConsoleCommand> {
  const list: ConsoleCommand[] = [
    {
      verb: 'SHOW HELP',
      usage: 'SHOW HELP',
      columns: [col('command'), col('usage')],
      run: () => ({ rows: list.map((c) => [c.verb, c.usage]) }),
    },
    {
      verb: 'SHOW WINDOWS',
      usage: 'SHOW WINDOWS — per partition: window now, next planned, last window (over every worker of this host)',
      columns: WINDOWS_COLUMNS,
      run: async (_args, caller) => {
        const held = heldNow(ctx);
        for (const l of ctx.leaves()) ctx.activity.know(l.name, l.root);
        const local: Cell[][] = ctx.activity.snapshot().map((p) => {
          const pause = ctx.pauses.get(p.partition);
          return [
            p.partition,
            p.table,
            pause ? 'paused' : p.window,
            held.get(p.partition) ?? 0,
            pause?.until ?? null,
            ms(p.nextWindowAt),
            p.lastBackup?.status ?? null,
            ms(p.lastBackup?.at ?? null),
            p.lastBackup?.windowMs ?? null,
            p.heldLast,
            p.windows,
            p.heldTotal,
          ];
        });
        const all = await onEveryWorkerRows(ctx, caller, 'SHOW WINDOWS', WINDOWS_COLUMNS, local);
        return { ...all, rows: mergeRows(all.rows, WINDOWS_COLUMNS.map((c) => c.merge), LAST_AT) };
      },
    },
    {
      verb: 'SHOW HOLDS',
      usage: 'SHOW HOLDS — client sessions whose write is held now (on every worker of this host)',
      columns: HOLDS_COLUMNS,
      run: async (_args, caller) => {
        const now = performance.now();
        const rows: Cell[][] = [];
        for (const s of ctx.proxy.sessions) {
          const h = s.heldFor;
          if (!h) continue;
          const pause = ctx.pauses.get(h.partition);
          rows.push([h.partition, s.user, s.database, s.clientAddress, s.pid, Math.round((now - h.sinceMs) * 10) / 10, pause ? 'pause' : 'window', pause ? pause.until : null]);
        }
        const all = await onEveryWorkerRows(ctx, caller, 'SHOW HOLDS', HOLDS_COLUMNS, rows);
        return { ...all, rows: all.rows.sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(b[5]) - Number(a[5])) };
      },
    },
    {
      verb: 'SHOW PARTITIONS',
      usage: 'SHOW PARTITIONS — write rate, forecast, next window, last backup',
      columns: [
        col('partition'),
        col('table'),
        col('writes_per_sec', 'float8'),
        col('writes_total', 'int8'),
        col('forecast_per_sec', 'float8'),
        col('next_window_at', 'timestamptz'),
        col('last_backup_at', 'timestamptz'),
        col('last_backup_status'),
        col('last_backup_bytes', 'int8'),
      ],
      run: () => {
        for (const l of ctx.leaves()) ctx.activity.know(l.name, l.root);
        return {
          rows: ctx.activity.snapshot().map((p) => [
            p.partition,
            p.table,
            p.writesPerSec,
            p.writesTotal,
            ctx.metrics.forecastNow(p.partition),
            ms(p.nextWindowAt),
            ms(p.lastBackup?.at ?? null),
            p.lastBackup?.status ?? null,
            p.lastBackup?.bytes ?? null,
          ]),
        };
      },
    },
    {
      verb: 'SHOW RUNS',
      usage: 'SHOW RUNS [n] — the last n backup runs (default 20), newest first',
      columns: [col('run_id'), col('status'), col('trigger'), col('node'), col('started_at', 'timestamptz'), col('finished_at', 'timestamptz'), col('partitions', 'int8'), col('good', 'int8'), col('bytes', 'int8')],
      run: async (args) => {
        const n = args[0] === undefined ? 20 : Number(args[0]);
        if (!Number.isInteger(n) || n <= 0) throw new ConsoleError(SqlState.InvalidParameterValue, `SHOW RUNS takes a positive count, not ${args[0]}`);
        const { rows } = await ctx.pool.query<{ run_id: string; status: string; trigger: string; node: string; started_at: Date; finished_at: Date | null; partitions: string; good: string; bytes: string | null }>(
          `SELECT r.run_id, r.status, r.trigger, r.node, r.started_at, r.finished_at,
                  count(p.partition)::text AS partitions, count(p.partition) FILTER (WHERE p.status = 'good')::text AS good, sum(p.bytes)::text AS bytes
             FROM quietcut.runs r LEFT JOIN quietcut.run_partitions p USING (run_id)
            GROUP BY r.run_id ORDER BY r.started_at DESC, r.run_id DESC LIMIT $1`,
          [n],
        );
        return { rows: rows.map((r) => [r.run_id, r.status, r.trigger, r.node, r.started_at, r.finished_at, Number(r.partitions), Number(r.good), r.bytes === null ? null : Number(r.bytes)]) };
      },
    },
    {
      verb: 'SHOW NODES',
      usage: 'SHOW NODES — quietcut nodes in front of this database (their leases in quietcut.nodes)',
      columns: [
        col('node'),
        col('this', 'bool'),
        col('live', 'bool'),
        col('host'),
        col('pid', 'int8'),
        col('role'),
        col('version'),
        col('started_at', 'timestamptz'),
        col('seen_at', 'timestamptz'),
        col('lease_expires_at', 'timestamptz'),
        col('clock_offset_ms', 'float8'),
        col('clock_uncertainty_ms', 'float8'),
        col('min_client_rtt_ms', 'float8'),
      ],
      run: async () => {
        const { rows } = await ctx.pool.query<{
          node: string;
          live: boolean;
          host: string | null;
          pid: number | null;
          role: string;
          version: string | null;
          started_at: Date | null;
          seen_at: Date;
          lease_expires_at: Date | null;
          clock_offset_ms: number | null;
          clock_uncertainty_ms: number | null;
          min_client_rtt_ms: number | null;
        }>(
          `SELECT node, coalesce(lease_expires_at > now(), false) AS live, host, pid, role, version, started_at, seen_at, lease_expires_at,
                  clock_offset_ms, clock_uncertainty_ms, min_client_rtt_ms
             FROM quietcut.nodes ORDER BY node`,
        );
        const out: Cell[][] = rows.map((r) => [r.node, r.node === ctx.node, r.live, r.host, r.pid, r.role, r.version, r.started_at, r.seen_at, r.lease_expires_at, r.clock_offset_ms, r.clock_uncertainty_ms, r.min_client_rtt_ms]);
        // Not registered (yet): this node still answers for itself.
        if (!rows.some((r) => r.node === ctx.node)) out.unshift([ctx.node, true, true, null, process.pid, 'node', BUILD.version, ctx.startedAt, null, null, null, null, null]);
        return { rows: out };
      },
    },
    {
      verb: 'SHOW CLIENTS',
      usage: 'SHOW CLIENTS — client connections now (applications and console, on every worker of this host)',
      columns: CLIENTS_COLUMNS,
      run: (_args, caller) => {
        const rows: Cell[][] = [];
        for (const s of ctx.proxy.sessions) {
          const state = s.phase !== 'ready' ? s.phase : s.heldFor ? 'held' : s.txStatus === 'T' ? 'in transaction' : s.txStatus === 'E' ? 'in failed transaction' : s.idle ? 'idle' : 'active';
          rows.push([s.user, s.database, s.clientAddress, state, s.pid || null, new Date(s.connectedAtMs)]);
        }
        for (const c of ctx.console()?.sessions ?? []) rows.push([c.caller.user, ctx.config().console.database, c.caller.client, 'console', null, c.connectedAt]);
        return onEveryWorkerRows(ctx, caller, 'SHOW CLIENTS', CLIENTS_COLUMNS, rows);
      },
    },
    {
      verb: 'SHOW CONFIG',
      usage: 'SHOW CONFIG — every option in force, and whether a change applies live or at restart',
      columns: [col('option'), col('value'), col('applies')],
      run: () => ({ rows: flattenConfig(ctx.config()).map((o) => [o.option, JSON.stringify(o.value), o.applies]) }),
    },
    {
      verb: 'RELOAD',
      usage: 'RELOAD — read the configuration file again (as SIGHUP)',
      columns: [col('option'), col('from'), col('to'), col('applies')],
      run: async (_args, caller) => {
        const r = ctx.reload();
        if (!r.ok) throw new ConsoleError(SqlState.ConfigFileError, `configuration not reloaded, the previous one stays in force: ${r.error}`);
        const restart = r.changes.filter((c) => c.applies === 'restart');
        const elsewhere = await onEveryWorker(ctx, caller, 'RELOAD');
        const notices = [...(restart.length > 0 ? [`needs a restart to take effect: ${restart.map((c) => c.option).join(', ')}`] : []), ...elsewhere];
        return {
          rows: r.changes.map((c) => [c.option, JSON.stringify(c.from) ?? null, JSON.stringify(c.to) ?? null, c.applies]),
          tag: 'RELOAD',
          ...(notices.length > 0 ? { notices } : {}),
        };
      },
    },
    {
      verb: 'PAUSE',
      usage: 'PAUSE <partition|table> [TIMEOUT <30s|500ms|2min>] — hold its writes (no dump) until RESUME or the timeout',
      columns: [col('partition'), col('until', 'timestamptz')],
      run: async (args, caller) => {
        const cfg = ctx.config();
        const t = args.findIndex((a) => a.toUpperCase() === 'TIMEOUT');
        const names = t < 0 ? args : args.slice(0, t);
        if (t >= 0 && args[t + 1] === undefined) throw new ConsoleError(SqlState.InvalidParameterValue, 'TIMEOUT needs a duration, e.g. TIMEOUT 30s');
        const timeoutMs = t >= 0 ? parseDurationMs(args[t + 1]!) : cfg.windows.maxHoldMs;
        if (timeoutMs <= 0 || timeoutMs > cfg.console.maxPauseMs) {
          throw new ConsoleError(SqlState.InvalidParameterValue, `a pause lasts more than 0 and at most console.maxPauseMs = ${cfg.console.maxPauseMs} ms, not ${timeoutMs} ms`);
        }
        const partitions = targets(ctx, names);
        try {
          const p = ctx.pauses.pause(partitions, { timeoutMs, maxQueuedRequests: cfg.windows.maxQueuedRequests, maxQueuedBytes: cfg.windows.maxQueuedBytes });
          const notices = await onEveryWorker(ctx, caller, `PAUSE ${quoted(partitions)} TIMEOUT ${timeoutMs}ms`);
          return { rows: partitions.map((x) => [x, p.until]), tag: 'PAUSE', ...(notices.length > 0 ? { notices } : {}) };
        } catch (err) {
          if (err instanceof PauseConflict) throw new ConsoleError(SqlState.ObjectInUse, err.message);
          throw err;
        }
      },
    },
    {
      verb: 'RESUME',
      usage: 'RESUME <partition|table|ALL> — release a pause now',
      columns: [col('partition')],
      run: async (args, caller) => {
        const all = args.length === 1 && args[0]!.toUpperCase() === 'ALL';
        const names = all ? 'all' : targets(ctx, args);
        const resumed = ctx.pauses.resume(names);
        const notices = await onEveryWorker(ctx, caller, names === 'all' ? 'RESUME ALL' : `RESUME ${quoted(names)}`);
        return { rows: resumed.map((p) => [p]), tag: 'RESUME', ...(notices.length > 0 ? { notices } : {}) };
      },
    },
    {
      verb: 'BACKUP',
      usage: 'BACKUP <partition|table>… — open windows and back up now; answers when the run ended',
      columns: [col('partition'), col('status'), col('rows', 'int8'), col('bytes', 'int8'), col('held', 'int8'), col('window_ms', 'float8'), col('reason'), col('run_id')],
      run: async (args) => {
        const r = await ctx.backup(targets(ctx, args), { trigger: 'console' });
        return { rows: r.partitions.map((p) => [p.partition, p.status, p.rows, p.bytes, p.held, p.windowMs, p.reason, r.runId]), tag: 'BACKUP' };
      },
    },
    {
      // Drivers set session options on connect (JDBC: extra_float_digits); nothing to do here.
      verb: 'SET',
      usage: 'SET … — accepted and ignored, for drivers',
      columns: [],
      run: () => ({ rows: [] }),
    },
  ];
  return new Map(list.map((c) => [c.verb, c]));
}
