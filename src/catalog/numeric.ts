/**
 * numeric values as exact decimals: a BigInt mantissa and a decimal scale, plus PostgreSQL's special
 * values. Order follows numeric_cmp: -Infinity < every finite value < +Infinity < NaN.
 */

export type Numeric =
  | { kind: 'finite'; mantissa: bigint; scale: number }
  | { kind: 'nan' }
  | { kind: 'inf'; negative: boolean };

const NUMERIC_TEXT = /^\s*([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?\s*$/;

/** numeric_in for the decimal forms; the PostgreSQL 16 hex/octal/binary/underscore forms return undefined. */
export function parseNumeric(text: string): Numeric | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'nan') return { kind: 'nan' };
  if (t === 'infinity' || t === '+infinity' || t === 'inf' || t === '+inf') return { kind: 'inf', negative: false };
  if (t === '-infinity' || t === '-inf') return { kind: 'inf', negative: true };
  const m = NUMERIC_TEXT.exec(text);
  if (!m) return undefined;
  const [, sign = '', body = '', exp] = m;
  const dot = body.indexOf('.');
  const digits = dot < 0 ? body : body.slice(0, dot) + body.slice(dot + 1);
  let scale = dot < 0 ? 0 : body.length - dot - 1;
  if (exp !== undefined) {
    const e = Number(exp);
    // numeric_in rejects exponents beyond this; a value the server rejects writes nothing.
    if (!Number.isSafeInteger(e) || Math.abs(e) > 1000) return undefined;
    scale -= e;
  }
  let mantissa = BigInt(digits);
  if (scale < 0) {
    mantissa *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { kind: 'finite', mantissa: sign === '-' ? -mantissa : mantissa, scale };
}

function rank(n: Numeric): number {
  if (n.kind === 'nan') return 3;
  if (n.kind === 'inf') return n.negative ? 0 : 2;
  return 1;
}

export function compareNumeric(a: Numeric, b: Numeric): number {
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb || a.kind !== 'finite' || b.kind !== 'finite') return ra - rb;
  const scale = Math.max(a.scale, b.scale);
  const x = a.mantissa * 10n ** BigInt(scale - a.scale);
  const y = b.mantissa * 10n ** BigInt(scale - b.scale);
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * The scale a numeric(p,s) typmod imposes on stored values, or undefined for unconstrained numeric.
 * PostgreSQL 15 packs a signed 11-bit scale; older servers' non-negative scales decode the same.
 */
export function numericTypmodScale(typmod: number): number | undefined {
  if (typmod < 4) return undefined;
  return (((typmod - 4) & 0x7ff) ^ 1024) - 1024;
}

/** apply_typmod's rounding: half away from zero to the column's scale, as an INSERT stores it. */
export function roundNumeric(n: Numeric, scale: number): Numeric {
  if (n.kind !== 'finite' || n.scale <= scale) return n;
  const div = 10n ** BigInt(n.scale - scale);
  const neg = n.mantissa < 0n;
  const abs = neg ? -n.mantissa : n.mantissa;
  let q = abs / div;
  if ((abs % div) * 2n >= div) q += 1n;
  if (scale < 0) return { kind: 'finite', mantissa: (neg ? -q : q) * 10n ** BigInt(-scale), scale: 0 };
  return { kind: 'finite', mantissa: neg ? -q : q, scale };
}

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

/**
 * numeric_recv: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then ndigits base-10000
 * digits, the first of weight `weight`. https://www.postgresql.org/docs/current/protocol-overview.html
 */
export function decodeNumericBinary(buf: Buffer): Numeric | undefined {
  if (buf.length < 8) return undefined;
  const ndigits = buf.readInt16BE(0);
  const weight = buf.readInt16BE(2);
  const sign = buf.readUInt16BE(4);
  if (ndigits < 0 || buf.length !== 8 + 2 * ndigits) return undefined;
  if (sign === NUMERIC_NAN) return { kind: 'nan' };
  if (sign === NUMERIC_PINF) return { kind: 'inf', negative: false };
  if (sign === NUMERIC_NINF) return { kind: 'inf', negative: true };
  if (sign !== NUMERIC_POS && sign !== NUMERIC_NEG) return undefined;
  let mantissa = 0n;
  for (let i = 0; i < ndigits; i++) {
    const d = buf.readInt16BE(8 + 2 * i);
    if (d < 0 || d > 9999) return undefined;
    mantissa = mantissa * 10000n + BigInt(d);
  }
  // The last digit has weight (weight - ndigits + 1) in base 10000.
  const lastWeight = weight - ndigits + 1;
  let scale = 0;
  if (lastWeight >= 0) mantissa *= 10000n ** BigInt(lastWeight);
  else scale = -lastWeight * 4;
  return { kind: 'finite', mantissa: sign === NUMERIC_NEG ? -mantissa : mantissa, scale };
}
