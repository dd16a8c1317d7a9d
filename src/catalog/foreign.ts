/**
 * Where a foreign leaf partition really lives: its foreign server, that server's connection options,
 * and the remote schema and table (postgres_fdw's `schema_name` / `table_name` options, defaulting to
 * the local names as postgres_fdw does). Read at backup time, not with the catalog the proxy uses on
 * every statement: only a cross-server cut needs it, and it should be fresh when the cut is taken.
 */
import type pg from 'pg';

export interface ForeignServerOptions {
  /** postgres_fdw `host`; null when unset (libpq's default then applies on the fronted server). */
  host: string | null;
  port: number | null;
  dbname: string | null;
}

export interface ForeignLeaf {
  /** schema-qualified local name, unquoted: public.events_eu */
  partition: string;
  /** pg_foreign_server.srvname */
  server: string;
  /** foreign-data wrapper name (postgres_fdw for the servers quietcut can back up) */
  wrapper: string;
  serverOptions: ForeignServerOptions;
  remote: { schema: string; name: string };
}

/** `{key=value, ...}` as PostgreSQL stores generic options; the value may itself contain `=`. */
export function parseGenericOptions(options: readonly string[] | null): Map<string, string> {
  const out = new Map<string, string>();
  for (const o of options ?? []) {
    const eq = o.indexOf('=');
    if (eq > 0) out.set(o.slice(0, eq), o.slice(eq + 1));
  }
  return out;
}

export function foreignLeafFromRow(r: ForeignRow): ForeignLeaf {
  const t = parseGenericOptions(r.table_options);
  const s = parseGenericOptions(r.server_options);
  const port = s.get('port');
  return {
    partition: `${r.schema}.${r.name}`,
    server: r.server,
    wrapper: r.wrapper,
    serverOptions: { host: s.get('host') ?? null, port: port !== undefined && /^\d+$/.test(port) ? Number(port) : null, dbname: s.get('dbname') ?? null },
    remote: { schema: t.get('schema_name') ?? r.schema, name: t.get('table_name') ?? r.name },
  };
}

export interface ForeignRow {
  schema: string;
  name: string;
  server: string;
  wrapper: string;
  table_options: string[] | null;
  server_options: string[] | null;
}

const FOREIGN_SQL = `
SELECT n.nspname AS schema, c.relname AS name, s.srvname AS server, w.fdwname AS wrapper,
       ft.ftoptions AS table_options, s.srvoptions AS server_options
  FROM pg_foreign_table ft
  JOIN pg_class c ON c.oid = ft.ftrelid
  JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_foreign_server s ON s.oid = ft.ftserver
  JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
 WHERE (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/** The foreign leaves among `partitions` (schema-qualified, unquoted), keyed by partition. */
export async function loadForeignLeaves(client: pg.ClientBase, partitions: ReadonlyArray<{ schema: string; name: string }>): Promise<Map<string, ForeignLeaf>> {
  if (partitions.length === 0) return new Map();
  const { rows } = await client.query<ForeignRow>(FOREIGN_SQL, [partitions.map((p) => p.schema), partitions.map((p) => p.name)]);
  return new Map(rows.map((r) => [`${r.schema}.${r.name}`, foreignLeafFromRow(r)]));
}
