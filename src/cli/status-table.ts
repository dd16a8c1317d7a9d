/**
 * The status table `quietcut status` prints and the demo redraws every second: one line per
 * partition from a node's GET /status. Plain text (no colour), so it reads the same in a terminal,
 * a log file and a test.
 */
import type { PartitionStatus } from './node-status.js';

/** GET /status as this table reads it (older nodes may lack the per-partition part). */
export interface NodeStatusJson {
  listen?: string;
  upstream?: string;
  clients?: number;
  node?: string;
  now?: number;
  partitions?: PartitionStatus[];
  /** Several workers on one port (--workers): each one's own node id, pid and clients. */
  workers?: Array<{ slot: number; node: string; pid: number; clients: number }>;
}

/** Narrow enough for an 80-column terminal: totals held over all windows are in the JSON and in Prometheus. */
const HEADERS = ['partition', 'writes/s', 'writes', 'window', 'last window', 'last backup'] as const;
/** Columns aligned right (numbers). */
const RIGHT = new Set([1, 2]);

export interface StatusTableOptions {
  /** Current time for ages, ms since epoch (default: the status's own `now`). */
  now?: number;
  /** How a planned window's start is shown (the demo shows simulated time of day). */
  formatTime?: (ms: number) => string;
}

export function renderStatusTable(status: NodeStatusJson, opts: StatusTableOptions = {}): string[] {
  const now = opts.now ?? status.now ?? Date.now();
  const time = opts.formatTime ?? ((ms: number) => `in ${age(ms - now)}`);
  const rows: string[][] = (status.partitions ?? []).map((p) => [
    // Like psql, leave out the default schema: the table must fit a terminal.
    p.partition.replace(/^public\./, ''),
    p.writesPerSec.toFixed(1),
    String(p.writesTotal),
    // The step of a window in progress, else when the next one is planned.
    p.window !== 'idle' || p.nextWindowAt === null ? p.window : time(p.nextWindowAt),
    p.lastBackup?.windowMs == null ? '-' : `${p.heldLast} held, ${p.lastBackup.windowMs} ms`,
    p.lastBackup ? `${p.lastBackup.status} ${age(now - p.lastBackup.at)} ago` : '-',
  ]);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (RIGHT.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  const out = [line(HEADERS), ...rows.map(line)];
  if (rows.length === 0) out.push('(no partitions known yet)');
  return out;
}

/** 4s, 3m12s, 2h05m. */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
