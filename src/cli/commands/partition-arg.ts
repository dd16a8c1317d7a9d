import type pg from 'pg';
import { loadCatalog } from '../../catalog/index.js';
import type { Config } from '../../config/schema.js';
import { resolveName, resolveNames } from '../partition-names.js';

/** The managed leaves as the node sees them (the catalog of the managed database). */
async function knownLeaves(pool: pg.Pool, config: Config): Promise<Array<{ name: string; root: string }>> {
  const c = await pool.connect();
  try {
    const cat = await loadCatalog(c, { schemas: [...config.catalog.schemas], plainTables: [...config.catalog.plainTables] });
    return cat.leaves().map((l) => ({ name: l.name, root: l.root }));
  } finally {
    c.release();
  }
}

/** One leaf partition named as people type it (schema optional); a did-you-mean error otherwise. */
export async function resolvePartitionArg(pool: pg.Pool, config: Config, name: string): Promise<string> {
  const [leaf] = resolveName(name, await knownLeaves(pool, config), { tables: false });
  return leaf!;
}

/** Leaves for --partition names and --table names (schema optional on both). */
export async function resolveTargetArgs(pool: pg.Pool, config: Config, partitions: readonly string[], tables: readonly string[]): Promise<{ partitions: string[]; tables: string[] }> {
  const leaves = await knownLeaves(pool, config);
  const roots = [...new Set(leaves.map((l) => l.root))];
  return {
    partitions: resolveNames(partitions, leaves, { tables: false }),
    tables: tables.map((t) => {
      const hit = roots.filter((r) => r === t || r.slice(r.indexOf('.') + 1) === t);
      if (hit.length === 1) return hit[0]!;
      // Reuse the leaf resolver's message (did you mean…) for a table that is not there.
      return resolveName(t, leaves.map((l) => ({ name: l.root, root: l.root })), { tables: false })[0]!;
    }),
  };
}
