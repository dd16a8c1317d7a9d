import type pg from 'pg';
import { MIGRATIONS } from './migrations.js';

/** Advisory lock key for migrations ('quietcut' hashed by hand into an int8 constant). */
const MIGRATION_LOCK = 0x71756965746375; // "quietcu"

/** Create or upgrade the `quietcut` schema; returns the version now in place. */
export async function migrate(client: pg.ClientBase): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query('CREATE SCHEMA IF NOT EXISTS quietcut');
    await client.query(
      'CREATE TABLE IF NOT EXISTS quietcut.schema_version (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM quietcut.schema_version');
    const current = rows[0]?.v ?? 0;
    let version = current;
    for (const m of MIGRATIONS) {
      if (m.version <= current) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO quietcut.schema_version (version, name) VALUES ($1, $2)', [m.version, m.name]);
      version = m.version;
    }
    await client.query('COMMIT');
    return version;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
