import type pg from 'pg';
import { parseTableName, targetFromUrl, type PgTarget, type TableName } from '../backup/index.js';
import { loadForeignLeaves, type ForeignLeaf } from '../catalog/index.js';
import type { Config } from '../config/schema.js';

/**
 * Key of the fronted server in per-server maps. Not a name PostgreSQL would give a foreign server
 * unquoted, so it cannot shadow one in practice.
 */
export const FRONTED_SERVER = '(fronted)';

/** Where one member partition's rows are dumped from. */
export interface MemberLocation {
  /** FRONTED_SERVER or a foreign server name */
  server: string;
  /** The table to dump on that server: the leaf itself, or the foreign table's remote table. */
  table: TableName;
}

export interface ServerTargetOptions {
  config: Pick<Config, 'servers'>;
  /** quietcut's own connection: its user is the default for foreign servers, its password env too. */
  admin: PgTarget;
  env?: NodeJS.ProcessEnv;
}

/**
 * The connection quietcut uses to back up a foreign server: `servers.<name>.url` when configured,
 * else host/port/dbname from the server's postgres_fdw options with the admin user. Credentials come
 * from the environment or a passfile, never from the URL: a URL with a password is refused (and not
 * echoed), since config files end up in repositories and in `ps`-visible places.
 */
export function foreignServerTarget(leaf: ForeignLeaf, o: ServerTargetOptions): PgTarget {
  if (leaf.wrapper !== 'postgres_fdw') throw new Error(`foreign server ${leaf.server} uses ${leaf.wrapper}: only postgres_fdw servers can be backed up`);
  const url = o.config.servers[leaf.server]?.url;
  if (url !== undefined) {
    if (/^[a-z]+:\/\/[^/@]*:[^/@]*@/i.test(url)) throw new Error(`servers.${leaf.server}.url holds a password: give it through PGPASSWORD, QUIETCUT_ADMIN_PASSWORD or a passfile`);
    const hasUser = /^[a-z]+:\/\/[^/@]+@/i.test(url);
    return targetFromUrl(url, { ...(hasUser ? {} : { user: o.admin.user }), env: o.env ?? process.env });
  }
  const s = leaf.serverOptions;
  const t: PgTarget = { host: s.host ?? 'localhost', port: s.port ?? 5432, user: o.admin.user, database: s.dbname ?? o.admin.user };
  if (o.admin.password !== undefined) t.password = o.admin.password;
  if (o.admin.passfile !== undefined) t.passfile = o.admin.passfile;
  if (o.admin.sslmode !== undefined) t.sslmode = o.admin.sslmode;
  return t;
}

/**
 * Locations of the members and one target per server involved (the fronted one under
 * FRONTED_SERVER), for a run's partitions.
 */
export function locateMembers(
  partitions: readonly string[],
  foreign: ReadonlyMap<string, ForeignLeaf>,
  parse: (p: string) => TableName,
  o: ServerTargetOptions,
): { locations: Map<string, MemberLocation>; targets: Map<string, PgTarget> } {
  const locations = new Map<string, MemberLocation>();
  const targets = new Map<string, PgTarget>();
  for (const p of partitions) {
    const f = foreign.get(p);
    if (!f) {
      locations.set(p, { server: FRONTED_SERVER, table: parse(p) });
      targets.set(FRONTED_SERVER, o.admin);
      continue;
    }
    locations.set(p, { server: f.server, table: { schema: f.remote.schema, name: f.remote.name } });
    if (!targets.has(f.server)) targets.set(f.server, foreignServerTarget(f, o));
  }
  return { locations, targets };
}

/**
 * Look up the foreign leaves among `partitions` on the fronted server and where to back each up.
 * Run once per backup run, so a foreign table re-pointed at another server is seen at the next run.
 */
export async function locateForeign(
  pool: pg.Pool,
  partitions: readonly string[],
  o: ServerTargetOptions,
): Promise<{ locations: Map<string, MemberLocation>; targets: Map<string, PgTarget> }> {
  const c = await pool.connect();
  let foreign: Map<string, ForeignLeaf>;
  try {
    foreign = await loadForeignLeaves(c, partitions.map((p) => parseTableName(p)));
  } finally {
    c.release();
  }
  return locateMembers([...foreign.keys()], foreign, parseTableName, o);
}
