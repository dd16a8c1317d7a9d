/**
 * Small readers over libpg-query's parse tree. Nodes arrive as `{ NodeType: body }` objects (the
 * protobuf JSON form), and fields equal to their default (0, false, '') are omitted.
 */
import type { Node, RangeVar, TypeName } from 'libpg-query';
import type { TableRef } from './types.js';

/** The `sval` strings of a list of String nodes (names, operator names); null if any is not a String. */
export function stringList(nodes: readonly Node[] | undefined): string[] | null {
  if (nodes === undefined) return [];
  const out: string[] = [];
  for (const n of nodes) {
    if (!('String' in n)) return null;
    out.push(n.String.sval ?? '');
  }
  return out;
}

/** A RangeVar as the statement wrote it (the parser already folded unquoted names to lower case). */
export function tableRefOf(rv: RangeVar): TableRef {
  return { schema: rv.schemaname ?? null, name: rv.relname ?? '' };
}

/** A dotted name (table, DROP TABLE object) as a TableRef: [schema.]name, a leading catalog dropped. */
export function tableRefOfNames(names: readonly string[]): TableRef | null {
  const name = names[names.length - 1];
  if (name === undefined) return null;
  const schema = names.length >= 2 ? (names[names.length - 2] ?? null) : null;
  return { schema, name };
}

/** The function name as written, schema-qualified only when the statement qualified it. */
export function functionNameOf(funcname: readonly Node[] | undefined): string | null {
  const parts = stringList(funcname);
  if (parts === null || parts.length === 0) return null;
  return parts.join('.');
}

/**
 * A type name as written, without the `pg_catalog.` the grammar adds to SQL-standard names
 * (`integer` → 'int4', `timestamp with time zone` → 'timestamptz'), with typmods and array marks.
 */
export function typeNameText(t: TypeName): string | null {
  const parts = stringList(t.names);
  if (parts === null || parts.length === 0) return null;
  if (parts.length === 2 && parts[0] === 'pg_catalog') parts.shift();
  let text = parts.join('.');
  if (t.typmods !== undefined && t.typmods.length > 0) {
    const mods: string[] = [];
    for (const m of t.typmods) {
      if ('A_Const' in m && m.A_Const.ival !== undefined) mods.push(String(m.A_Const.ival.ival ?? 0));
      else return null; // interval field masks and the like: not worth spelling out
    }
    text += `(${mods.join(',')})`;
  }
  if (t.arrayBounds !== undefined) text += '[]'.repeat(t.arrayBounds.length);
  return text;
}
