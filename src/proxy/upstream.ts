/** Where the proxy connects: host and port from a postgres:// URL (user and database come from each client). */
export interface UpstreamAddress {
  host: string;
  port: number;
  user: string | null;
  database: string | null;
}

export function parseUpstreamUrl(url: string): UpstreamAddress {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`upstream.url is not a URL: expected postgres://host:port/dbname`);
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') throw new Error(`upstream.url must start with postgres:// (got ${u.protocol})`);
  if (u.password) throw new Error('upstream.url must not contain a password: use PGPASSWORD or a passfile (PGPASSFILE)');
  const host = decodeURIComponent(u.hostname || u.searchParams.get('host') || '127.0.0.1');
  const port = u.port ? Number(u.port) : Number(u.searchParams.get('port') ?? 5432);
  const database = u.pathname.length > 1 ? decodeURIComponent(u.pathname.slice(1)) : null;
  return { host, port, user: u.username ? decodeURIComponent(u.username) : null, database };
}

export function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  const host = s.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(s.slice(i + 1)) };
}
