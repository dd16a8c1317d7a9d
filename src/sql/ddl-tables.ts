/**
 * DDL that can change which tables and partitions exist, their names or their keys: the tables it
 * names, so the catalog can refresh them. Returns null for DDL that cannot (indexes, functions, …).
 */
import type { AlterTableStmt, CreateStmt, DropStmt, Node, RenameStmt } from 'libpg-query';
import { stringList, tableRefOf, tableRefOfNames } from './ast.js';
import type { TableRef } from './types.js';

const TABLE_TYPES = new Set(['OBJECT_TABLE', 'OBJECT_FOREIGN_TABLE']);

/** CREATE [FOREIGN] TABLE: the new table and, for PARTITION OF / INHERITS, its parents. */
function createTables(s: CreateStmt): TableRef[] {
  const out: TableRef[] = [];
  if (s.relation !== undefined) out.push(tableRefOf(s.relation));
  for (const p of s.inhRelations ?? []) if ('RangeVar' in p) out.push(tableRefOf(p.RangeVar));
  return out;
}

/** ALTER TABLE: the table and every partition it attaches or detaches. */
function alterTables(s: AlterTableStmt): TableRef[] | null {
  if (s.objtype === undefined || !TABLE_TYPES.has(s.objtype) || s.relation === undefined) return null;
  const out = [tableRefOf(s.relation)];
  for (const c of s.cmds ?? []) {
    if (!('AlterTableCmd' in c)) continue;
    const def = c.AlterTableCmd.def;
    if (def !== undefined && 'PartitionCmd' in def && def.PartitionCmd.name !== undefined) {
      out.push(tableRefOf(def.PartitionCmd.name));
    }
  }
  return out;
}

function dropTables(s: DropStmt): TableRef[] | null {
  if (s.removeType === 'OBJECT_SCHEMA') return []; // CASCADE may take any table with it
  if (s.removeType === undefined || !TABLE_TYPES.has(s.removeType)) return null;
  const out: TableRef[] = [];
  for (const o of s.objects ?? []) {
    const names = 'List' in o ? stringList(o.List.items) : null;
    const ref = names === null ? null : tableRefOfNames(names);
    if (ref !== null) out.push(ref);
  }
  return out;
}

function renameTables(s: RenameStmt): TableRef[] | null {
  if (s.renameType === 'OBJECT_SCHEMA') return [];
  const onTable =
    (s.renameType !== undefined && TABLE_TYPES.has(s.renameType)) ||
    (s.relationType !== undefined && TABLE_TYPES.has(s.relationType)); // column or constraint of a table
  return onTable && s.relation !== undefined ? [tableRefOf(s.relation)] : null;
}

/** Tables a DDL statement may change, or null when it is not table DDL. */
export function ddlTablesOf(stmt: Node): TableRef[] | null {
  if ('CreateStmt' in stmt) return createTables(stmt.CreateStmt);
  if ('CreateForeignTableStmt' in stmt) {
    const base = stmt.CreateForeignTableStmt.base;
    return base === undefined ? [] : createTables(base);
  }
  if ('AlterTableStmt' in stmt) return alterTables(stmt.AlterTableStmt);
  if ('DropStmt' in stmt) return dropTables(stmt.DropStmt);
  if ('RenameStmt' in stmt) return renameTables(stmt.RenameStmt);
  if ('AlterObjectSchemaStmt' in stmt) {
    const s = stmt.AlterObjectSchemaStmt;
    return s.objectType !== undefined && TABLE_TYPES.has(s.objectType) && s.relation !== undefined ? [tableRefOf(s.relation)] : null;
  }
  if ('CreateSchemaStmt' in stmt) {
    // CREATE SCHEMA s CREATE TABLE …: the elements name their tables without the schema.
    const schema = stmt.CreateSchemaStmt.schemaname ?? null;
    const out: TableRef[] = [];
    for (const e of stmt.CreateSchemaStmt.schemaElts ?? []) {
      const inner = ddlTablesOf(e);
      if (inner !== null) out.push(...inner.map((t) => ({ schema: t.schema ?? schema, name: t.name })));
    }
    return out.length > 0 ? out : null;
  }
  return null;
}
