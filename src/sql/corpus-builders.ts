/** Short builders for expected classifications in the corpus (test support, not used at run time). */
import type { ClassifiedStatement, ColumnCondition, Slot, TableRef, WriteCommand, WriteTarget } from './types.js';

export interface CorpusCase {
  sql: string;
  /** Expected entries; location/length are checked only when given. */
  expect: ClassifiedStatement[];
}

/** 'events' or 'sales.events' (quote-free; pass an object for names with dots). */
export function tbl(name: string | TableRef): TableRef {
  if (typeof name !== 'string') return name;
  const dot = name.indexOf('.');
  return dot < 0 ? { schema: null, name } : { schema: name.slice(0, dot), name: name.slice(dot + 1) };
}

export const c = (value: string | null, cast?: string): Slot => (cast === undefined ? { kind: 'const', value } : { kind: 'const', value, cast });
export const p = (index: number, cast?: string): Slot => (cast === undefined ? { kind: 'param', index } : { kind: 'param', index, cast });
export const DEF: Slot = { kind: 'default' };
export const UNK: Slot = { kind: 'unknown' };

export const eq = (...values: Slot[]): ColumnCondition => ({ op: 'in', values });
type End = [Slot, boolean] | null;
export const range = (lo: End, hi: End): ColumnCondition => ({
  op: 'range',
  lo: lo === null ? null : { slot: lo[0], inclusive: lo[1] },
  hi: hi === null ? null : { slot: hi[0], inclusive: hi[1] },
});

export function target(command: WriteCommand, table: string | TableRef, more: Partial<WriteTarget> = {}): WriteTarget {
  return {
    table: tbl(table),
    command,
    insertColumns: null,
    insertRows: null,
    where: null,
    setColumns: [],
    only: false,
    ...more,
  };
}

export const ins = (table: string | TableRef, cols: string[] | null, rows: Slot[][] | null, more: Partial<WriteTarget> = {}): WriteTarget =>
  target('insert', table, { insertColumns: cols, insertRows: rows, ...more });
export const upd = (table: string | TableRef, set: string[], where: WriteTarget['where'], more: Partial<WriteTarget> = {}): WriteTarget =>
  target('update', table, { setColumns: set, where, ...more });
export const del = (table: string | TableRef, where: WriteTarget['where'], more: Partial<WriteTarget> = {}): WriteTarget =>
  target('delete', table, { where, ...more });

export const write = (targets: WriteTarget[], more: Partial<ClassifiedStatement> = {}): ClassifiedStatement => ({ kind: 'write', targets, ...more });
export const read = (more: Partial<ClassifiedStatement> = {}): ClassifiedStatement => ({ kind: 'read', targets: [], ...more });
export const other = (more: Partial<ClassifiedStatement> = {}): ClassifiedStatement => ({ kind: 'other', targets: [], ...more });
export const ddl = (tables: (string | TableRef)[], more: Partial<ClassifiedStatement> = {}): ClassifiedStatement => ({
  kind: 'ddl',
  targets: [],
  ddlTables: tables.map(tbl),
  ...more,
});
export const tx = (t: NonNullable<ClassifiedStatement['tx']>): ClassifiedStatement => ({ kind: 'tx', targets: [], tx: t });
export const UNPARSED: ClassifiedStatement = { kind: 'unparsed', targets: [] };
