import type { Config } from './schema.js';

/**
 * What a running node can take from a reloaded configuration (SIGHUP, the console's RELOAD) and
 * what only a restart applies. Everything not listed here is read afresh where it is used (limits,
 * windows, budgets, backup, schedule, planner, forecast, log level, TLS files, console roles).
 */
export const RESTART_OPTIONS: readonly string[] = [
  'listen',
  'workers',
  'upstream',
  'admin',
  'metrics.listen',
  'metrics.maxPartitionLabels',
  'metrics.maxHistogramPartitions',
  'sql.enabled',
  'sql.statementCacheSize',
  'stats.enabled',
  'stats.flushIntervalMs',
  'stats.tableStatsIntervalMs',
  'catalog.refreshIntervalMs',
  'log.pretty',
  'console.database',
  'demo',
];

export interface ConfigChange {
  /** Dotted option path, e.g. windows.partitions.public.orders_eu.maxHoldMs */
  option: string;
  from: unknown;
  to: unknown;
  /** live: applied at once; restart: recorded, takes effect when the node restarts */
  applies: 'live' | 'restart';
}

export function needsRestart(option: string): boolean {
  return RESTART_OPTIONS.some((r) => option === r || option.startsWith(`${r}.`));
}

/** Every option whose value differs, leaves only (maps are walked, lists compared whole). */
export function diffConfig(before: Config, after: Config): ConfigChange[] {
  const out: ConfigChange[] = [];
  walk(before, after, '', out);
  return out;
}

function walk(a: unknown, b: unknown, path: string, out: ConfigChange[]): void {
  if (isMap(a) && isMap(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of [...keys].sort()) walk(a[k], b[k], path ? `${path}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) === JSON.stringify(b)) return;
  out.push({ option: path, from: a, to: b, applies: needsRestart(path) ? 'restart' : 'live' });
}

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Leaf options with their values, for the console's SHOW CONFIG. */
export function flattenConfig(config: Config): Array<{ option: string; value: unknown; applies: 'live' | 'restart' }> {
  const out: Array<{ option: string; value: unknown; applies: 'live' | 'restart' }> = [];
  const visit = (v: unknown, path: string): void => {
    if (isMap(v) && Object.keys(v).length > 0) {
      for (const k of Object.keys(v).sort()) visit(v[k], path ? `${path}.${k}` : k);
      return;
    }
    out.push({ option: path, value: v, applies: needsRestart(path) ? 'restart' : 'live' });
  };
  visit(config, '');
  return out;
}

export type ReloadResult =
  | { ok: true; changes: ConfigChange[] }
  | { ok: false; error: string };
