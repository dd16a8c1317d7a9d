import pg from 'pg';
import { clientConfig, type PgTarget } from '../backup/index.js';
import type { PreparedPin } from './window.js';

export type { PreparedPin } from './window.js';

export type PinTarget = PgTarget;

/**
 * Connect and BEGIN before the window starts holding, so the hold only covers the drain and one
 * round trip: in REPEATABLE READ the snapshot is taken by the first query, not by BEGIN.
 */
export async function preparePin(target: PinTarget, signal: AbortSignal): Promise<PreparedPin> {
  const client = new pg.Client(clientConfig(target, 'quietcut pin'));
  client.on('error', () => undefined);
  const onAbort = (): void => {
    void client.end().catch(() => undefined);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
  } catch (err) {
    signal.removeEventListener('abort', onAbort);
    await client.end().catch(() => undefined);
    throw new Error(`snapshot export failed: ${(err as Error).message}`);
  }
  return {
    async take() {
      try {
        const { rows } = await client.query<{ snap: string; lsn: string }>('SELECT pg_export_snapshot() AS snap, pg_current_wal_lsn()::text AS lsn');
        const row = rows[0];
        if (!row) throw new Error('pg_export_snapshot returned nothing');
        let closed = false;
        return {
          snapshotId: row.snap,
          lsn: row.lsn,
          async close() {
            if (closed) return;
            closed = true;
            signal.removeEventListener('abort', onAbort);
            try {
              await client.query('COMMIT');
            } finally {
              await client.end().catch(() => undefined);
            }
          },
        };
      } catch (err) {
        signal.removeEventListener('abort', onAbort);
        await client.end().catch(() => undefined);
        throw new Error(`snapshot export failed: ${(err as Error).message}`);
      }
    },
    async cancel() {
      signal.removeEventListener('abort', onAbort);
      await client.end().catch(() => undefined);
    },
  };
}
