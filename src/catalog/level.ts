/**
 * One level of a partition tree: the partitioned table's key and its children's bounds decoded into
 * key values, and the routing rules of PostgreSQL's get_partition_for_tuple applied to what is known
 * about a row's key (exact values, sets of values, or intervals).
 */
import { parseBound, type BoundDatum } from './bound-parser.js';
import { HASH_PARTITION_SEED, hashCombine64 } from './hash.js';
import { codecFor, type KeyCodec, type KeyValue } from './key-codec.js';
import type { KeyPartInfo, Strategy } from './model.js';

/** What is known about one key column: one of several values (points) or intervals. */
export type Item =
  | { kind: 'point'; value: KeyValue | null }
  | { kind: 'interval'; lo: KeyValue | null; loInc: boolean; hi: KeyValue | null; hiInc: boolean };
/** `any`: nothing known; `set`: the column's value is one of the items (an empty set matches no row). */
export type Constraint = { kind: 'any' } | { kind: 'set'; items: Item[] };

/** Beyond this many combinations of multi-column point values, resolve by the first column only. */
const MAX_COMBINATIONS = 256;

type RangeDatum = { kind: 'minvalue' } | { kind: 'maxvalue' } | { kind: 'value'; value: KeyValue };

type ChildBound<C> =
  | { kind: 'range'; child: C; lo: RangeDatum[]; hi: RangeDatum[] }
  | { kind: 'list'; child: C; values: KeyValue[]; acceptsNull: boolean }
  | { kind: 'hash'; child: C; modulus: number; remainder: number };

export interface LevelPart {
  info: KeyPartInfo;
  codec: KeyCodec | undefined;
}

export interface Level<C> {
  strategy: Strategy;
  parts: LevelPart[];
  /** Why this level cannot route (every child is then included), or null when it can. */
  unusable: string | null;
  bounds: ChildBound<C>[];
  /** Range bounds sorted by lower bound (they never overlap), for binary search. */
  sortedRanges: (ChildBound<C> & { kind: 'range' })[];
  /** List values by canonical key, and the partition accepting NULL. */
  listIndex: Map<string, C>;
  nullChild: C | null;
  defaultChild: C | null;
  children: C[];
  /** Position of each child, to return matches in catalog order without scanning every child. */
  childOrder: Map<C, number>;
}

class Unusable extends Error {}

function partUsable(part: KeyPartInfo, codec: KeyCodec | undefined, strategy: Strategy): string | null {
  if (part.column === null) return 'key expression';
  if (!codec) return `key type ${part.typeOid} not supported`;
  if (!part.defaultOpclass) return 'non-default operator class';
  if (strategy === 'hash' && !codec.hash) return `hash of type ${part.typeOid} not reproduced`;
  if (codec.family === 'text') {
    if (strategy === 'range' && !part.bytewiseOrder) return 'collation order may differ from byte order';
    if (!part.bytewiseEquality) return 'nondeterministic collation or non-UTF8 server';
  }
  return null;
}

function decodeBoundValue(d: BoundDatum, codec: KeyCodec): KeyValue {
  if (d.kind !== 'value') throw new Unusable('unexpected bound datum');
  // Bounds are read with TimeZone UTC and always carry an offset.
  const v = codec.fromText(d.text, { sessionOffsetSec: 0 });
  if (v?.kind !== 'point') throw new Unusable(`cannot read bound value ${JSON.stringify(d.text)}`);
  return v.value;
}

function rangeDatum(d: BoundDatum, codec: KeyCodec): RangeDatum {
  if (d.kind === 'minvalue' || d.kind === 'maxvalue') return { kind: d.kind };
  return { kind: 'value', value: decodeBoundValue(d, codec) };
}

/** Builds a level from the partitioned table's key and its children's bound texts. */
export function buildLevel<C>(strategy: Strategy, keyParts: KeyPartInfo[], children: { child: C; bound: string }[], hashVerified = true): Level<C> {
  const parts = keyParts.map((info) => ({ info, codec: codecFor(info.typeOid) }));
  const level: Level<C> = {
    strategy,
    parts,
    unusable: null,
    bounds: [],
    sortedRanges: [],
    listIndex: new Map(),
    nullChild: null,
    defaultChild: null,
    children: children.map((c) => c.child),
    childOrder: new Map(children.map((c, i) => [c.child, i])),
  };
  try {
    if (strategy === 'hash' && !hashVerified) throw new Unusable("the server's hash functions differ from hash.ts");
    for (const p of parts) {
      const why = partUsable(p.info, p.codec, strategy);
      if (why) throw new Unusable(why);
    }
    const codecs = parts.map((p) => p.codec!);
    for (const { child, bound } of children) {
      const b = parseBound(bound);
      if (b.kind === 'default') {
        level.defaultChild = child;
      } else if (b.kind === 'range' && strategy === 'range') {
        if (b.from.length !== codecs.length || b.to.length !== codecs.length) throw new Unusable('bound arity');
        level.bounds.push({ kind: 'range', child, lo: b.from.map((d, i) => rangeDatum(d, codecs[i]!)), hi: b.to.map((d, i) => rangeDatum(d, codecs[i]!)) });
      } else if (b.kind === 'list' && strategy === 'list') {
        const values = b.values.filter((d) => d.kind !== 'null').map((d) => decodeBoundValue(d, codecs[0]!));
        level.bounds.push({ kind: 'list', child, values, acceptsNull: b.values.some((d) => d.kind === 'null') });
      } else if (b.kind === 'hash' && strategy === 'hash') {
        level.bounds.push({ kind: 'hash', child, modulus: b.modulus, remainder: b.remainder });
      } else {
        throw new Unusable(`bound ${b.kind} under ${strategy} partitioning`);
      }
    }
    for (const b of level.bounds) {
      if (b.kind === 'range') level.sortedRanges.push(b);
      if (b.kind !== 'list') continue;
      if (b.acceptsNull) level.nullChild = b.child;
      for (const v of b.values) level.listIndex.set(canonicalKey(v), b.child);
    }
    level.sortedRanges.sort((x, y) => compareBounds(x.lo, y.lo, codecs));
  } catch (err) {
    // A table this resolver cannot read is still managed: every write to it counts for all children.
    level.unusable = err instanceof Error ? err.message : String(err);
    level.bounds = [];
    level.sortedRanges = [];
    level.listIndex.clear();
  }
  return level;
}

/**
 * A key that is equal for values the type's equality calls equal: numerics are normalised (1.50 =
 * 1.5); texts and uuids compare as bytes (list text keys need bytewise equality, checked above).
 */
function canonicalKey(v: KeyValue): string {
  if (Buffer.isBuffer(v)) return `b${v.toString('hex')}`;
  if (typeof v === 'object') {
    if (v.kind !== 'finite') return `n${v.kind}${v.kind === 'inf' && v.negative ? '-' : ''}`;
    let { mantissa, scale } = v;
    while (scale > 0 && mantissa % 10n === 0n) {
      mantissa /= 10n;
      scale--;
    }
    return `n${mantissa}e${scale}`;
  }
  return `${typeof v}${String(v)}`;
}

/** Orders two bounds (lower bounds of non-overlapping partitions): MINVALUE < values < MAXVALUE. */
function compareBounds(a: RangeDatum[], b: RangeDatum[], codecs: KeyCodec[]): number {
  const rank = (d: RangeDatum): number => (d.kind === 'minvalue' ? 0 : d.kind === 'value' ? 1 : 2);
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (rank(x) !== rank(y)) return rank(x) - rank(y);
    // After MINVALUE or MAXVALUE every later datum is the same kind: the bounds are equal.
    if (x.kind !== 'value' || y.kind !== 'value') return 0;
    const c = codecs[i]!.compare(x.value, y.value);
    if (c !== 0) return c;
  }
  return 0;
}

/** The range partition holding a tuple: the last lower bound ≤ tuple, if the tuple is below its upper bound. */
function findRange<C>(sorted: (ChildBound<C> & { kind: 'range' })[], tuple: KeyValue[], codecs: KeyCodec[]): C | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (compareBoundToTuple(sorted[mid]!.lo, tuple, codecs) <= 0) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  const b = sorted[found];
  return b && compareBoundToTuple(b.hi, tuple, codecs) > 0 ? b.child : undefined;
}

/** partition_rbound_datum_cmp: a bound against a key tuple (MINVALUE/MAXVALUE end the comparison). */
function compareBoundToTuple(bound: RangeDatum[], tuple: KeyValue[], codecs: KeyCodec[]): number {
  for (let i = 0; i < bound.length; i++) {
    const b = bound[i]!;
    if (b.kind === 'minvalue') return -1;
    if (b.kind === 'maxvalue') return 1;
    const c = codecs[i]!.compare(b.value, tuple[i]!);
    if (c !== 0) return c;
  }
  return 0;
}

function* combinations(sets: (KeyValue | null)[][]): Generator<(KeyValue | null)[]> {
  const idx = sets.map(() => 0);
  if (sets.some((s) => s.length === 0)) return;
  for (;;) {
    yield sets.map((s, i) => s[idx[i]!]!);
    let k = sets.length - 1;
    while (k >= 0 && ++idx[k]! >= sets[k]!.length) idx[k--] = 0;
    if (k < 0) return;
  }
}

/** The span of first-column values a range partition can hold. */
function firstColumnSpan(lo: RangeDatum[], hi: RangeDatum[]): Item & { kind: 'interval' } {
  const l = lo[0]!;
  const h = hi[0]!;
  const multi = lo.length > 1;
  return {
    kind: 'interval',
    lo: l.kind === 'value' ? l.value : null,
    // (5, MAXVALUE) as a lower bound admits only first-column values above 5.
    loInc: !(multi && lo[1]!.kind === 'maxvalue'),
    hi: h.kind === 'value' ? h.value : null,
    // The upper bound is exclusive, but (10, 3) still admits first-column value 10 (with smaller second values).
    hiInc: multi && hi[1]!.kind !== 'minvalue',
  };
}

function intersects(a: Item & { kind: 'interval' }, b: Item & { kind: 'interval' }, codec: KeyCodec): boolean {
  const below = (lo: KeyValue | null, loInc: boolean, hi: KeyValue | null, hiInc: boolean): boolean => {
    if (lo === null || hi === null) return false;
    const c = codec.compare(lo, hi);
    return c > 0 || (c === 0 && !(loInc && hiInc));
  };
  return !below(a.lo, a.loInc, b.hi, b.hiInc) && !below(b.lo, b.loInc, a.hi, a.hiInc);
}

const asInterval = (it: Item): (Item & { kind: 'interval' }) | null =>
  it.kind === 'interval' ? it : it.value === null ? null : { kind: 'interval', lo: it.value, loInc: true, hi: it.value, hiInc: true };

/** Whether one-column range bounds leave no gap inside the interval (else the DEFAULT partition may get rows). */
function covered<C>(it: Item & { kind: 'interval' }, ranges: ChildBound<C>[], codec: KeyCodec): boolean {
  let lo = it.lo;
  let loInc = it.loInc;
  for (let step = 0; step <= ranges.length; step++) {
    const next = ranges.find((b) => {
      if (b.kind !== 'range') return false;
      const s = firstColumnSpan(b.lo, b.hi);
      const startsBefore = s.lo === null || (lo !== null && (codec.compare(s.lo, lo) < 0 || (codec.compare(s.lo, lo) === 0 && (s.loInc || !loInc))));
      const endsAfter = s.hi === null || lo === null || codec.compare(lo, s.hi) < 0;
      return startsBefore && endsAfter;
    });
    if (!next || next.kind !== 'range') return false;
    const hi = firstColumnSpan(next.lo, next.hi).hi;
    if (hi === null) return true;
    if (it.hi !== null) {
      const c = codec.compare(hi, it.hi);
      if (c > 0 || (c === 0 && !it.hiInc)) return true;
    }
    lo = hi;
    loInc = true;
  }
  return false;
}

/**
 * The children a row (or set of rows) with the given key knowledge can be in. Never fewer than the
 * server could choose: whatever is not decided exactly widens to more children.
 */
export function matchLevel<C>(level: Level<C>, constraints: Constraint[]): C[] {
  if (level.unusable !== null || constraints.length === 0) return level.children;
  // Hash needs every column; list has one; range can still prune on its first column.
  if (level.strategy === 'hash' ? constraints.some((c) => c.kind === 'any') : constraints[0]!.kind === 'any') return level.children;
  const sets = constraints.map((c) => (c.kind === 'set' ? c : null));
  const codecs = level.parts.map((p) => p.codec!);
  const out = new Set<C>();
  const addDefault = (): void => {
    if (level.defaultChild !== null) out.add(level.defaultChild);
  };
  const allPoints = sets.every((s) => s !== null && s.items.every((it) => it.kind === 'point'));
  const combos = sets.reduce((n, s) => n * (s?.items.length ?? 0), 1);
  const pointSets = allPoints && combos <= MAX_COMBINATIONS ? sets.map((s) => s!.items.map((it) => (it as { value: KeyValue | null }).value)) : null;
  const first = sets[0]!;

  if (level.strategy === 'hash') {
    if (!pointSets) return level.children;
    for (const tuple of combinations(pointSets)) {
      // compute_partition_hash_value: NULL columns are skipped, the others' hashes combined in key order.
      let rowHash = 0n;
      tuple.forEach((v, i) => {
        if (v !== null) rowHash = hashCombine64(rowHash, codecs[i]!.hash!(v, HASH_PARTITION_SEED));
      });
      for (const b of level.bounds) if (b.kind === 'hash' && rowHash % BigInt(b.modulus) === BigInt(b.remainder)) out.add(b.child);
    }
  } else if (level.strategy === 'list') {
    const codec = codecs[0]!;
    for (const it of first.items) {
      if (it.kind === 'point') {
        const found = it.value === null ? level.nullChild : level.listIndex.get(canonicalKey(it.value));
        if (found !== null && found !== undefined) out.add(found);
        else addDefault();
      } else {
        for (const b of level.bounds) {
          if (b.kind === 'list' && b.values.some((v) => intersects(it, { kind: 'interval', lo: v, loInc: true, hi: v, hiInc: true }, codec))) out.add(b.child);
        }
        addDefault();
      }
    }
  } else if (pointSets) {
    for (const tuple of combinations(pointSets)) {
      // A NULL in any column of a range key can only go to the DEFAULT partition.
      const found = tuple.includes(null) ? undefined : findRange(level.sortedRanges, tuple as KeyValue[], codecs);
      if (found !== undefined) out.add(found);
      else addDefault();
    }
  } else {
    // Prune on the first key column only.
    const intervals = first.items.map(asInterval).filter((i) => i !== null);
    const ranges = level.bounds.filter((b) => b.kind === 'range');
    for (const b of ranges) {
      const span = firstColumnSpan(b.lo, b.hi);
      if (intervals.some((i) => intersects(i, span, codecs[0]!))) out.add(b.child);
    }
    // The DEFAULT partition holds what no other bound covers; with one key column that is exact.
    const single = level.parts.length === 1;
    if (!single || first.items.some((it) => it.kind === 'point' && it.value === null) || intervals.some((i) => !covered(i, ranges, codecs[0]!))) addDefault();
  }
  // Keep the catalog's child order so results are stable.
  return [...out].sort((a, b) => level.childOrder.get(a)! - level.childOrder.get(b)!);
}
