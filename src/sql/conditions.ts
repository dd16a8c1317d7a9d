/**
 * WHERE (or MERGE … ON) → per-column conditions on the written table, for partition pruning in the
 * proxy. Only what every written row must satisfy is kept: the top-level AND terms, and ORs whose
 * every branch pins the same column to values. A column whose condition is unclear is left out,
 * which the catalog reads as "any value" (all partitions); never a narrower set than the server's.
 */
import type { A_Expr, Node, RangeVar } from 'libpg-query';
import { stringList } from './ast.js';
import { slotOf } from './slots.js';
import type { ColumnCondition, Slot } from './types.js';

/** How the statement names the written table, to tell its columns from other tables'. */
export interface TargetNames {
  alias: string | null;
  schema: string | null;
  name: string;
}

export function targetNamesOf(rv: RangeVar): TargetNames {
  return { alias: rv.alias?.aliasname ?? null, schema: rv.schemaname ?? null, name: rv.relname ?? '' };
}

type Conditions = Map<string, ColumnCondition>;
type Bound = { slot: Slot; inclusive: boolean };

/**
 * The column of the target table a ColumnRef names, or null. An unqualified name counts: if another
 * table in FROM/USING had the same column, the server would reject the statement as ambiguous.
 */
function targetColumn(node: Node | undefined, t: TargetNames): string | null {
  if (node === undefined || !('ColumnRef' in node)) return null;
  const fields = stringList(node.ColumnRef.fields);
  if (fields === null) return null; // t.* and the like
  const col = fields[fields.length - 1];
  if (col === undefined) return null;
  const qualifier = fields.slice(0, -1);
  if (qualifier.length === 0) return col;
  if (t.alias !== null) return qualifier.length === 1 && qualifier[0] === t.alias ? col : null;
  const rel = qualifier[qualifier.length - 1];
  const schema = qualifier.length >= 2 ? qualifier[qualifier.length - 2] : undefined;
  if (rel !== t.name) return null;
  if (schema !== undefined && t.schema !== null && schema !== t.schema) return null;
  return col;
}

/** `=` `<` `<=` `>` `>=` spelled plainly or as OPERATOR(pg_catalog.x); any other operator: null. */
function plainOperator(e: A_Expr): string | null {
  const name = stringList(e.name);
  if (name === null) return null;
  if (name.length === 1) return name[0] ?? null;
  if (name.length === 2 && name[0] === 'pg_catalog') return name[1] ?? null;
  return null;
}

const FLIPPED: Record<string, string> = { '=': '=', '<': '>', '<=': '>=', '>': '<', '>=': '<=' };

function isKnown(slot: Slot): boolean {
  return slot.kind === 'const' || slot.kind === 'param';
}

function valuesCondition(values: Slot[]): ColumnCondition | null {
  return values.length > 0 && values.every(isKnown) ? { op: 'in', values } : null;
}

/** col <op> value, with the column on either side. */
function comparison(e: A_Expr, t: TargetNames): [string, ColumnCondition] | null {
  const written = plainOperator(e);
  if (written === null || FLIPPED[written] === undefined) return null;
  let col = targetColumn(e.lexpr, t);
  let valueNode = e.rexpr;
  let op = written;
  if (col === null) {
    col = targetColumn(e.rexpr, t);
    valueNode = e.lexpr;
    op = FLIPPED[written] ?? written;
  }
  if (col === null) return null;
  const slot = slotOf(valueNode);
  if (!isKnown(slot)) return null;
  if (op === '=') return [col, { op: 'in', values: [slot] }];
  const bound: Bound = { slot, inclusive: op.endsWith('=') };
  const cond: ColumnCondition = op.startsWith('<') ? { op: 'range', lo: null, hi: bound } : { op: 'range', lo: bound, hi: null };
  return [col, cond];
}

/** (a, b) = (1, $2): the server expands it to a = 1 AND b = $2. */
function rowEquality(e: A_Expr, t: TargetNames, out: Conditions): void {
  if (plainOperator(e) !== '=' || e.lexpr === undefined || e.rexpr === undefined) return;
  if (!('RowExpr' in e.lexpr) || !('RowExpr' in e.rexpr)) return;
  const left = e.lexpr.RowExpr.args ?? [];
  const right = e.rexpr.RowExpr.args ?? [];
  if (left.length !== right.length) return;
  left.forEach((l, i) => {
    const col = targetColumn(l, t);
    const cond = valuesCondition([slotOf(right[i])]);
    if (col !== null && cond !== null) addCondition(out, col, cond);
  });
}

function aExprConditions(e: A_Expr, t: TargetNames, out: Conditions): void {
  switch (e.kind) {
    case 'AEXPR_OP': {
      const c = comparison(e, t);
      if (c !== null) addCondition(out, c[0], c[1]);
      else rowEquality(e, t, out);
      return;
    }
    case 'AEXPR_IN':
    case 'AEXPR_OP_ANY': {
      // col IN (…) and col = ANY(ARRAY[…]) are value lists. NOT IN arrives as IN with operator <>;
      // col = ANY($1) (one array value, elements unknown until Bind) is left out.
      const col = targetColumn(e.lexpr, t);
      if (col === null || plainOperator(e) !== '=' || e.rexpr === undefined) return;
      const r = e.rexpr;
      const items = e.kind === 'AEXPR_IN' ? ('List' in r ? r.List.items : undefined) : 'A_ArrayExpr' in r ? r.A_ArrayExpr.elements : undefined;
      const cond = items === undefined ? null : valuesCondition(items.map(slotOf));
      if (cond !== null) addCondition(out, col, cond);
      return;
    }
    case 'AEXPR_BETWEEN': {
      // BETWEEN SYMMETRIC is left out: which end is the lower one depends on the values.
      const col = targetColumn(e.lexpr, t);
      if (col === null || e.rexpr === undefined || !('List' in e.rexpr)) return;
      const [loNode, hiNode] = e.rexpr.List.items ?? [];
      const lo = slotOf(loNode);
      const hi = slotOf(hiNode);
      const cond: ColumnCondition = {
        op: 'range',
        lo: isKnown(lo) ? { slot: lo, inclusive: true } : null,
        hi: isKnown(hi) ? { slot: hi, inclusive: true } : null,
      };
      if (cond.lo !== null || cond.hi !== null) addCondition(out, col, cond);
      return;
    }
    default:
      return;
  }
}

/**
 * Both conditions hold for every row, so either alone is a sound answer; keep the narrower-looking
 * one (values over ranges, fewer values) and fill a range's open ends from the other range.
 */
function addCondition(out: Conditions, col: string, cond: ColumnCondition): void {
  const prev = out.get(col);
  if (prev === undefined) {
    out.set(col, cond);
    return;
  }
  if (prev.op === 'in') {
    if (cond.op === 'in' && cond.values.length < prev.values.length) out.set(col, cond);
    return;
  }
  if (cond.op === 'in') {
    out.set(col, cond);
    return;
  }
  out.set(col, { op: 'range', lo: prev.lo ?? cond.lo, hi: prev.hi ?? cond.hi });
}

/** OR: a column survives only if every branch pins it to values; the result is their union. */
function orConditions(branches: readonly Node[], t: TargetNames, out: Conditions): void {
  const each = branches.map((b) => {
    const m: Conditions = new Map();
    collect(b, t, m);
    return m;
  });
  const first = each[0];
  if (first === undefined) return;
  for (const col of first.keys()) {
    const values: Slot[] = [];
    let usable = true;
    for (const m of each) {
      const c = m.get(col);
      if (c === undefined || c.op !== 'in') {
        usable = false;
        break;
      }
      values.push(...c.values);
    }
    if (usable) addCondition(out, col, { op: 'in', values });
  }
}

function collect(node: Node | undefined, t: TargetNames, out: Conditions): void {
  if (node === undefined) return;
  if ('BoolExpr' in node) {
    const args = node.BoolExpr.args ?? [];
    if (node.BoolExpr.boolop === 'AND_EXPR') for (const a of args) collect(a, t, out);
    else if (node.BoolExpr.boolop === 'OR_EXPR') orConditions(args, t, out);
    else if (node.BoolExpr.boolop === 'NOT_EXPR') {
      const col = targetColumn(args[0], t); // WHERE NOT flag
      if (col !== null) addCondition(out, col, { op: 'in', values: [{ kind: 'const', value: 'false' }] });
    }
    return;
  }
  if ('A_Expr' in node) {
    aExprConditions(node.A_Expr, t, out);
    return;
  }
  if ('NullTest' in node) {
    const col = targetColumn(node.NullTest.arg, t);
    if (col !== null && node.NullTest.nulltesttype === 'IS_NULL') {
      addCondition(out, col, { op: 'in', values: [{ kind: 'const', value: null }] });
    }
    return;
  }
  if ('ColumnRef' in node) {
    const col = targetColumn(node, t); // WHERE flag
    if (col !== null) addCondition(out, col, { op: 'in', values: [{ kind: 'const', value: 'true' }] });
  }
}

/** Conditions per column of the target, or null when nothing usable was found. */
export function whereConditions(where: Node | undefined, t: TargetNames): Record<string, ColumnCondition> | null {
  const out: Conditions = new Map();
  collect(where, t, out);
  return out.size === 0 ? null : Object.fromEntries(out);
}
