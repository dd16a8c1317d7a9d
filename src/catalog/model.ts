/**
 * The catalog as loaded from PostgreSQL: plain, serialisable data. The loader fills it from the
 * system catalogs; unit tests write it by hand. `Catalog` (catalog.ts) builds its indexes from it.
 */

export type Strategy = 'range' | 'list' | 'hash';

/** A column's default as an INSERT would apply it. */
export type ColumnDefault =
  | { kind: 'null' } // no default: NULL
  | { kind: 'const'; text: string | null } // a constant, in its text form
  | { kind: 'expr' }; // anything evaluated at insert time (now(), nextval(), identity, casts)

export interface ColumnInfo {
  name: string;
  typeOid: number;
  /** atttypmod: -1 when none. */
  typmod: number;
  default: ColumnDefault;
}

export interface KeyPartInfo {
  /** The key column, or null for a key expression (that level then resolves to all its children). */
  column: string | null;
  typeOid: number;
  typmod: number;
  /** false when the key uses a non-default operator class: its order or hash is not the type's own. */
  defaultOpclass: boolean;
  /** Text order equals UTF-8 byte order (C/POSIX/C.UTF-8 collation on a UTF8 server). */
  bytewiseOrder: boolean;
  /** Text equality is byte equality and hashing is over the bytes (deterministic collation, UTF8 server). */
  bytewiseEquality: boolean;
}

export interface PartitionKeyInfo {
  strategy: Strategy;
  parts: KeyPartInfo[];
}

export interface RelationInfo {
  oid: number;
  schema: string;
  name: string;
  /** p: partitioned table; r: table (leaf or plain); f: foreign table (leaf, lives on `foreignServer`). */
  relkind: 'p' | 'r' | 'f';
  /** The parent partitioned table, for a partition. */
  parentOid: number | null;
  /** pg_get_expr(relpartbound, oid), read with TimeZone UTC and DateStyle ISO; null when not a partition. */
  bound: string | null;
  /** Non-dropped columns in attnum order (the order of INSERT without a column list). */
  columns: ColumnInfo[];
  /** For relkind 'p'. */
  key: PartitionKeyInfo | null;
  foreignServer: string | null;
}

export interface CatalogData {
  relations: RelationInfo[];
  /**
   * The server's hash functions gave the values hash.ts computes for a few probes: false on a
   * big-endian server (or if PostgreSQL ever changes them), and hash partitions then resolve to all.
   */
  hashVerified: boolean;
  /** Relations named in config as one-partition tables (by oid). */
  plainTableOids: number[];
  /** Date.now() when loading began. */
  loadedAtMs: number;
  /**
   * Names (proname, as stored) of functions and procedures outside pg_catalog: a call of such a
   * name may run anything, so the proxy cannot prove it writes nothing. Absent: not loaded (every
   * call outside pg_catalog is then unknown as well).
   */
  userFunctions?: string[];
  /**
   * Relations (schema-qualified, unquoted) whose writes may write other tables unseen: views (any
   * write goes somewhere else), tables with user triggers or rules, tables referenced by foreign
   * keys with cascading actions, tables whose column defaults call functions outside pg_catalog.
   */
  hiddenWriters?: string[];
}

/** A leaf partition as the rest of quietcut sees it. */
export interface LeafInfo {
  /** schema-qualified, unquoted: public.events_2026_11 */
  name: string;
  /** the root partitioned (or plain) table, schema-qualified */
  root: string;
  foreignServer: string | null;
  /** The leaf as (schema, name): `name` is for display and keys, this is what SQL is built from. */
  table?: { schema: string; name: string };
}

export interface Resolution {
  /** schema.table of the root partitioned table (the plain table itself for a one-partition table). */
  root: string;
  /** schema-qualified leaf names, e.g. public.events_2026_11 */
  partitions: string[];
  /** true when `partitions` is every leaf of the named table or subtree (nothing could be narrowed). */
  all: boolean;
}
