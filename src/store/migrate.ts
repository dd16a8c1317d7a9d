import type pg from 'pg';
import { MIGRATIONS } from './migrations.js';
import { assertSchemaTrusted } from './trust.js';

/** Advisory lock key for migrations ('quietcut' hashed by hand into an int8 constant). */
const MIGRATION_LOCK = 0x71756965746375; // "quietcu"

/** Nobody but quietcut's role reads or changes its tables unless an operator grants it. */
const REVOKE_PUBLIC = [
  'REVOKE ALL ON SCHEMA quietcut FROM PUBLIC',
  'REVOKE ALL ON ALL TABLES IN SCHEMA quietcut FROM PUBLIC',
  'REVOKE ALL ON ALL SEQUENCES IN SCHEMA quietcut FROM PUBLIC',
  'REVOKE ALL ON ALL FUNCTIONS IN SCHEMA quietcut FROM PUBLIC',
];

/**
 * Create or upgrade the `quietcut` schema; returns the version now in place. Refuses (with
 * UntrustedSchemaError) a schema that another role owns or can change, before running anything in it,
 * and checks again after the migrations.
 */
export async function migrate(client: pg.ClientBase): Promise<number> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_catalog.pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    // The session may not have been opened with SAFE_SESSION_OPTIONS (tests, old callers).
    await client.query("SELECT pg_catalog.set_config('search_path', 'pg_catalog, pg_temp', true)");
    await assertSchemaTrusted(client);
    await client.query('CREATE SCHEMA IF NOT EXISTS quietcut');
    await client.query(
      'CREATE TABLE IF NOT EXISTS quietcut.schema_version (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ version: number }>('SELECT version FROM quietcut.schema_version');
    const applied = new Set(rows.map((r) => r.version));
    // Every missing version, in order: migrations of parallel work land with gaps (a database may
    // have 7 before 6 exists), so "above the highest applied" would skip one for ever.
    let version = Math.max(0, ...applied);
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      await client.query(m.sql);
      await client.query('INSERT INTO quietcut.schema_version (version, name) VALUES ($1, $2)', [m.version, m.name]);
      version = Math.max(version, m.version);
    }
    for (const sql of REVOKE_PUBLIC) await client.query(sql);
    await assertSchemaTrusted(client);
    await client.query('COMMIT');
    return version;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
