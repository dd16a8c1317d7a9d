/**
 * Per-type knowledge the resolver needs about a partition key column: how to read a value from its
 * text form (literals, bounds, text-format parameters) and from the binary wire format, how the
 * server orders it (the default btree opclass) and how it hashes it (the default hash opclass).
 * A type missing here makes its key resolve to every partition.
 */
import { parseDate, parseTimestamp, parseTimestamptz, roundTimestamp } from './datetime.js';
import { hashBytesExtended, hashInt4Extended, hashInt8Extended } from './hash.js';
import { compareNumeric, decodeNumericBinary, numericTypmodScale, parseNumeric, roundNumeric, type Numeric } from './numeric.js';

/** Type OIDs from pg_type.dat (stable across versions). */
export const TypeOid = {
  bool: 16,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  unknown: 705,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
} as const;

export type KeyValue = bigint | number | boolean | Buffer | Numeric;

/** A decoded value: one point, or (timestamptz in an unknown zone) every instant between lo and hi. */
export type Decoded = { kind: 'point'; value: KeyValue } | { kind: 'span'; lo: KeyValue; hi: KeyValue };

export interface DecodeContext {
  /** The session's fixed UTC offset in seconds, or undefined when the TimeZone is unknown or not fixed. */
  sessionOffsetSec: number | undefined;
}

export interface KeyCodec {
  readonly family: 'int' | 'numeric' | 'text' | 'date' | 'timestamp' | 'timestamptz' | 'uuid' | 'bool';
  /** Parameter types whose values mean the same thing for this key (0 = left to the server to infer). */
  readonly paramTypes: ReadonlySet<number>;
  fromText(text: string, ctx: DecodeContext): Decoded | undefined;
  /** Binary-format parameter of the given (declared or inferred) type. */
  fromBinary(buf: Buffer, typeOid: number): KeyValue | undefined;
  compare(a: KeyValue, b: KeyValue): number;
  /** The type's extended hash support function; absent when not reproduced. */
  hash?: (v: KeyValue, seed: bigint) => bigint;
  /** What an INSERT stores for this value in a column with this typmod (rounding, space trimming). */
  forInsert(v: KeyValue, typmod: number): KeyValue | undefined;
}

const point = (value: KeyValue | undefined): Decoded | undefined => (value === undefined ? undefined : { kind: 'point', value });
const cmp = <T extends bigint | number>(a: T, b: T): number => (a < b ? -1 : a > b ? 1 : 0);
const same = (v: KeyValue): KeyValue => v;

const INT_RANGE: Record<number, [bigint, bigint]> = {
  [TypeOid.int2]: [-(1n << 15n), (1n << 15n) - 1n],
  [TypeOid.int4]: [-(1n << 31n), (1n << 31n) - 1n],
  [TypeOid.int8]: [-(1n << 63n), (1n << 63n) - 1n],
};

function intCodec(typeOid: number): KeyCodec {
  const [min, max] = INT_RANGE[typeOid]!;
  const inRange = (v: bigint): bigint | undefined => (v >= min && v <= max ? v : undefined);
  return {
    family: 'int',
    paramTypes: new Set([0, TypeOid.unknown, TypeOid.int2, TypeOid.int4, TypeOid.int8]),
    fromText(text) {
      // int4in also takes hex/octal/binary and underscores from PostgreSQL 16 on: left undecoded.
      const m = /^\s*([+-]?\d+)\s*$/.exec(text);
      return m ? point(inRange(BigInt(m[1]!))) : undefined;
    },
    fromBinary(buf, oid) {
      if (oid === TypeOid.int2 && buf.length === 2) return BigInt(buf.readInt16BE(0));
      if (oid === TypeOid.int4 && buf.length === 4) return BigInt(buf.readInt32BE(0));
      if (oid === TypeOid.int8 && buf.length === 8) return buf.readBigInt64BE(0);
      return undefined;
    },
    compare: (a, b) => cmp(a as bigint, b as bigint),
    hash: typeOid === TypeOid.int8 ? (v, seed) => hashInt8Extended(v as bigint, seed) : (v, seed) => hashInt4Extended(Number(v as bigint), seed),
    forInsert: (v) => inRange(v as bigint),
  };
}

const numericCodec: KeyCodec = {
  family: 'numeric',
  paramTypes: new Set([0, TypeOid.unknown, TypeOid.numeric]),
  fromText: (text) => point(parseNumeric(text)),
  fromBinary: (buf, oid) => (oid === TypeOid.numeric ? decodeNumericBinary(buf) : undefined),
  compare: (a, b) => compareNumeric(a as Numeric, b as Numeric),
  forInsert(v, typmod) {
    const scale = numericTypmodScale(typmod);
    return scale === undefined ? v : roundNumeric(v as Numeric, scale);
  },
};

/** Byte order of UTF-8 equals code point order: this is the order of the C collation (and C.UTF-8). */
const textCodec: KeyCodec = {
  family: 'text',
  paramTypes: new Set([0, TypeOid.unknown, TypeOid.text, TypeOid.varchar]),
  fromText: (text) => point(Buffer.from(text, 'utf8')),
  fromBinary: (buf, oid) => (oid === TypeOid.text || oid === TypeOid.varchar || oid === TypeOid.unknown ? Buffer.from(buf) : undefined),
  compare: (a, b) => Buffer.compare(a as Buffer, b as Buffer),
  hash: (v, seed) => hashBytesExtended(v as Buffer, seed),
  forInsert(v, typmod) {
    if (typmod < 4) return v;
    // varchar(n): a longer value is an error unless the excess is spaces, which are cut off.
    const max = typmod - 4;
    const chars = Array.from((v as Buffer).toString('utf8'));
    if (chars.length <= max) return v;
    if (chars.slice(max).some((c) => c !== ' ')) return undefined;
    return Buffer.from(chars.slice(0, max).join(''), 'utf8');
  },
};

const dateCodec: KeyCodec = {
  family: 'date',
  paramTypes: new Set([0, TypeOid.unknown, TypeOid.date]),
  fromText: (text) => point(parseDate(text)),
  fromBinary: (buf, oid) => (oid === TypeOid.date && buf.length === 4 ? buf.readInt32BE(0) : undefined),
  compare: (a, b) => cmp(a as number, b as number),
  hash: (v, seed) => hashInt4Extended(v as number, seed),
  forInsert: same,
};

function timestampCodec(withZone: boolean): KeyCodec {
  const oid = withZone ? TypeOid.timestamptz : TypeOid.timestamp;
  return {
    family: withZone ? 'timestamptz' : 'timestamp',
    paramTypes: new Set([0, TypeOid.unknown, oid]),
    fromText(text, ctx) {
      if (!withZone) return point(parseTimestamp(text));
      const span = parseTimestamptz(text, ctx.sessionOffsetSec);
      if (!span) return undefined;
      return span.lo === span.hi ? { kind: 'point', value: span.lo } : { kind: 'span', lo: span.lo, hi: span.hi };
    },
    fromBinary: (buf, t) => (t === oid && buf.length === 8 ? buf.readBigInt64BE(0) : undefined),
    compare: (a, b) => cmp(a as bigint, b as bigint),
    hash: (v, seed) => hashInt8Extended(v as bigint, seed),
    forInsert: (v, typmod) => roundTimestamp(v as bigint, typmod),
  };
}

function parseUuid(text: string): Buffer | undefined {
  // uuid_in: optional braces, hyphens allowed between groups of four hex digits.
  const t = text.trim();
  const inner = t.startsWith('{') && t.endsWith('}') ? t.slice(1, -1) : t;
  if (!/^[0-9a-fA-F]{4}(-?[0-9a-fA-F]{4}){7}$/.test(inner)) return undefined;
  return Buffer.from(inner.replaceAll('-', ''), 'hex');
}

const uuidCodec: KeyCodec = {
  family: 'uuid',
  paramTypes: new Set([0, TypeOid.unknown, TypeOid.uuid]),
  fromText: (text) => point(parseUuid(text)),
  fromBinary: (buf, oid) => (oid === TypeOid.uuid && buf.length === 16 ? Buffer.from(buf) : undefined),
  compare: (a, b) => Buffer.compare(a as Buffer, b as Buffer),
  hash: (v, seed) => hashBytesExtended(v as Buffer, seed),
  forInsert: same,
};

const TRUE_WORDS = ['true', 'yes', 'on', '1'];
const FALSE_WORDS = ['false', 'no', 'off', '0'];

/** boolin: any unique prefix of true/false/yes/no (on/off need two letters), case-insensitive. */
export function parseBool(text: string): boolean | undefined {
  const t = text.trim().toLowerCase();
  if (t.length === 0) return undefined;
  const isPrefix = (w: string): boolean => w.startsWith(t) && (t.length >= 2 || (w !== 'on' && w !== 'off'));
  if (TRUE_WORDS.some(isPrefix)) return true;
  if (FALSE_WORDS.some(isPrefix)) return false;
  return undefined;
}

const boolCodec: KeyCodec = {
  family: 'bool',
  paramTypes: new Set([0, TypeOid.unknown, TypeOid.bool]),
  fromText: (text) => point(parseBool(text)),
  fromBinary: (buf, oid) => (oid === TypeOid.bool && buf.length === 1 ? buf[0] !== 0 : undefined),
  compare: (a, b) => Number(a as boolean) - Number(b as boolean),
  forInsert: same,
};

const CODECS = new Map<number, KeyCodec>([
  [TypeOid.int2, intCodec(TypeOid.int2)],
  [TypeOid.int4, intCodec(TypeOid.int4)],
  [TypeOid.int8, intCodec(TypeOid.int8)],
  [TypeOid.numeric, numericCodec],
  [TypeOid.text, textCodec],
  [TypeOid.varchar, textCodec],
  [TypeOid.date, dateCodec],
  [TypeOid.timestamp, timestampCodec(false)],
  [TypeOid.timestamptz, timestampCodec(true)],
  [TypeOid.uuid, uuidCodec],
  [TypeOid.bool, boolCodec],
]);

export function codecFor(typeOid: number): KeyCodec | undefined {
  return CODECS.get(typeOid);
}
