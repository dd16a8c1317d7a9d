import { describe, expect, test } from 'vitest';
import { MAX_WORKERS, workerOfSecret, workerSecret } from './cancel-key.js';

const int32 = (n: number): number => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n | 0, 0);
  return b.readInt32BE(0);
};

describe('worker cancel keys', () => {
  test('every slot survives the wire (int32, signed) and keeps the low bits of the server secret', () => {
    const secrets = [0, 1, -1, 0x7fffffff, -0x80000000, 0x12345678, -0x12345678, 0x00ffffff];
    for (let slot = 0; slot < MAX_WORKERS; slot++) {
      for (const s of secrets) {
        const k = workerSecret(slot, s);
        expect(int32(k)).toBe(k);
        expect(workerOfSecret(int32(k))).toBe(slot);
        expect(k & 0x00ffffff).toBe(s & 0x00ffffff);
      }
    }
  });

  test('two sessions of one worker with different server secrets get different keys', () => {
    expect(workerSecret(3, 0x10000001)).not.toBe(workerSecret(3, 0x10000002));
  });

  test('a slot outside the key is refused', () => {
    expect(() => workerSecret(MAX_WORKERS, 1)).toThrow(RangeError);
    expect(() => workerSecret(-1, 1)).toThrow(RangeError);
    expect(() => workerSecret(1.5, 1)).toThrow(RangeError);
  });

  test('any secret names some slot in range (a forged key is routed, then ignored there)', () => {
    for (const s of [0, -1, 0x7fffffff, -0x80000000]) {
      const w = workerOfSecret(s);
      expect(w).toBeGreaterThanOrEqual(0);
      expect(w).toBeLessThan(MAX_WORKERS);
    }
  });
});
