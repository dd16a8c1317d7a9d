/**
 * A console on a `--workers` host answers for the host, as PgBouncer's console answers for its one
 * process: listings gather every worker's rows (through the primary) and, where one row per
 * partition is wanted, merge them.
 */
import type { Cell, Column } from '../proxy/console/index.js';

/** What the other workers of this host answered to a console statement: their rows, and who failed and why. */
export interface Gathered {
  rows: Cell[][];
  failures: string[];
}

/** Run a console statement on every other worker of this host (a worker's ConsoleContext.everywhere). */
export type Everywhere = (text: string) => Promise<Gathered>;

/** Rows that crossed the IPC channel carry timestamps as text: Dates again, by their column's type. */
export function reviveRows(columns: readonly Column[], rows: readonly Cell[][]): Cell[][] {
  return rows.map((r) => r.map((v, i) => (columns[i]?.type === 'timestamptz' && typeof v === 'string' ? new Date(v) : v)));
}

/** This worker's rows and every other worker's; the workers that did not answer, as notices. */
export async function hostRows(everywhere: Everywhere, text: string, columns: readonly Column[], local: Cell[][]): Promise<{ rows: Cell[][]; notices?: string[] }> {
  const { rows, failures } = await everywhere(text);
  return { rows: [...local, ...reviveRows(columns, rows)], ...(failures.length > 0 ? { notices: failures.map((f) => `not listed: ${f}`) } : {}) };
}

/** How a SHOW WINDOWS column adds up over workers: a window is every worker's, traffic is each one's. */
export type MergeRule = 'key' | 'same' | 'sum' | 'max' | 'min' | 'busy' | 'last';

const time = (v: Cell): number => (v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(v) : Number.NaN);

/**
 * One row per key over all workers' rows. `last` columns come together from the row whose
 * `lastAt` column is latest (the last window's status, time and length belong to one window);
 * `busy` takes a value other than `idle` where one worker has it.
 */
export function mergeRows(rows: readonly Cell[][], rules: readonly MergeRule[], lastAt: number): Cell[][] {
  const byKey = new Map<string, Cell[]>();
  const key = rules.indexOf('key');
  for (const r of rows) {
    const k = String(r[key]);
    const seen = byKey.get(k);
    if (!seen) {
      byKey.set(k, [...r]);
      continue;
    }
    const newer = time(r[lastAt] ?? null) > time(seen[lastAt] ?? null) || (seen[lastAt] === null && r[lastAt] !== null);
    rules.forEach((rule, i) => {
      const a = seen[i] ?? null;
      const b = r[i] ?? null;
      if (rule === 'sum') seen[i] = Number(a ?? 0) + Number(b ?? 0);
      else if (rule === 'max' || rule === 'min') {
        if (a === null) seen[i] = b;
        else if (b !== null) {
          const [x, y] = a instanceof Date || b instanceof Date ? [time(a), time(b)] : [Number(a), Number(b)];
          if (rule === 'max' ? y > x : y < x) seen[i] = b;
        }
      } else if (rule === 'busy') {
        if (a === 'idle' || a === null) seen[i] = b;
      } else if (rule === 'last' && newer) seen[i] = b;
    });
  }
  return [...byKey.values()];
}
