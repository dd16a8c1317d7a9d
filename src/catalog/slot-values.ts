/**
 * Turns the classifier's slots (literals, $n parameters, DEFAULT) and WHERE conditions into what the
 * resolver knows about a key column. Anything not decoded exactly becomes `any`, never a guess.
 */
import type { ColumnCondition, Slot } from '../sql/types.js';
import { utcOffsetOfZoneName } from './datetime.js';
import type { Decoded, KeyCodec, KeyValue } from './key-codec.js';
import type { Constraint, Item } from './level.js';
import type { ColumnDefault } from './model.js';

export interface BindParam {
  value: Buffer | null;
  /** 0 = text, 1 = binary */
  format: 0 | 1;
}

export interface SlotContext {
  params: ReadonlyArray<BindParam> | undefined;
  paramTypes: ReadonlyArray<number> | undefined;
  /** Fixed session offset (UTC sessions), or undefined when the TimeZone is unknown or a named zone. */
  sessionOffsetSec: number | undefined;
}

/** The decoded value of a slot: null for SQL NULL, undefined when unknown. */
export type SlotValue = Decoded | null | undefined;

export function sessionOffsetOf(timeZone: string | undefined): number | undefined {
  return timeZone === undefined ? undefined : utcOffsetOfZoneName(timeZone.replace(/^"|"$/g, ''));
}

function decodeParam(index: number, keyTypeOid: number, codec: KeyCodec, ctx: SlotContext): SlotValue {
  const p = ctx.params?.[index - 1];
  if (!p) return undefined; // not bound yet (classified at Parse): unknown
  if (p.value === null) return null;
  const declared = ctx.paramTypes?.[index - 1] ?? 0;
  // A parameter of another type is converted by the server with rules this resolver does not model.
  if (!codec.paramTypes.has(declared)) return undefined;
  if (p.format === 0) return codec.fromText(p.value.toString('utf8'), ctx);
  const v = codec.fromBinary(p.value, declared === 0 || declared === 705 ? keyTypeOid : declared);
  return v === undefined ? undefined : { kind: 'point', value: v };
}

export function decodeSlot(slot: Slot, keyTypeOid: number, codec: KeyCodec, columnDefault: ColumnDefault | undefined, ctx: SlotContext): SlotValue {
  switch (slot.kind) {
    case 'const':
      return slot.value === null ? null : codec.fromText(slot.value, ctx);
    case 'param':
      return decodeParam(slot.index, keyTypeOid, codec, ctx);
    case 'default':
      if (!columnDefault || columnDefault.kind === 'expr') return undefined;
      if (columnDefault.kind === 'null' || columnDefault.text === null) return null;
      // A stored constant default was coerced at CREATE time (timestamptz printed in UTC by the loader).
      return codec.fromText(columnDefault.text, { sessionOffsetSec: 0 });
    case 'unknown':
      return undefined;
  }
}

/** One INSERT value: what the column will store, after the column's typmod is applied. */
export function insertConstraint(v: SlotValue, codec: KeyCodec, typmod: number): Constraint {
  if (v === undefined) return { kind: 'any' };
  if (v === null) return { kind: 'set', items: [{ kind: 'point', value: null }] };
  if (v.kind === 'point') {
    const stored = codec.forInsert(v.value, typmod);
    return stored === undefined ? { kind: 'any' } : { kind: 'set', items: [{ kind: 'point', value: stored }] };
  }
  const lo = codec.forInsert(v.lo, typmod);
  const hi = codec.forInsert(v.hi, typmod);
  if (lo === undefined || hi === undefined) return { kind: 'any' };
  return { kind: 'set', items: [{ kind: 'interval', lo, loInc: true, hi, hiInc: true }] };
}

function endpoint(slot: Slot, side: 'lo' | 'hi', decode: (s: Slot) => SlotValue): { value: KeyValue | null; known: boolean } | 'never' {
  const v = decode(slot);
  if (v === undefined) return { value: null, known: false };
  if (v === null) return 'never'; // col < NULL is never true
  if (v.kind === 'point') return { value: v.value, known: true };
  return { value: side === 'lo' ? v.lo : v.hi, known: true };
}

/** A WHERE condition on a key column. `col = NULL` and `col < NULL` match no row, so they add nothing. */
export function whereConstraint(cond: ColumnCondition, decode: (s: Slot) => SlotValue): Constraint {
  if (cond.op === 'in') {
    const items: Item[] = [];
    for (const s of cond.values) {
      const v = decode(s);
      if (v === undefined) return { kind: 'any' };
      if (v === null) continue;
      items.push(v.kind === 'point' ? { kind: 'point', value: v.value } : { kind: 'interval', lo: v.lo, loInc: true, hi: v.hi, hiInc: true });
    }
    return { kind: 'set', items };
  }
  const lo = cond.lo ? endpoint(cond.lo.slot, 'lo', decode) : { value: null, known: false };
  const hi = cond.hi ? endpoint(cond.hi.slot, 'hi', decode) : { value: null, known: false };
  if (lo === 'never' || hi === 'never') return { kind: 'set', items: [] };
  if (!lo.known && !hi.known) return { kind: 'any' };
  return {
    kind: 'set',
    items: [
      {
        kind: 'interval',
        lo: lo.value,
        // A widened (time zone span) endpoint is kept inclusive: a little wider is always safe.
        loInc: cond.lo ? cond.lo.inclusive || !lo.known : true,
        hi: hi.value,
        hiInc: cond.hi ? cond.hi.inclusive || !hi.known : true,
      },
    ],
  };
}
