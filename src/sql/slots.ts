/** Turns a value expression from the parse tree into a Slot the catalog can resolve. */
import type { A_Const, Node } from 'libpg-query';
import { typeNameText } from './ast.js';
import type { Slot } from './types.js';

const UNKNOWN: Slot = { kind: 'unknown' };

const INTEGER = /^\s*[-+]?\d+\s*$/;
const DATE = /^\s*\d{4}-\d{2}-\d{2}\s*$/;
const TIMESTAMP = /^\s*\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?\s*$/;

/**
 * Whether `literal::type` is the value the literal's own text denotes, so that the catalog, reading
 * the text as the key column's type, gets what the server compares or stores. Casts that round or cut
 * (5.7::int is 6, '2026-01-01 10:00'::date is midnight, 'abcd'::varchar(3) is 'abc', a zone dropped by
 * ::timestamp) would otherwise send a row to a different partition than the one counted.
 */
function castKeepsLiteral(type: string, text: string): boolean {
  if (type.includes('(')) return false; // typmods round or truncate
  switch (type) {
    case 'int2':
    case 'int4':
    case 'int8':
      return INTEGER.test(text);
    case 'date':
      return DATE.test(text);
    case 'timestamp':
      return TIMESTAMP.test(text);
    default:
      return true;
  }
}

/**
 * The literal's text form, as the server would read it for the column's type; undefined for the
 * one literal whose text form differs from what it means (B'101' arrives as 'b101').
 */
function constText(c: A_Const): string | null | undefined {
  if (c.isnull === true) return null;
  if (c.ival !== undefined) return String(c.ival.ival ?? 0);
  if (c.fval !== undefined) return c.fval.fval ?? '0';
  if (c.sval !== undefined) return c.sval.sval ?? '';
  if (c.boolval !== undefined) return c.boolval.boolval === true ? 'true' : 'false';
  return undefined;
}

/**
 * A literal, a $n, DEFAULT, or either of the first two under one explicit cast. Anything else,
 * nested casts included (each may convert), is 'unknown': the catalog then falls back to every
 * partition, which is never fewer than the right one.
 */
export function slotOf(node: Node | undefined): Slot {
  if (node === undefined) return UNKNOWN;
  if ('A_Const' in node) {
    const value = constText(node.A_Const);
    return value === undefined ? UNKNOWN : { kind: 'const', value };
  }
  if ('ParamRef' in node) {
    const index = node.ParamRef.number ?? 0;
    return index > 0 ? { kind: 'param', index } : UNKNOWN;
  }
  if ('SetToDefault' in node) return { kind: 'default' };
  if ('TypeCast' in node) {
    const { arg, typeName } = node.TypeCast;
    if (arg === undefined || typeName === undefined) return UNKNOWN;
    const cast = typeNameText(typeName);
    if (cast === null) return UNKNOWN;
    if ('A_Const' in arg || 'ParamRef' in arg) {
      const inner = slotOf(arg);
      if (inner.kind === 'const' && inner.value !== null && !castKeepsLiteral(cast, inner.value)) return UNKNOWN;
      if (inner.kind === 'const' || inner.kind === 'param') return { ...inner, cast };
    }
    return UNKNOWN;
  }
  return UNKNOWN;
}
