import type pg from 'pg';
import { LIBPQ_TLS_VARS, libpqTlsEnv, pgSslConfig, type UpstreamTls } from '../util/pg-tls.js';
import { SAFE_SESSION_OPTIONS } from '../store/trust.js';

/**
 * Where backup tools connect, split into the parts libpq takes from the environment. Child
 * processes get everything through PG* variables, so no connection detail, and above all no
 * password, ever appears in an argument list (visible to every user in `ps`) or in a log line.
 */
export interface PgTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** From the URL, QUIETCUT_ADMIN_PASSWORD or PGPASSWORD; never logged. */
  password?: string;
  /** libpq passfile (PGPASSFILE); used when no password is given. */
  passfile?: string;
  sslmode?: string;
  /** TLS to the server (upstream.tls); takes precedence over sslmode. */
  tls?: UpstreamTls;
  /** Deadline of a whole connect, authentication included (upstream.connectTimeoutMs). */
  connectTimeoutMs?: number;
}

export interface TargetOptions {
  /** Overrides the URL's user (config admin.user). */
  user?: string | null;
  /** Overrides the URL's database (config admin.database). */
  database?: string | null;
  env?: NodeJS.ProcessEnv;
}

/** Parse `postgres://user[:password]@host[:port]/db[?sslmode=…&host=/socket/dir]`. */
export function targetFromUrl(url: string, opts: TargetOptions = {}): PgTarget {
  const env = opts.env ?? process.env;
  let u: URL;
  try {
    // libpq allows an empty host (`postgres://u@/db?host=/run/postgresql`); WHATWG URL does not.
    u = new URL(url.replace(/^(postgres(?:ql)?:\/\/(?:[^/?#@]*@)?)(?=[/?#]|$)/, '$1localhost'));
  } catch {
    // The URL may hold a password: never echo it.
    throw new Error('invalid PostgreSQL URL (expected postgres://user@host:port/dbname)');
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`unsupported URL scheme ${u.protocol} (expected postgres://)`);
  const hostParam = u.searchParams.get('host');
  const host = hostParam ?? (decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost');
  const port = u.port ? Number(u.port) : Number(u.searchParams.get('port') ?? 5432);
  const user = opts.user ?? (u.username ? decodeURIComponent(u.username) : (env.PGUSER ?? 'postgres'));
  const database = opts.database ?? (decodeURIComponent(u.pathname.replace(/^\//, '')) || user);
  const t: PgTarget = { host, port, user, database };
  const password = u.password ? decodeURIComponent(u.password) : (env.QUIETCUT_ADMIN_PASSWORD ?? env.PGPASSWORD);
  if (password !== undefined && password !== '') t.password = password;
  if (env.PGPASSFILE) t.passfile = env.PGPASSFILE;
  const sslmode = u.searchParams.get('sslmode') ?? env.PGSSLMODE;
  if (sslmode) t.sslmode = sslmode;
  return t;
}

export function withDatabase(t: PgTarget, database: string): PgTarget {
  return { ...t, database };
}

/** Variables this module owns in a child's environment; inherited values are replaced or removed. */
const OWNED_VARS = ['PGHOST', 'PGHOSTADDR', 'PGPORT', 'PGUSER', 'PGDATABASE', 'PGPASSWORD', 'PGPASSFILE', 'PGSERVICE', 'PGCONNECT_TIMEOUT', 'QUIETCUT_ADMIN_PASSWORD', ...LIBPQ_TLS_VARS];

/** Environment for pg_dump / pg_restore: the parent's, with the connection given only through PG*. */
export function childEnv(t: PgTarget, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  for (const k of OWNED_VARS) delete env[k];
  env.PGHOST = t.host;
  env.PGPORT = String(t.port);
  env.PGUSER = t.user;
  env.PGDATABASE = t.database;
  env.PGAPPNAME = 'quietcut-backup';
  if (t.password !== undefined) env.PGPASSWORD = t.password;
  if (t.passfile !== undefined) env.PGPASSFILE = t.passfile;
  if (t.sslmode !== undefined) env.PGSSLMODE = t.sslmode;
  if (t.tls) Object.assign(env, libpqTlsEnv(t.tls));
  // libpq's connect_timeout is whole seconds (at least 2).
  if (t.connectTimeoutMs !== undefined) env.PGCONNECT_TIMEOUT = String(Math.max(2, Math.ceil(t.connectTimeoutMs / 1000)));
  return env;
}

/**
 * node-postgres settings. Without a password node-postgres itself falls back to PGPASSWORD and
 * ~/.pgpass; a passfile named by PGPASSFILE is honoured by it as well.
 */
export function clientConfig(t: PgTarget, applicationName = 'quietcut-backup'): pg.ClientConfig {
  const c: pg.ClientConfig = { host: t.host, port: t.port, user: t.user, database: t.database, application_name: applicationName, options: SAFE_SESSION_OPTIONS };
  if (t.password !== undefined) c.password = t.password;
  if (t.connectTimeoutMs !== undefined) c.connectionTimeoutMillis = t.connectTimeoutMs;
  if (t.tls) {
    const ssl = pgSslConfig(t.tls);
    if (ssl) c.ssl = ssl;
  } else if (t.sslmode !== undefined && t.sslmode !== 'disable' && t.sslmode !== 'allow' && t.sslmode !== 'prefer') {
    c.ssl = t.sslmode === 'require' ? { rejectUnauthorized: false } : true;
  }
  return c;
}

/** host:port/db for logs and manifests: never the user's password. */
export function describeTarget(t: PgTarget): { host: string; port: number; database: string; user: string } {
  return { host: t.host, port: t.port, database: t.database, user: t.user };
}
