/**
 * `quietcut stats export` / `quietcut stats import`: write history as one `ts,value` CSV per
 * partition (the format `quietcut forecast --backtest` reads), and seed history from such files.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type pg from 'pg';
import { parseSeriesCsv } from '../../forecast/csv.js';
import type { Series } from '../../forecast/types.js';
import { parseUpstreamUrl } from '../../proxy/upstream.js';
import { listHistoryPartitions, MINUTE_MS, readHistory, replaceNodeHistory, type HistoryMeasure, type HistorySource, type SeedRow } from '../../stats/history.js';
import { adminPool, adminTarget, resolveAdminTls } from '../admin-db.js';
import { locateNode } from '../locate.js';
import { parseDurationMs } from './forecast.js';

/** Node name imported history is stored under unless --node says otherwise: apart from live nodes. */
export const DEFAULT_IMPORT_NODE = 'import';

export interface ExportOptions {
  /** Partitions (schema.partition); empty: every partition with history in the range. */
  partitions: readonly string[];
  dir: string;
  stepMs: number;
  source: HistorySource;
  measure: HistoryMeasure;
  fromMs?: number;
  toMs?: number;
}

export interface ExportedFile {
  partition: string;
  file: string;
  steps: number;
}

/** File name for a partition: `<schema>.<partition>.csv`, with characters unsafe in a path %-escaped. */
export function csvFileName(partition: string): string {
  return `${partition.replace(/[^A-Za-z0-9_.-]/g, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''))}.csv`.replace(/^\./, '%2E');
}

export function seriesToCsv(s: Series): string {
  const lines = ['ts,value'];
  s.values.forEach((v, i) => lines.push(`${new Date(s.startMs + i * s.stepMs).toISOString()},${Number.isNaN(v) ? '' : String(v)}`));
  return lines.join('\n') + '\n';
}

/** Partitions with no history in the range are left out (no file), and not reported as written. */
export async function exportStats(client: pg.ClientBase, o: ExportOptions): Promise<{ written: ExportedFile[]; empty: string[] }> {
  const range = { ...(o.fromMs === undefined ? {} : { fromMs: o.fromMs }), ...(o.toMs === undefined ? {} : { toMs: o.toMs }) };
  const partitions = o.partitions.length > 0 ? [...o.partitions] : (await listHistoryPartitions(client, { ...range, source: o.source })).map((p) => p.partition);
  await mkdir(o.dir, { recursive: true });
  const written: ExportedFile[] = [];
  const empty: string[] = [];
  for (const partition of partitions) {
    const s = await readHistory(client, { partition, source: o.source, measure: o.measure, stepMs: o.stepMs, ...range });
    if (s === null) {
      empty.push(partition);
      continue;
    }
    const file = join(o.dir, csvFileName(partition));
    await writeFile(file, seriesToCsv(s));
    written.push({ partition, file, steps: s.values.length });
  }
  return { written, empty };
}

export interface ImportOptions {
  partition: string;
  node: string;
  /** Which column the CSV value goes to; `both`: statements and rows (one row per statement). */
  measure: HistoryMeasure | 'both';
}

/**
 * Seed quietcut.write_minutes from a `ts,value` CSV. Each value goes to the minute its `ts` starts
 * (a 5-minute file puts each step's count on the step's first minute, so exporting at 5m gives the
 * file back). Idempotent: the node's buckets of that partition from the first ts to the end of the
 * last step are replaced, never added to (only the measured column: statements and rows can come
 * from two files). Gaps (empty values) and zeros store no bucket.
 */
export async function importStats(client: pg.ClientBase, csvText: string, o: ImportOptions): Promise<{ fromMs: number; toMs: number; buckets: number }> {
  const s = parseImportCsv(csvText);
  if (s.startMs % MINUTE_MS !== 0 || s.stepMs % MINUTE_MS !== 0) throw new Error('timestamps must fall on whole minutes (history is kept per minute)');
  const rows: SeedRow[] = [];
  s.values.forEach((v, i) => {
    if (Number.isNaN(v) || v === 0) return;
    if (!Number.isFinite(v) || v < 0) throw new Error(`value at ${new Date(s.startMs + i * s.stepMs).toISOString()} is not a count: ${v}`);
    const n = Math.round(v);
    rows.push({ minuteMs: s.startMs + i * s.stepMs, statements: n, rows: n });
  });
  const range = { fromMs: s.startMs, toMs: s.startMs + s.values.length * s.stepMs };
  return { ...range, ...(await replaceNodeHistory(client, o.partition, o.node, range, rows, o.measure)) };
}

/**
 * parseSeriesCsv, except that one row is allowed (an export of a single step): its step is taken
 * to be one minute, the grain of the history.
 */
function parseImportCsv(text: string): Series {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  if (lines.length !== 2) return parseSeriesCsv(text);
  const one = parseSeriesCsv(`${text.trimEnd()}\n${new Date(Date.parse(lines[1]!.split(',')[0]!) + MINUTE_MS).toISOString()},\n`);
  return { startMs: one.startMs, stepMs: one.stepMs, values: one.values.subarray(0, 1) };
}

/** `--since` as a duration back from now (`2h`, `7d`) or an ISO-8601 timestamp. */
export function parseSince(text: string, nowMs = Date.now()): number {
  if (/^\d/.test(text) && /[smhdw]$/.test(text.trim())) return nowMs - parseDurationMs(text);
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw new Error(`bad --since ${JSON.stringify(text)} (expected a duration such as 7d, or an ISO-8601 time)`);
  return ms;
}

/** The admin connection of the configured upstream; there is no history without one. */
async function withAdminClient<T>(configFile: string | undefined, fn: (c: pg.ClientBase) => Promise<T>): Promise<T> {
  // History lives in the node's database, found as every command finds it.
  const { config } = locateNode({ config: configFile });
  const pool = adminPool(await resolveAdminTls(adminTarget(config, parseUpstreamUrl(config.upstream.url!))), 1);
  try {
    const client = await pool.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>(`SELECT to_regclass('quietcut.write_minutes') IS NOT NULL AS ok`);
      if (rows[0]?.ok !== true) throw new Error('no quietcut schema in the upstream database: start quietcut against it once (it migrates on start)');
      return await fn(client);
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

interface ExportFlags {
  partition?: string[];
  dir: string;
  step: string;
  since?: string;
  until?: string;
  source: string;
  measure: string;
  config?: string;
}

interface ImportFlags {
  partition: string;
  node: string;
  measure: string;
  config?: string;
}

function oneOf<T extends string>(what: string, value: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(value)) throw new Error(`bad ${what} ${JSON.stringify(value)} (expected ${allowed.join(' or ')})`);
  return value as T;
}

export function registerStats(program: Command): void {
  const stats = program.command('stats').description('write history: export it as CSV per partition, or seed it from CSV');
  stats
    .command('export')
    .description('write one CSV (ts,value; ts in UTC) per partition: <dir>/<schema>.<partition>.csv')
    .option('--partition <name...>', 'schema.partition to export (repeatable); default: every partition with history')
    .option('--dir <dir>', 'output folder', '.')
    .option('--step <duration>', 'step of the series, whole minutes (1m, 5m, 1h)', '1m')
    .option('--since <when>', 'start: a duration back from now (7d) or an ISO-8601 time; default: all history')
    .option('--until <when>', 'end (exclusive), same forms as --since; default: now')
    .option('--source <source>', 'proxy (writes the proxy forwarded) or table-stats (pg_stat_user_tables deltas)', 'proxy')
    .option('--measure <measure>', 'statements or rows (table-stats always counts rows)', 'statements')
    .option('-c, --config <file>', 'YAML config file (upstream.url, admin.*)')
    .action(async (flags: ExportFlags) => {
      const stepMs = parseDurationMs(flags.step);
      if (stepMs % MINUTE_MS !== 0) throw new Error(`--step must be a whole number of minutes (got ${flags.step})`);
      const now = Date.now();
      const opts: ExportOptions = {
        partitions: flags.partition ?? [],
        dir: flags.dir,
        stepMs,
        source: oneOf('--source', flags.source, ['proxy', 'table-stats'] as const),
        measure: oneOf('--measure', flags.measure, ['statements', 'rows'] as const),
        ...(flags.since === undefined ? {} : { fromMs: parseSince(flags.since, now) }),
        ...(flags.until === undefined ? {} : { toMs: parseSince(flags.until, now) }),
      };
      const { written, empty } = await withAdminClient(flags.config, (c) => exportStats(c, opts));
      for (const w of written) console.log(`${w.file}  ${w.steps} steps`);
      for (const p of empty) console.error(`${p}: no history in the range, no file written`);
      if (written.length === 0 && empty.length === 0) console.error('no partition has history in the range');
    });
  stats
    .command('import')
    .description("seed write history from a ts,value CSV; replaces the node's history of the partition over the file's range, so importing twice does not double it")
    .argument('<file>', 'CSV with header ts,value (ts ISO-8601, on whole minutes)')
    .requiredOption('--partition <name>', 'schema.partition the file belongs to')
    .option('--node <name>', 'node name the history is stored under', DEFAULT_IMPORT_NODE)
    .option('--measure <measure>', 'statements, rows or both', 'both')
    .option('-c, --config <file>', 'YAML config file (upstream.url, admin.*)')
    .action(async (file: string, flags: ImportFlags) => {
      if (!/^[^.]+\..+$/.test(flags.partition)) throw new Error(`--partition must be schema-qualified, e.g. public.orders_eu (got ${flags.partition})`);
      const measure = oneOf('--measure', flags.measure, ['statements', 'rows', 'both'] as const);
      const text = await readFile(file, 'utf8');
      const r = await withAdminClient(flags.config, (c) => importStats(c, text, { partition: flags.partition, node: flags.node, measure }));
      console.log(
        `${flags.partition} (node ${flags.node}, ${measure}): ${r.buckets} minute buckets; history from ${new Date(r.fromMs).toISOString()} to ${new Date(r.toMs).toISOString()} replaced`,
      );
    });
}
