import { describe, expect, it } from 'vitest';
import { HASH_PARTITION_SEED as SEED, hashBytesExtended, hashCombine64, hashInt4Extended, hashInt8Extended } from './hash.js';

// Expected values were computed by PostgreSQL 15 (hashint4extended, hashint8extended,
// hashtextextended, uuid_hash_extended with seed 8816678312871386365 = HASH_PARTITION_SEED).
const signed = (v: bigint): bigint => BigInt.asIntN(64, v);

describe('PostgreSQL extended hash functions', () => {
  it('hashint4extended', () => {
    expect(signed(hashInt4Extended(5, SEED))).toBe(-2840406021921404358n);
    expect(signed(hashInt4Extended(-123456, SEED))).toBe(-2367713253115567299n);
  });

  it('hashint8extended folds the high half (sign-aware)', () => {
    expect(signed(hashInt8Extended(-9000000000n, SEED))).toBe(-3065023499747399874n);
    expect(signed(hashInt8Extended(77n, SEED))).toBe(-5881554419628224545n);
    // int8 values that fit in int4 hash like int4 (cross-type hash joins rely on it).
    expect(hashInt8Extended(5n, SEED)).toBe(hashInt4Extended(5, SEED));
    expect(hashInt8Extended(-123456n, SEED)).toBe(hashInt4Extended(-123456, SEED));
  });

  it('hash_bytes_extended over text and uuid bytes, every tail length', () => {
    expect(signed(hashBytesExtended(Buffer.from(''), SEED))).toBe(-5700645584453517373n);
    expect(signed(hashBytesExtended(Buffer.from('hello world, this is long'), SEED))).toBe(-4983889960940629687n);
    expect(signed(hashBytesExtended(Buffer.from('héllo'), 0n))).toBe(2465157995015290115n);
    expect(signed(hashBytesExtended(Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex'), SEED))).toBe(424513190990560493n);
  });

  it('hash_bytes_extended of 4 bytes equals hash_bytes_uint32_extended of the little-endian word', () => {
    const b = Buffer.alloc(4);
    b.writeInt32LE(-77);
    expect(hashBytesExtended(b, SEED)).toBe(hashInt4Extended(-77, SEED));
  });

  it('hash_combine64 starts from 0 and stays within 64 bits', () => {
    const h = hashInt4Extended(5, SEED);
    const once = hashCombine64(0n, h);
    expect(once).toBe((h + 0x49a0f4dd15e5a8e3n) & ((1n << 64n) - 1n));
    expect(hashCombine64(once, h) < 1n << 64n).toBe(true);
  });
});
