/**
 * One parsed statement → ClassifiedStatement. The rule throughout: never under-classify. Anything
 * that changes rows and is visible in the text becomes a target; what is not visible is flagged.
 */
import type { ExplainStmt, FuncCall, Node } from 'libpg-query';
import { functionNameOf, tableRefOf } from './ast.js';
import { ddlTablesOf } from './ddl-tables.js';
import { searchPathChangeOf } from './search-path.js';
import { callChangesReadSetting, changesReadSetting, clusterTables, vacuumFullTables } from './session-reads.js';
import { slotOf } from './slots.js';
import { walkTree } from './tree-walk.js';
import { txControlOf } from './tx-control.js';
import type { ClassifiedStatement, StatementKind, WriteTarget } from './types.js';
import {
  copyFromTarget,
  deleteTarget,
  insertTarget,
  mergeTarget,
  nestedWriteTarget,
  truncateTargets,
  updateTarget,
} from './write-targets.js';

function simple(kind: StatementKind): ClassifiedStatement {
  return { kind, targets: [] };
}

/** set_config('search_path', …) (or with a name not known until run time) may change the path. */
function mayChangeSearchPath(call: FuncCall): boolean {
  const name = functionNameOf(call.funcname);
  if (name !== 'set_config' && name !== 'pg_catalog.set_config') return false;
  const first = call.args?.[0];
  const slot = slotOf(first);
  return slot.kind !== 'const' || (slot.value ?? '').toLowerCase() === 'search_path';
}

/**
 * Statements that run queries: `own` are the statement's own targets; the walk adds data-modifying
 * statements nested anywhere (WITH, COPY (…) TO) and every function called.
 */
function runsQuery(body: unknown, own: WriteTarget[], readKind: StatementKind): ClassifiedStatement {
  const found = walkTree(body);
  const targets = [...own];
  for (const w of found.writes) {
    const t = nestedWriteTarget(w);
    if (t !== null) targets.push(t);
  }
  const out: ClassifiedStatement = { kind: targets.length > 0 ? 'write' : readKind, targets };
  const functions: string[] = [];
  for (const call of found.calls) {
    const name = functionNameOf(call.funcname);
    if (name !== null && !functions.includes(name)) functions.push(name);
    if (mayChangeSearchPath(call)) out.searchPathUnknown = true;
    if (callChangesReadSetting(call)) out.settingChange = true;
  }
  if (functions.length > 0) out.functions = functions;
  return out;
}

function isAnalyze(s: ExplainStmt): boolean {
  for (const o of s.options ?? []) {
    if (!('DefElem' in o) || o.DefElem.defname !== 'analyze') continue;
    const arg = o.DefElem.arg;
    if (arg === undefined) return true;
    // EXPLAIN (ANALYZE off|false|0|no): boolean option spellings the server accepts.
    const v = 'String' in arg ? (arg.String.sval ?? '') : 'Integer' in arg ? String(arg.Integer.ival ?? 0) : 'true';
    return !['off', 'false', '0', 'no', 'of', 'f', 'n'].includes(v.toLowerCase());
  }
  return false;
}

function orNone<T>(t: T | null): T[] {
  return t === null ? [] : [t];
}

export function classifyNode(stmt: Node): ClassifiedStatement {
  if ('SelectStmt' in stmt) {
    const into = stmt.SelectStmt.intoClause?.rel;
    if (into === undefined) return runsQuery(stmt.SelectStmt, [], 'read');
    const out = runsQuery(stmt.SelectStmt, [], 'ddl'); // SELECT … INTO creates a table
    out.ddlTables = [tableRefOf(into)];
    return out;
  }
  if ('InsertStmt' in stmt) return runsQuery(stmt.InsertStmt, orNone(insertTarget(stmt.InsertStmt)), 'read');
  if ('UpdateStmt' in stmt) return runsQuery(stmt.UpdateStmt, orNone(updateTarget(stmt.UpdateStmt)), 'read');
  if ('DeleteStmt' in stmt) return runsQuery(stmt.DeleteStmt, orNone(deleteTarget(stmt.DeleteStmt)), 'read');
  if ('MergeStmt' in stmt) return runsQuery(stmt.MergeStmt, orNone(mergeTarget(stmt.MergeStmt)), 'read');
  if ('CopyStmt' in stmt) {
    const s = stmt.CopyStmt;
    if (s.is_from === true) return runsQuery(s.whereClause, orNone(copyFromTarget(s)), 'read');
    return s.query === undefined ? simple('read') : runsQuery(s.query, [], 'read'); // COPY (DELETE … RETURNING) TO writes
  }
  if ('TruncateStmt' in stmt) {
    const out: ClassifiedStatement = { kind: 'write', targets: truncateTargets(stmt.TruncateStmt) };
    if (stmt.TruncateStmt.behavior === 'DROP_CASCADE') out.unseen = ['truncate_cascade'];
    return out;
  }
  if ('ExplainStmt' in stmt) {
    const q = stmt.ExplainStmt.query;
    // Plain EXPLAIN plans without running anything, functions included.
    return q !== undefined && isAnalyze(stmt.ExplainStmt) ? classifyNode(q) : simple('read');
  }
  if ('TransactionStmt' in stmt) {
    const tx = txControlOf(stmt.TransactionStmt);
    return tx === null ? simple('other') : { kind: 'tx', targets: [], tx };
  }
  if ('VariableSetStmt' in stmt) {
    const change = searchPathChangeOf(stmt.VariableSetStmt);
    const out: ClassifiedStatement = change === null ? simple('other') : { kind: 'other', targets: [], ...change };
    if (changesReadSetting(stmt.VariableSetStmt)) out.settingChange = true;
    return out;
  }
  if ('ClusterStmt' in stmt) return { kind: 'other', targets: [], nonMvcc: clusterTables(stmt.ClusterStmt) };
  if ('VacuumStmt' in stmt) {
    const tables = vacuumFullTables(stmt.VacuumStmt);
    return tables === null ? simple('other') : { kind: 'other', targets: [], nonMvcc: tables };
  }
  if ('VariableShowStmt' in stmt) return simple('read');
  if ('DeclareCursorStmt' in stmt) return runsQuery(stmt.DeclareCursorStmt.query, [], 'read');
  if ('CallStmt' in stmt) {
    const call = stmt.CallStmt.funccall;
    const out = runsQuery(call?.args, [], 'other');
    const name = call === undefined ? null : functionNameOf(call.funcname);
    if (name !== null) out.functions = [name, ...(out.functions ?? []).filter((f) => f !== name)];
    if (out.kind === 'read') out.kind = 'other';
    return out;
  }
  if ('DoStmt' in stmt) return { kind: 'other', targets: [], unseen: ['do_block'] };
  if ('CreateTableAsStmt' in stmt) {
    const s = stmt.CreateTableAsStmt;
    const isTable = s.objtype !== 'OBJECT_MATVIEW';
    const out = runsQuery(s.query, [], isTable ? 'ddl' : 'other');
    if (isTable && s.into?.rel !== undefined) out.ddlTables = [tableRefOf(s.into.rel)];
    return out;
  }
  if ('PrepareStmt' in stmt) {
    const { name, query } = stmt.PrepareStmt;
    const out = simple('other');
    if (name !== undefined && query !== undefined) out.prepare = { name, statement: classifyNode(query) };
    return out;
  }
  if ('ExecuteStmt' in stmt) {
    const s = stmt.ExecuteStmt;
    const out = runsQuery(s.params, [], 'other');
    if (out.kind === 'read') out.kind = 'other';
    out.unseen = ['sql_execute'];
    out.execute = { name: s.name ?? '', params: (s.params ?? []).map(slotOf) };
    return out;
  }
  if ('DeallocateStmt' in stmt) {
    const s = stmt.DeallocateStmt;
    return { kind: 'other', targets: [], deallocate: s.isall === true ? null : (s.name ?? null) };
  }
  if ('DiscardStmt' in stmt) {
    // DISCARD ALL includes RESET ALL and DEALLOCATE ALL.
    return stmt.DiscardStmt.target === 'DISCARD_ALL' ? { kind: 'other', targets: [], searchPath: null, deallocate: null, settingChange: true } : simple('other');
  }
  const ddlTables = ddlTablesOf(stmt);
  if (ddlTables !== null) return { kind: 'ddl', targets: [], ddlTables };
  return simple('other');
}
