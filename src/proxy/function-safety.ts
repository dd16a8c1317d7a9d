import type { Catalog } from '../catalog/catalog.js';

/**
 * Built-in functions that run SQL text given to them: what they run cannot be seen in the
 * statement, so a call counts as writing anything.
 */
const RUNS_SQL = new Set([
  'query_to_xml',
  'query_to_xmlschema',
  'query_to_xml_and_xmlschema',
  'cursor_to_xml',
  'cursor_to_xmlschema',
  'ts_stat',
  'dblink',
  'dblink_exec',
]);

/**
 * Whether a called function may write tables the statement does not name. Known safe: built-in
 * functions (pg_catalog) that run no SQL text of their own, and those the user lists as read-only.
 * An unqualified name is safe only when no function of that name exists outside pg_catalog: PostgreSQL
 * may pick a user function of the same name by its argument types, whatever the search_path.
 * Functions a user marks STABLE or IMMUTABLE are not trusted: such a function can call a volatile one.
 */
export function functionMayWrite(called: string, catalog: Catalog | undefined, readOnly: ReadonlySet<string> | undefined): boolean {
  if (readOnly?.has(called) || readOnly?.has(called.toLowerCase())) return false;
  const dot = called.lastIndexOf('.');
  const name = dot < 0 ? called : called.slice(dot + 1);
  if (RUNS_SQL.has(name.toLowerCase())) return true;
  if (dot >= 0) return called.slice(0, dot) !== 'pg_catalog';
  if (!catalog) return true;
  return catalog.mayBeUserFunction(name);
}
