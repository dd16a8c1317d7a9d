/**
 * Settings that change how the server reads SQL text or key literals: lexing
 * (standard_conforming_strings, backslash_quote), decoding (client_encoding) and date/time input
 * (DateStyle, IntervalStyle, TimeZone). A statement that may change one makes the rest of its
 * request unreadable to the proxy until the server reports the new values (ParameterStatus).
 */
import type { ClusterStmt, FuncCall, VacuumStmt, VariableSetStmt } from 'libpg-query';
import { functionNameOf, tableRefOf } from './ast.js';
import { slotOf } from './slots.js';
import type { TableRef } from './types.js';

const READ_SETTINGS = new Set(['standard_conforming_strings', 'backslash_quote', 'client_encoding', 'datestyle', 'intervalstyle', 'timezone']);

/** SET/RESET of one of them, or RESET ALL. */
export function changesReadSetting(s: VariableSetStmt): boolean {
  if (s.kind === 'VAR_RESET_ALL') return true;
  return s.name !== undefined && READ_SETTINGS.has(s.name.toLowerCase());
}

/** set_config(name, …) with one of them, or with a name not known until run time. */
export function callChangesReadSetting(call: FuncCall): boolean {
  const name = functionNameOf(call.funcname);
  if (name !== 'set_config' && name !== 'pg_catalog.set_config') return false;
  const slot = slotOf(call.args?.[0]);
  return slot.kind !== 'const' || READ_SETTINGS.has((slot.value ?? '').toLowerCase());
}

/**
 * Tables CLUSTER and VACUUM FULL rewrite (not MVCC-safe: a snapshot older than the rewrite sees the
 * table empty): [] when they name none (every table the role owns); null for statements that do not.
 */
export function clusterTables(s: ClusterStmt): TableRef[] {
  return s.relation === undefined ? [] : [tableRefOf(s.relation)];
}

export function vacuumFullTables(s: VacuumStmt): TableRef[] | null {
  if (s.is_vacuumcmd !== true) return null; // ANALYZE
  const full = (s.options ?? []).some((o) => {
    if (!('DefElem' in o) || o.DefElem.defname !== 'full') return false;
    const arg = o.DefElem.arg;
    if (arg === undefined) return true;
    const v = 'String' in arg ? (arg.String.sval ?? '') : 'Integer' in arg ? String(arg.Integer.ival ?? 0) : 'true';
    return !['off', 'false', '0', 'no'].includes(v.toLowerCase());
  });
  if (!full) return null;
  const out: TableRef[] = [];
  for (const r of s.rels ?? []) if ('VacuumRelation' in r && r.VacuumRelation.relation !== undefined) out.push(tableRefOf(r.VacuumRelation.relation));
  return out;
}
