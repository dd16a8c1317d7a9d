import { readFileSync } from 'node:fs';
import { isIP, connect } from 'node:net';
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';

/**
 * TLS to PostgreSQL, in libpq's words (https://www.postgresql.org/docs/15/libpq-ssl.html), for every
 * connection quietcut opens to the server: client sessions, its own pools, and pg_dump/pg_restore.
 */
export const SSL_MODES = ['disable', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export type SslMode = (typeof SSL_MODES)[number];

/** As configured (upstream.tls). */
export interface UpstreamTlsConfig {
  mode: SslMode;
  rootCert: string | null;
  cert: string | null;
  key: string | null;
}

/** Loaded once at start: file names (for libpq's environment) and contents (for Node's TLS). */
export interface UpstreamTls {
  /** With a root certificate, `require` verifies the chain as `verify-ca` does (libpq's rule). */
  readonly mode: SslMode;
  readonly rootCertFile: string | null;
  readonly certFile: string | null;
  readonly keyFile: string | null;
  readonly ca: Buffer | null;
  readonly cert: Buffer | null;
  readonly key: Buffer | null;
}

export const NO_TLS: UpstreamTls = { mode: 'disable', rootCertFile: null, certFile: null, keyFile: null, ca: null, cert: null, key: null };

function readConfigured(file: string | null, key: string): Buffer | null {
  if (file === null) return null;
  try {
    return readFileSync(file);
  } catch (err) {
    throw new Error(`${key}: cannot read ${file}: ${(err as Error).message}`);
  }
}

export function loadUpstreamTls(c: UpstreamTlsConfig, keyPrefix = 'upstream.tls'): UpstreamTls {
  if ((c.mode === 'verify-ca' || c.mode === 'verify-full') && c.rootCert === null) {
    throw new Error(`${keyPrefix}.mode ${c.mode} needs ${keyPrefix}.rootCert (the CA certificate that signed the server's certificate)`);
  }
  if ((c.cert === null) !== (c.key === null)) throw new Error(`${keyPrefix}.cert and ${keyPrefix}.key go together: set both or neither`);
  const mode = c.mode === 'require' && c.rootCert !== null ? 'verify-ca' : c.mode;
  return {
    mode,
    rootCertFile: c.rootCert,
    certFile: c.cert,
    keyFile: c.key,
    ca: readConfigured(c.rootCert, `${keyPrefix}.rootCert`),
    cert: readConfigured(c.cert, `${keyPrefix}.cert`),
    key: readConfigured(c.key, `${keyPrefix}.key`),
  };
}

/** Options for tls.connect over an existing socket; the peer is checked by `verifyServer`. */
export function tlsConnectOptions(t: UpstreamTls, host: string): ConnectionOptions {
  const o: ConnectionOptions = { rejectUnauthorized: false };
  if (isIP(host) === 0) o.servername = host;
  if (t.ca) o.ca = t.ca;
  if (t.cert && t.key) {
    o.cert = t.cert;
    o.key = t.key;
  }
  return o;
}

/** After the handshake: the error that ends the connection under this mode, or null. */
export function verifyServer(t: UpstreamTls, host: string, sock: TLSSocket): Error | null {
  if (t.mode !== 'verify-ca' && t.mode !== 'verify-full') return null;
  if (!sock.authorized) return new Error(`server certificate not trusted (upstream.tls.rootCert): ${String(sock.authorizationError)}`);
  if (t.mode === 'verify-full') {
    const err = checkServerIdentity(host, sock.getPeerCertificate() as PeerCertificate);
    if (err) return new Error(`server certificate does not match host ${host}: ${err.message}`);
  }
  return null;
}

/**
 * node-postgres `ssl` for quietcut's own connections; `prefer` must be resolved first
 * (resolvePreferredTls), node-postgres has no such mode.
 */
export function pgSslConfig(t: UpstreamTls): false | ConnectionOptions {
  switch (t.mode) {
    case 'disable':
    case 'prefer':
      return false;
    case 'require':
      return { rejectUnauthorized: false, ...certPair(t) };
    case 'verify-ca':
      return { rejectUnauthorized: true, ca: t.ca!, checkServerIdentity: () => undefined, ...certPair(t) };
    case 'verify-full':
      return { rejectUnauthorized: true, ca: t.ca!, ...certPair(t) };
  }
}

function certPair(t: UpstreamTls): ConnectionOptions {
  return t.cert && t.key ? { cert: t.cert, key: t.key } : {};
}

/** libpq's environment for child tools (pg_dump, pg_restore): files by name, never contents. */
export function libpqTlsEnv(t: UpstreamTls): Record<string, string> {
  const env: Record<string, string> = { PGSSLMODE: t.mode };
  if (t.rootCertFile) env.PGSSLROOTCERT = t.rootCertFile;
  if (t.certFile) env.PGSSLCERT = t.certFile;
  if (t.keyFile) env.PGSSLKEY = t.keyFile;
  return env;
}

/** Names libpqTlsEnv owns in a child's environment (inherited values are replaced or removed). */
export const LIBPQ_TLS_VARS = ['PGSSLMODE', 'PGSSLROOTCERT', 'PGSSLCERT', 'PGSSLKEY', 'PGSSLCRL', 'PGREQUIRESSL'] as const;

/**
 * `prefer` for connections that cannot fall back by themselves (node-postgres): ask the server
 * once (an SSLRequest, answered 'S' or 'N') and use TLS when it offers it.
 */
export async function resolvePreferredTls(t: UpstreamTls, host: string, port: number, timeoutMs: number): Promise<UpstreamTls> {
  if (t.mode !== 'prefer') return t;
  const offered = await new Promise<boolean>((resolve, reject) => {
    const s = connect({ host, port });
    const timer = setTimeout(() => s.destroy(new Error(`no answer to SSLRequest within ${timeoutMs} ms (upstream.connectTimeoutMs)`)), timeoutMs);
    s.once('connect', () => s.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f])));
    s.once('data', (b: Buffer) => {
      clearTimeout(timer);
      s.destroy();
      resolve(b[0] === 0x53);
    });
    s.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    s.once('close', () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
  return { ...t, mode: offered ? 'require' : 'disable' };
}
