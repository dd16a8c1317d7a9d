/**
 * What the classifier tells the proxy about one SQL statement. Pure data shared by sql/ (which
 * produces it from the parse tree) and catalog/ (which resolves targets to leaf partitions).
 *
 * The rule is: never under-classify. When in doubt a target's rows/where are null, which the
 * catalog resolves to every partition of the table.
 */

export type StatementKind = 'read' | 'write' | 'tx' | 'ddl' | 'other' | 'unparsed';

/** A table as written in the statement; schema null means "resolve with the session's search_path". */
export interface TableRef {
  schema: string | null;
  name: string;
}

/** A value as it appears in the statement. */
export type Slot =
  | { kind: 'const'; value: string | null; cast?: string } // literal, in PostgreSQL's text form (null for SQL NULL)
  | { kind: 'param'; index: number; cast?: string } // $n, 1-based, filled in at Bind
  | { kind: 'default' } // DEFAULT or an omitted column: the column default applies
  | { kind: 'unknown' }; // any other expression: value not known to the proxy

// `cast` (optional, added by sql/): the value was written with one explicit cast, e.g. '2026-01-01'::date
// or $1::int8; it holds the type as written with `pg_catalog.` dropped ('date', 'int8', 'varchar(3)').
// The server converts the literal to that type before comparing or storing, so a catalog that wants to
// be exact about lossy casts (timestamp → date, numeric → int) can check it; the value is the inner one.

/** A condition on one column taken from a WHERE clause's top-level AND terms. */
export type ColumnCondition =
  | { op: 'in'; values: Slot[] } // col = v, col IN (...), col = ANY($n) is 'unknown'
  | { op: 'range'; lo: { slot: Slot; inclusive: boolean } | null; hi: { slot: Slot; inclusive: boolean } | null };

export type WriteCommand = 'insert' | 'update' | 'delete' | 'merge' | 'copy' | 'truncate' | 'call';

export interface WriteTarget {
  table: TableRef;
  command: WriteCommand;
  /** INSERT column list in order; null when omitted (table order) or not applicable. */
  insertColumns: string[] | null;
  /** INSERT ... VALUES rows, each the slots in insertColumns order; null when rows are not literal (INSERT ... SELECT, COPY). */
  insertRows: Slot[][] | null;
  /** UPDATE/DELETE/MERGE: conditions per column from the WHERE's top-level ANDs; null = no usable predicate (all partitions). */
  where: Record<string, ColumnCondition> | null;
  /** UPDATE/MERGE: columns assigned; an assigned partition key column means row movement (all partitions). null = unknown. */
  setColumns: string[] | null;
  /** true when the statement names this relation with ONLY (no descendants). */
  only: boolean;
}

export type TxOp =
  | 'begin'
  | 'commit'
  | 'rollback'
  | 'savepoint'
  | 'release'
  | 'rollback_to'
  | 'prepare'
  | 'commit_prepared'
  | 'rollback_prepared';

export interface TxControl {
  op: TxOp;
  /** savepoint name or prepared-transaction gid */
  name?: string;
  /** COMMIT AND CHAIN / ROLLBACK AND CHAIN keep a transaction open. */
  chain?: boolean;
}

/**
 * Why a statement may change rows the classifier cannot name (the proxy counts it unclassified unless
 * it can resolve it itself, e.g. EXECUTE of a prepared statement it tracked).
 */
export type UnseenWrite =
  | 'do_block' // DO: anonymous code block, runs arbitrary statements
  | 'truncate_cascade' // TRUNCATE … CASCADE also empties tables that reference the listed ones
  | 'sql_execute'; // EXECUTE name: runs a statement prepared with SQL PREPARE (see `execute`)

export interface ClassifiedStatement {
  kind: StatementKind;
  /** For kind 'write' (and data-modifying CTEs inside a read): every table written. */
  targets: WriteTarget[];
  /** For kind 'tx'. */
  tx?: TxControl;
  /**
   * For kind 'ddl': tables created/altered/attached/detached/dropped (catalog refresh). Empty when the
   * DDL names no table but may change any (DROP SCHEMA, ALTER SCHEMA … RENAME): refresh everything.
   */
  ddlTables?: TableRef[];
  /** SET search_path / SET LOCAL search_path / RESET: the new path (null: reset to server default). */
  searchPath?: string[] | null;
  /** Functions called anywhere in the statement (schema-qualified when written so), for the configured writing-functions map. */
  functions?: string[];
  /** Statement text span, for multi-statement Query messages. */
  location?: number;
  length?: number;

  // Optional fields added by sql/ (none changes the meaning of the fields above).

  /** Writes the classifier cannot see (see UnseenWrite). */
  unseen?: UnseenWrite[];
  /** SET LOCAL search_path: the new path lasts until the end of the current transaction only. */
  searchPathLocal?: true;
  /** The statement may change search_path in a way not known here (set_config(…), SET … FROM CURRENT). */
  searchPathUnknown?: true;
  /** SQL-level PREPARE name AS stmt: the inner statement, classified (its $n are EXECUTE's arguments). */
  prepare?: { name: string; statement: ClassifiedStatement };
  /** SQL-level EXECUTE name(args): the arguments as slots for the prepared statement's $n. */
  execute?: { name: string; params: Slot[] };
  /** DEALLOCATE name (null: DEALLOCATE ALL or DISCARD ALL). */
  deallocate?: string | null;
  /**
   * The statement may change a setting that changes how SQL text or key literals read
   * (standard_conforming_strings, client_encoding, DateStyle, TimeZone, ...; see session-reads.ts).
   */
  settingChange?: true;
  /** CLUSTER / VACUUM FULL: tables rewritten, which is not MVCC-safe ([]: tables not named). */
  nonMvcc?: TableRef[];
}
