import { describe, expect, it } from 'vitest';
import { checksumSql, fold64 } from './checksum.js';

describe('checksum helpers', () => {
  it('folds signed sums into unsigned 64-bit hex', () => {
    expect(fold64('0')).toBe('0000000000000000');
    expect(fold64('-1')).toBe('ffffffffffffffff');
    expect(fold64((2n ** 64n + 5n).toString())).toBe('0000000000000005');
    expect(fold64((-(2n ** 70n) - 2n).toString())).toBe('fffffffffffffffe');
  });

  it('reads ONLY the quoted table', () => {
    const sql = checksumSql({ schema: 'S', name: 'a"b' });
    expect(sql).toContain('FROM ONLY "S"."a""b" AS t');
    expect(sql).toContain('ROW(t.*)::text');
  });
});
