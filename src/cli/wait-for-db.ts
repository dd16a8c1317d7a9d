/**
 * Waiting for the managed database at start-up: it may still be starting (a restart, or both
 * services coming up together).
 */
import type pg from 'pg';
import type { Logger } from '../util/log.js';
import { resolveAdminTls, type AdminTarget } from './admin-db.js';

/** upstream.tls.mode prefer asks the server once; a server still starting is waited for, as by connectWhenUp. */
export async function resolveTlsWhenUp(t: AdminTarget, waitMs: number, log: Logger): Promise<AdminTarget> {
  const deadline = Date.now() + waitMs;
  let delay = 200;
  for (;;) {
    try {
      return await resolveAdminTls(t);
    } catch (err) {
      const e = err as { code?: string; message: string };
      if (Date.now() + delay > deadline) {
        throw new Error(`cannot reach PostgreSQL on ${t.host}:${t.port} to ask for TLS (upstream.tls.mode prefer): ${e.message}`);
      }
      log.warn({ err: e.message, retryInMs: delay }, 'waiting for PostgreSQL to accept connections');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}

/**
 * Connect the admin pool's first client, waiting for the server a bounded backoff. Errors that waiting cannot fix (authentication, unknown database) fail at
 * once with the server's own message.
 */
export async function connectWhenUp(pool: pg.Pool, admin: AdminTarget, waitMs: number, log: Logger): Promise<pg.PoolClient> {
  const deadline = Date.now() + waitMs;
  let delay = 200;
  for (;;) {
    try {
      return await pool.connect();
    } catch (err) {
      const e = err as { code?: string; message: string };
      // A server that accepts TCP and never answers ends in a connect timeout: retried within waitMs too.
      const timedOut = /timeout/i.test(e.message);
      const transient = timedOut || e.code === 'ECONNREFUSED' || e.code === 'ECONNRESET' || e.code === 'ETIMEDOUT' || e.code === '57P03' || e.code === '53300';
      if (!transient || Date.now() + delay > deadline) {
        throw new Error(`cannot reach the managed database ${admin.database} on ${admin.host}:${admin.port} as ${admin.user}: ${e.message}: check upstream.url (--upstream), admin.user and admin.database`);
      }
      log.warn({ err: e.message, retryInMs: delay }, 'waiting for PostgreSQL to accept connections');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  }
}
