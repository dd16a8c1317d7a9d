import { describe, expect, it } from 'vitest';
import { pgDumpArgs, pgDumpInvocation } from './pg-dump.js';
import { targetFromUrl } from './pg-target.js';

const base = { snapshotId: '00000003-00022161-1', compression: 6, lockWaitTimeoutMs: 5000, outFile: '/b/r/public.x.dump.partial' };

describe('pgDumpArgs', () => {
  it('builds the argument array with every table as a literal pattern', () => {
    const args = pgDumpArgs({ ...base, tables: [{ schema: 'public', name: 'orders' }, { schema: 'public', name: 'orders_eu' }] });
    expect(args).toEqual([
      '--format=custom',
      '--compress=6',
      '--snapshot=00000003-00022161-1',
      '--lock-wait-timeout=5000',
      '--load-via-partition-root',
      '--strict-names',
      '--no-password',
      '--file=/b/r/public.x.dump.partial',
      '--table="public"."orders"',
      '--table="public"."orders_eu"',
    ]);
  });

  it('rejects what could smuggle options or SQL', () => {
    expect(() => pgDumpArgs({ ...base, tables: [], snapshotId: "1'; DROP" })).toThrow(/snapshot/);
    expect(() => pgDumpArgs({ ...base, tables: [], outFile: '-x.dump' })).toThrow(/absolute/);
    expect(() => pgDumpArgs({ ...base, tables: [], compression: 10 })).toThrow(/compression/);
    expect(() => pgDumpArgs({ ...base, tables: [], lockWaitTimeoutMs: 0 })).toThrow(/lockWait/);
  });

  it('carries the password in the environment only', () => {
    const target = targetFromUrl('postgres://admin:s3cr%40t@db.example:5433/app', { env: {} });
    const inv = pgDumpInvocation({ target, snapshotId: base.snapshotId, partition: { schema: 'public', name: 'x' }, dir: '/b/r', compression: 1, lockWaitTimeoutMs: 100, pgDumpBin: '/bin/pg_dump' }, [{ schema: 'public', name: 'x' }], base.outFile);
    expect(inv.args.some((a) => a.includes('s3cr@t') || a.includes('s3cr%40t') || a.includes('admin') || a.includes('db.example'))).toBe(false);
    expect(inv.env).toMatchObject({ PGPASSWORD: 's3cr@t', PGUSER: 'admin', PGHOST: 'db.example', PGPORT: '5433', PGDATABASE: 'app' });
  });
});
