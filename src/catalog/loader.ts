/**
 * Reads the partition catalog from PostgreSQL in one read-only snapshot and a handful of queries
 * (not one per table): relations of every partition tree, their columns and defaults, partition
 * keys with operator classes and collations, and the database's locale.
 */
import type pg from 'pg';
import { parseConstDefault } from './bound-parser.js';
import { Catalog, parseName } from './catalog.js';
import { HASH_PARTITION_SEED, hashBytesExtended, hashInt4Extended, hashInt8Extended } from './hash.js';
import type { CatalogData, ColumnDefault, ColumnInfo, KeyPartInfo, PartitionKeyInfo, RelationInfo, Strategy } from './model.js';

export interface LoadOptions {
  /** Schemas whose partitioned tables are managed; empty or absent: every non-system schema. */
  schemas?: string[];
  /** Plain tables managed as one-partition tables (`schema.table`; unqualified means public). */
  plainTables?: string[];
}

const SYSTEM_SCHEMA = `n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname !~ '^pg_(toast|temp_|toast_temp_)'`;

// Every partitioned table and partition, and the configured plain tables. Temporary tables belong to
// one session and are never managed.
const RELATIONS_SQL = `
SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS relkind,
       CASE WHEN c.relispartition THEN i.inhparent::int8 END AS parent,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS bound,
       fs.srvname AS server
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND c.relispartition
  LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
  LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
 WHERE c.relkind IN ('p', 'r', 'f') AND c.relpersistence <> 't' AND ${SYSTEM_SCHEMA}
   AND (c.relkind = 'p' OR c.relispartition
        OR (n.nspname, c.relname) IN (SELECT * FROM unnest($1::text[], $2::text[])))
 ORDER BY n.nspname, c.relname`;

// adbin's node tree starts with {CONST when the default is a plain constant of the column's type.
const COLUMNS_SQL = `
SELECT a.attrelid::int8 AS rel, a.attname AS name, a.atttypid::int8 AS type, a.atttypmod AS typmod,
       a.attidentity <> '' OR a.attgenerated <> '' AS computed,
       d.adbin IS NOT NULL AS has_default,
       coalesce(d.adbin::text LIKE '{CONST %', false) AS const_default,
       pg_get_expr(d.adbin, d.adrelid) AS default_text
  FROM pg_attribute a
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
 WHERE a.attrelid = ANY($1::oid[]) AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attrelid, a.attnum`;

const KEYS_SQL = `
SELECT pt.partrelid::int8 AS rel, pt.partstrat::text AS strategy, k.ord::int AS ord, k.attnum::int AS attnum,
       coalesce(a.attname, NULL) AS column, coalesce(a.atttypid, 0)::int8 AS type, coalesce(a.atttypmod, -1) AS typmod,
       k.coll::int8 AS collation, opc.opcdefault AS default_opclass
  FROM pg_partitioned_table pt
  CROSS JOIN LATERAL unnest(pt.partattrs::int2[], pt.partclass::oid[], pt.partcollation::oid[]) WITH ORDINALITY AS k(attnum, opclass, coll, ord)
  JOIN pg_opclass opc ON opc.oid = k.opclass
  LEFT JOIN pg_attribute a ON a.attrelid = pt.partrelid AND a.attnum = k.attnum AND k.attnum > 0
 WHERE pt.partrelid = ANY($1::oid[])
 ORDER BY pt.partrelid, k.ord`;

// to_jsonb keeps these two queries working across versions whose locale columns differ
// (datlocprovider from 15, colllocale from 17).
const COLLATIONS_SQL = `SELECT c.oid::int8 AS oid, to_jsonb(c) AS j FROM pg_collation c WHERE c.oid = ANY($1::oid[])`;
const DATABASE_SQL = `SELECT to_jsonb(d) AS j, pg_encoding_to_char(d.encoding) AS encoding FROM pg_database d WHERE d.datname = current_database()`;

// A few probes of the hash support functions, compared with hash.ts before hash partitions are routed.
const HASH_PROBE_SQL = `SELECT hashint4extended(-7, $1::int8)::text AS int4, hashint8extended(-5000000000, $1::int8)::text AS int8,
  hashtextextended('quietcut ✓ 0123456789', $1::int8)::text AS text,
  uuid_hash_extended('00112233-4455-6677-8899-aabbccddeeff', $1::int8)::text AS uuid`;

const STRATEGY: Record<string, Strategy> = { r: 'range', l: 'list', h: 'hash' };
const DEFAULT_COLLATION = 100;
const BYTEWISE_LOCALES = new Set(['c', 'posix', 'c.utf-8', 'c.utf8']);

type Json = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

/** Whether a locale (provider + name) orders text exactly by UTF-8 bytes (code points). */
function bytewiseLocale(provider: string, locale: string): boolean {
  // libc 'c' (C, POSIX, C.UTF-8: code point order) and the builtin provider 'b' (17+: C, C.UTF-8).
  return (provider === 'c' || provider === 'b' || provider === '') && BYTEWISE_LOCALES.has(locale.toLowerCase());
}

function collationFacts(coll: number, collations: Map<number, Json>, db: Json, utf8: boolean): { bytewiseOrder: boolean; bytewiseEquality: boolean } {
  if (coll === 0) return { bytewiseOrder: false, bytewiseEquality: false }; // not a collatable type
  const c = collations.get(coll);
  if (!c) return { bytewiseOrder: false, bytewiseEquality: false };
  const deterministic = c.collisdeterministic !== false;
  let provider = str(c.collprovider);
  let locale = str(c.colllocale) || str(c.colliculocale) || str(c.collcollate);
  if (coll === DEFAULT_COLLATION || provider === 'd') {
    provider = str(db.datlocprovider) || 'c';
    locale = provider === 'c' ? str(db.datcollate) : str(db.datlocale) || str(db.daticulocale);
  }
  return { bytewiseOrder: utf8 && deterministic && bytewiseLocale(provider, locale), bytewiseEquality: utf8 && deterministic };
}

function columnDefault(row: { computed: boolean; has_default: boolean; const_default: boolean; default_text: string | null }): ColumnDefault {
  if (row.computed) return { kind: 'expr' };
  if (!row.has_default) return { kind: 'null' };
  const parsed = row.const_default && row.default_text !== null ? parseConstDefault(row.default_text) : undefined;
  return parsed ? { kind: 'const', text: parsed.text } : { kind: 'expr' };
}

function hashProbesMatch(row: { int4: string; int8: string; text: string; uuid: string } | undefined): boolean {
  if (!row) return false;
  const s = (v: bigint): string => BigInt.asIntN(64, v).toString();
  return (
    row.int4 === s(hashInt4Extended(-7, HASH_PARTITION_SEED)) &&
    row.int8 === s(hashInt8Extended(-5000000000n, HASH_PARTITION_SEED)) &&
    row.text === s(hashBytesExtended(Buffer.from('quietcut \u2713 0123456789', 'utf8'), HASH_PARTITION_SEED)) &&
    row.uuid === s(hashBytesExtended(Buffer.from('00112233445566778899aabbccddeeff', 'hex'), HASH_PARTITION_SEED))
  );
}

/** Every function name outside pg_catalog (information_schema's are SQL-standard views' helpers, read-only). */
const USER_FUNCTIONS_SQL = `SELECT DISTINCT p.proname AS name FROM pg_catalog.pg_proc p
  WHERE p.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace AND p.pronamespace <> 'information_schema'::pg_catalog.regnamespace`;

/** Relations whose writes can write elsewhere without the statement saying so (see CatalogData.hiddenWriters). */
const HIDDEN_WRITERS_SQL = `SELECT n.nspname AS schema, c.relname AS name FROM pg_catalog.pg_class c
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND (
         c.relkind = 'v'
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN')
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_constraint k WHERE k.confrelid = c.oid AND k.contype = 'f'
                  AND (k.confdeltype NOT IN ('a', 'r') OR k.confupdtype NOT IN ('a', 'r')))
      OR EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef d
                   JOIN pg_catalog.pg_depend dep ON dep.classid = 'pg_catalog.pg_attrdef'::pg_catalog.regclass AND dep.objid = d.oid
                                                AND dep.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                   JOIN pg_catalog.pg_proc f ON f.oid = dep.refobjid
                  WHERE d.adrelid = c.oid AND f.pronamespace <> 'pg_catalog'::pg_catalog.regnamespace))`;

export async function loadCatalogData(client: pg.ClientBase, opts: LoadOptions = {}): Promise<CatalogData> {
  const loadedAtMs = Date.now();
  const plain = (opts.plainTables ?? []).map(parseName).map((r) => ({ schema: r.schema ?? 'public', name: r.name }));
  // One snapshot for all queries; bound and default texts printed in UTC / ISO so they read back exactly.
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`SET LOCAL TimeZone = 'UTC'; SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL standard_conforming_strings = on; SET LOCAL extra_float_digits = 3`);
    const rels = await client.query<{ oid: string; schema: string; name: string; relkind: 'p' | 'r' | 'f'; parent: string | null; bound: string | null; server: string | null }>(
      RELATIONS_SQL,
      [plain.map((p) => p.schema), plain.map((p) => p.name)],
    );
    const all = rels.rows.map((r) => ({ ...r, oid: Number(r.oid), parent: r.parent === null ? null : Number(r.parent) }));
    const byOid = new Map(all.map((r) => [r.oid, r]));
    // Keep the trees whose root is in the configured schemas (partitions may live in any schema).
    const schemas = opts.schemas && opts.schemas.length > 0 ? new Set(opts.schemas) : null;
    const rootOf = (r: (typeof all)[number]): (typeof all)[number] => {
      let cur = r;
      for (let p = cur.parent === null ? undefined : byOid.get(cur.parent); p; p = cur.parent === null ? undefined : byOid.get(cur.parent)) cur = p;
      return cur;
    };
    const plainKeys = new Set(plain.map((p) => `${p.schema}\u0000${p.name}`));
    const plainTableOids: number[] = [];
    const kept = all.filter((r) => {
      if (r.relkind !== 'p' && r.parent === null) {
        const isPlain = plainKeys.has(`${r.schema}\u0000${r.name}`);
        if (isPlain) plainTableOids.push(r.oid);
        return isPlain;
      }
      const root = rootOf(r);
      return root.relkind === 'p' && root.parent === null && (!schemas || schemas.has(root.schema));
    });
    const oids = kept.map((r) => r.oid);

    // One client runs one query at a time: sequential, in the same snapshot.
    const cols = await client.query<{ rel: string; name: string; type: string; typmod: number; computed: boolean; has_default: boolean; const_default: boolean; default_text: string | null }>(COLUMNS_SQL, [oids]);
    const keys = await client.query<{ rel: string; strategy: string; ord: number; attnum: number; column: string | null; type: string; typmod: number; collation: string; default_opclass: boolean }>(KEYS_SQL, [oids]);
    const dbRow = await client.query<{ j: Json; encoding: string }>(DATABASE_SQL);
    const probe = await client.query<{ int4: string; int8: string; text: string; uuid: string }>(HASH_PROBE_SQL, [BigInt.asIntN(64, HASH_PARTITION_SEED).toString()]);
    const collOids = [...new Set(keys.rows.map((k) => Number(k.collation)).filter((c) => c !== 0))];
    const colls = await client.query<{ oid: string; j: Json }>(COLLATIONS_SQL, [collOids]);
    const fns = await client.query<{ name: string }>(USER_FUNCTIONS_SQL);
    const hidden = await client.query<{ schema: string; name: string }>(HIDDEN_WRITERS_SQL);
    await client.query('COMMIT');

    const collations = new Map(colls.rows.map((c) => [Number(c.oid), c.j]));
    const db = dbRow.rows[0]?.j ?? {};
    const utf8 = dbRow.rows[0]?.encoding === 'UTF8';

    const columns = new Map<number, ColumnInfo[]>();
    for (const c of cols.rows) {
      const list = columns.get(Number(c.rel)) ?? [];
      columns.set(Number(c.rel), list);
      list.push({ name: c.name, typeOid: Number(c.type), typmod: c.typmod, default: columnDefault(c) });
    }
    const partKeys = new Map<number, PartitionKeyInfo>();
    for (const k of keys.rows) {
      const rel = Number(k.rel);
      const strategy = STRATEGY[k.strategy];
      if (!strategy) continue;
      const key = partKeys.get(rel) ?? { strategy, parts: [] };
      partKeys.set(rel, key);
      const part: KeyPartInfo = {
        column: k.attnum > 0 ? k.column : null,
        typeOid: Number(k.type),
        typmod: k.typmod,
        defaultOpclass: k.default_opclass,
        ...collationFacts(Number(k.collation), collations, db, utf8),
      };
      key.parts.push(part);
    }
    const relations: RelationInfo[] = kept.map((r) => ({
      oid: r.oid,
      schema: r.schema,
      name: r.name,
      relkind: r.relkind,
      parentOid: r.parent,
      bound: r.bound,
      columns: columns.get(r.oid) ?? [],
      key: r.relkind === 'p' ? (partKeys.get(r.oid) ?? null) : null,
      foreignServer: r.server,
    }));
    return {
      relations,
      plainTableOids,
      loadedAtMs,
      hashVerified: hashProbesMatch(probe.rows[0]),
      userFunctions: fns.rows.map((f) => f.name),
      hiddenWriters: hidden.rows.map((h) => `${h.schema}.${h.name}`),
    };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** Loads and indexes the catalog. */
export async function loadCatalog(client: pg.ClientBase, opts: LoadOptions = {}): Promise<Catalog> {
  return new Catalog(await loadCatalogData(client, opts));
}
