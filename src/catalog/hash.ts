/**
 * PostgreSQL's hash partitioning, reproduced bit for bit so a hash-partitioned key resolves to the
 * exact partition the server picks. The functions mirror src/common/hashfn.c (Bob Jenkins' lookup3
 * as adapted by PostgreSQL), src/include/common/hashfn.h and the per-type `*extended` hash support
 * functions. All 32-bit arithmetic is done on JS numbers wrapped with `>>> 0`; 64-bit values are
 * BigInt.
 *
 * The byte-wise hash reads the key as little-endian 32-bit words, as the server does on
 * little-endian machines (x86-64, arm64): a big-endian server would place its partitions differently.
 */

/** partition.h: HASH_PARTITION_SEED, the seed every hash partition key is hashed with. */
export const HASH_PARTITION_SEED = 0x7a5b22367996dcfdn;

const U64 = (1n << 64n) - 1n;
const U32 = 0xffffffffn;

function rot(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** lookup3 state: three 32-bit words. */
interface State {
  a: number;
  b: number;
  c: number;
}

function mix(s: State): void {
  let { a, b, c } = s;
  a = (a - c) >>> 0; a = (a ^ rot(c, 4)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rot(a, 6)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rot(b, 8)) >>> 0; b = (b + a) >>> 0;
  a = (a - c) >>> 0; a = (a ^ rot(c, 16)) >>> 0; c = (c + b) >>> 0;
  b = (b - a) >>> 0; b = (b ^ rot(a, 19)) >>> 0; a = (a + c) >>> 0;
  c = (c - b) >>> 0; c = (c ^ rot(b, 4)) >>> 0; b = (b + a) >>> 0;
  s.a = a; s.b = b; s.c = c;
}

function final(s: State): void {
  let { a, b, c } = s;
  c = (c ^ b) >>> 0; c = (c - rot(b, 14)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rot(c, 11)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rot(a, 25)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 16)) >>> 0;
  a = (a ^ c) >>> 0; a = (a - rot(c, 4)) >>> 0;
  b = (b ^ a) >>> 0; b = (b - rot(a, 14)) >>> 0;
  c = (c ^ b) >>> 0; c = (c - rot(b, 24)) >>> 0;
  s.a = a; s.b = b; s.c = c;
}

function seeded(initial: number, seed: bigint): State {
  const s: State = { a: initial, b: initial, c: initial };
  if (seed !== 0n) {
    // The seed is hashed as if it were a leading 12-byte chunk (high word, low word, zero).
    s.a = (s.a + Number((seed >> 32n) & U32)) >>> 0;
    s.b = (s.b + Number(seed & U32)) >>> 0;
    mix(s);
  }
  return s;
}

function result64(s: State): bigint {
  return (BigInt(s.b) << 32n) | BigInt(s.c);
}

/** hashfn.c hash_bytes_extended: a 64-bit hash of a byte string with a 64-bit seed. */
export function hashBytesExtended(k: Uint8Array, seed: bigint): bigint {
  let len = k.length;
  const s = seeded((0x9e3779b9 + len + 3923095) >>> 0, seed);
  let o = 0;
  while (len >= 12) {
    s.a = (s.a + (k[o]! | (k[o + 1]! << 8) | (k[o + 2]! << 16) | (k[o + 3]! << 24))) >>> 0;
    s.b = (s.b + (k[o + 4]! | (k[o + 5]! << 8) | (k[o + 6]! << 16) | (k[o + 7]! << 24))) >>> 0;
    s.c = (s.c + (k[o + 8]! | (k[o + 9]! << 8) | (k[o + 10]! << 16) | (k[o + 11]! << 24))) >>> 0;
    mix(s);
    o += 12;
    len -= 12;
  }
  // The tail: the lowest byte of c is reserved for the length, so c takes bytes 9..11 shifted up.
  if (len >= 11) s.c = (s.c + (k[o + 10]! << 24)) >>> 0;
  if (len >= 10) s.c = (s.c + (k[o + 9]! << 16)) >>> 0;
  if (len >= 9) s.c = (s.c + (k[o + 8]! << 8)) >>> 0;
  if (len >= 8) s.b = (s.b + (k[o + 7]! << 24)) >>> 0;
  if (len >= 7) s.b = (s.b + (k[o + 6]! << 16)) >>> 0;
  if (len >= 6) s.b = (s.b + (k[o + 5]! << 8)) >>> 0;
  if (len >= 5) s.b = (s.b + k[o + 4]!) >>> 0;
  if (len >= 4) s.a = (s.a + (k[o + 3]! << 24)) >>> 0;
  if (len >= 3) s.a = (s.a + (k[o + 2]! << 16)) >>> 0;
  if (len >= 2) s.a = (s.a + (k[o + 1]! << 8)) >>> 0;
  if (len >= 1) s.a = (s.a + k[o]!) >>> 0;
  final(s);
  return result64(s);
}

/** hashfn.c hash_bytes_uint32_extended: the same hash of one 32-bit word, without touching memory. */
export function hashUint32Extended(k: number, seed: bigint): bigint {
  const s = seeded((0x9e3779b9 + 4 + 3923095) >>> 0, seed);
  s.a = (s.a + (k >>> 0)) >>> 0;
  final(s);
  return result64(s);
}

/** hashfunc.c hashint4extended (also int2 and date: they are widened to int32 first). */
export function hashInt4Extended(v: number, seed: bigint): bigint {
  return hashUint32Extended(v | 0, seed);
}

/**
 * hashfunc.c hashint8extended (also timestamp/timestamptz): folds the high half into the low half
 * so that int2/int4/int8 hash alike for equal values (cross-type hash joins).
 */
export function hashInt8Extended(v: bigint, seed: bigint): bigint {
  const u = BigInt.asUintN(64, v);
  let lo = Number(u & U32);
  const hi = Number(u >> 32n);
  lo = (lo ^ (v >= 0n ? hi : ~hi)) >>> 0;
  return hashUint32Extended(lo, seed);
}

/** hashfn.h hash_combine64: how the per-column hashes of a multi-column key are folded together. */
export function hashCombine64(a: bigint, b: bigint): bigint {
  const add = (b + 0x49a0f4dd15e5a8e3n + ((a << 54n) & U64) + (a >> 7n)) & U64;
  return (a ^ add) & U64;
}
