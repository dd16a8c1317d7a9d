/** One WriteTarget per data-changing statement node, filled as faithfully as the text allows. */
import type { CopyStmt, DeleteStmt, InsertStmt, MergeStmt, Node, RangeVar, TruncateStmt, UpdateStmt } from 'libpg-query';
import { stringList, tableRefOf } from './ast.js';
import { targetNamesOf, whereConditions } from './conditions.js';
import { slotOf } from './slots.js';
import type { Slot, WriteCommand, WriteTarget } from './types.js';
import type { NestedWrite } from './tree-walk.js';

function baseTarget(rv: RangeVar, command: WriteCommand): WriteTarget {
  return {
    table: tableRefOf(rv),
    command,
    insertColumns: null,
    insertRows: null,
    where: null,
    // Assigned columns only matter for UPDATE/MERGE (row movement); for the rest nothing is reassigned.
    setColumns: [],
    only: rv.inh !== true,
  };
}

/** Names of SET targets; `a[1] = …` and `a.f = …` assign column a. */
function assignedColumns(targetList: readonly Node[] | undefined): string[] {
  const cols: string[] = [];
  for (const n of targetList ?? []) {
    if ('ResTarget' in n && n.ResTarget.name !== undefined && !cols.includes(n.ResTarget.name)) cols.push(n.ResTarget.name);
  }
  return cols;
}

export function insertTarget(s: InsertStmt): WriteTarget | null {
  if (s.relation === undefined) return null;
  const t = baseTarget(s.relation, 'insert');
  // INSERT has no ONLY: a row always lands in one leaf of the named table's tree.
  t.only = false;
  const cols = (s.cols ?? []).flatMap((n) => ('ResTarget' in n ? [n.ResTarget] : []));
  t.insertColumns = s.cols === undefined ? null : cols.map((c) => c.name ?? '');
  // A value for a[1] or a.field is not the column's value.
  const partial = cols.map((c) => c.indirection !== undefined && c.indirection.length > 0);
  if (s.selectStmt === undefined) {
    t.insertColumns = []; // DEFAULT VALUES: one row, every column from its default
    t.insertRows = [[]];
    return t;
  }
  if ('SelectStmt' in s.selectStmt) {
    const sel = s.selectStmt.SelectStmt;
    // VALUES … ORDER BY/LIMIT inserts a subset of these rows, which resolve no wider than all of them.
    if (sel.valuesLists !== undefined && (sel.op === undefined || sel.op === 'SETOP_NONE')) {
      const rows: Slot[][] = [];
      for (const row of sel.valuesLists) {
        if (!('List' in row)) return t;
        rows.push((row.List.items ?? []).map((v, i) => (partial[i] === true ? { kind: 'unknown' } : slotOf(v))));
      }
      t.insertRows = rows;
    }
  }
  return t;
}

export function updateTarget(s: UpdateStmt): WriteTarget | null {
  if (s.relation === undefined) return null;
  const t = baseTarget(s.relation, 'update');
  t.where = whereConditions(s.whereClause, targetNamesOf(s.relation));
  t.setColumns = assignedColumns(s.targetList);
  return t;
}

export function deleteTarget(s: DeleteStmt): WriteTarget | null {
  if (s.relation === undefined) return null;
  const t = baseTarget(s.relation, 'delete');
  t.where = whereConditions(s.whereClause, targetNamesOf(s.relation));
  return t;
}

/**
 * MERGE changes matched rows (UPDATE/DELETE) and inserts unmatched source rows. The ON condition
 * bounds only the matched rows, so it is used only when every WHEN clause is WHEN MATCHED; an INSERT
 * or a WHEN NOT MATCHED BY SOURCE action can reach any partition.
 */
export function mergeTarget(s: MergeStmt): WriteTarget | null {
  if (s.relation === undefined) return null;
  const t = baseTarget(s.relation, 'merge');
  const clauses = (s.mergeWhenClauses ?? []).flatMap((n) => ('MergeWhenClause' in n ? [n.MergeWhenClause] : []));
  const set: string[] = [];
  for (const c of clauses) if (c.commandType === 'CMD_UPDATE') for (const col of assignedColumns(c.targetList)) if (!set.includes(col)) set.push(col);
  t.setColumns = set;
  const onlyMatched = clauses.length > 0 && clauses.every((c) => c.matchKind === 'MERGE_WHEN_MATCHED');
  if (onlyMatched) t.where = whereConditions(s.joinCondition, targetNamesOf(s.relation));
  return t;
}

export function copyFromTarget(s: CopyStmt): WriteTarget | null {
  if (s.relation === undefined) return null;
  const t = baseTarget(s.relation, 'copy');
  t.only = false; // COPY FROM routes each row like INSERT
  if (s.attlist !== undefined) t.insertColumns = stringList(s.attlist);
  return t;
}

export function truncateTargets(s: TruncateStmt): WriteTarget[] {
  return (s.relations ?? []).flatMap((n) => ('RangeVar' in n ? [baseTarget(n.RangeVar, 'truncate')] : []));
}

export function nestedWriteTarget(w: NestedWrite): WriteTarget | null {
  if ('InsertStmt' in w) return insertTarget(w.InsertStmt);
  if ('UpdateStmt' in w) return updateTarget(w.UpdateStmt);
  if ('DeleteStmt' in w) return deleteTarget(w.DeleteStmt);
  return mergeTarget(w.MergeStmt);
}
