import pg from 'pg';
import type { Config } from '../config/schema.js';
import { libpqTlsEnv, loadUpstreamTls, pgSslConfig, resolvePreferredTls, type UpstreamTls } from '../util/pg-tls.js';
import { SAFE_SESSION_OPTIONS } from '../store/trust.js';

export interface AdminTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** upstream.tls, with `prefer` resolved (resolveAdminTls) before a pool is made. */
  tls: UpstreamTls;
  /** Deadline of one whole connect, authentication included. */
  connectTimeoutMs: number;
}

/**
 * The connection quietcut uses for its own work (catalog, history, snapshots). The password comes
 * from QUIETCUT_ADMIN_PASSWORD or PGPASSWORD (pg reads it, or a passfile), never from config or argv.
 */
export function adminTarget(config: Config, upstream: { host: string; port: number; user: string | null; database: string | null }): AdminTarget {
  const user = config.admin.user ?? upstream.user ?? 'postgres';
  const database = config.admin.database ?? upstream.database ?? user;
  return { host: upstream.host, port: upstream.port, user, database, tls: loadUpstreamTls(config.upstream.tls), connectTimeoutMs: config.upstream.connectTimeoutMs };
}

/**
 * `prefer` decided once: node-postgres cannot fall back from TLS to plain by itself, so quietcut
 * asks the server whether it offers TLS (one SSLRequest) and uses it when it does.
 */
export async function resolveAdminTls(t: AdminTarget): Promise<AdminTarget> {
  return { ...t, tls: await resolvePreferredTls(t.tls, t.host, t.port, t.connectTimeoutMs) };
}

export function adminPool(t: AdminTarget, max = 4): pg.Pool {
  const password = process.env.QUIETCUT_ADMIN_PASSWORD;
  const ssl = pgSslConfig(t.tls);
  return new pg.Pool({
    host: t.host,
    port: t.port,
    user: t.user,
    database: t.database,
    ...(password ? { password } : {}),
    ...(ssl ? { ssl } : {}),
    connectionTimeoutMillis: t.connectTimeoutMs,
    max,
    application_name: 'quietcut',
    // Nothing another role creates in public (or anywhere) can stand in for what quietcut calls.
    options: SAFE_SESSION_OPTIONS,
  });
}

/** Environment for child tools (pg_dump, pg_restore): credentials never go on their argv. */
export function adminEnv(t: AdminTarget): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, PGHOST: t.host, PGPORT: String(t.port), PGUSER: t.user, PGDATABASE: t.database, ...libpqTlsEnv(t.tls) };
  if (process.env.QUIETCUT_ADMIN_PASSWORD) env.PGPASSWORD = process.env.QUIETCUT_ADMIN_PASSWORD;
  return env;
}
