import { describe, expect, it } from 'vitest';
import type { VerifyResult } from '../../backup/verify.js';
import { formatVerifyTable } from './verify.js';

describe('formatVerifyTable', () => {
  it('aligns columns and says which check failed', () => {
    const r: VerifyResult = {
      runId: '20261124T081500Z-1a2b',
      ok: false,
      partitions: [
        { partition: 'public.orders_eu', status: 'ok', reason: null, expected: { rows: 10, checksum: 'a', sha256: 's' }, actual: { rows: 10, checksum: 'a', sha256: 's' }, durationMs: 1 },
        { partition: 'public.orders_us', status: 'mismatch', reason: 'rows 9 != 10; content checksum differs', expected: { rows: 10, checksum: 'a', sha256: 's' }, actual: { rows: 9, checksum: 'b', sha256: 's' }, durationMs: 1 },
        { partition: 'public.orders_apac', status: 'skipped', reason: 'backup failed: lock', expected: { rows: null, checksum: null, sha256: null }, actual: { rows: null, checksum: null, sha256: null }, durationMs: 0 },
      ],
    };
    const lines = formatVerifyTable(r).split('\n');
    expect(lines[0]).toMatch(/^partition\s+status\s+rows \(manifest\)\s+rows \(restored\)\s+checksum\s+reason$/);
    expect(lines[2]).toMatch(/^public\.orders_eu\s+ok\s+10\s+10\s+match$/);
    expect(lines[3]).toMatch(/mismatch\s+10\s+9\s+DIFFERS\s+rows 9 != 10/);
    expect(lines[4]).toMatch(/skipped\s+-\s+-\s+-\s+backup failed: lock/);
    expect(lines.at(-1)).toBe('run 20261124T081500Z-1a2b: FAILED');
    // the status column starts at the same offset in every row
    const col = lines[0]!.indexOf('status');
    for (const l of lines.slice(2, 5)) expect(l.slice(col)).toMatch(/^(ok|mismatch|skipped)/);
  });
});
