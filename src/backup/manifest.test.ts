import { mkdtemp, readFile, rm, stat, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestEntry, type WindowFacts } from './capture.js';
import { CHECKSUM_ALGORITHM } from './checksum.js';
import { finishManifest, ManifestError, newManifest, overallStatus, readManifest, RunManifest, upsertPartition, writeManifest } from './manifest.js';

const leaf = { schema: 'public', name: 'orders_eu' };
const w: WindowFacts = {
  group: 'public.orders_eu',
  snapshotId: '00000003-00022161-1',
  cutAt: new Date('2026-11-24T08:15:00.500Z'),
  windowStart: new Date('2026-11-24T08:15:00.000Z'),
  windowEnd: new Date('2026-11-24T08:15:00.520Z'),
  walLsn: '0/16B3748',
  held: 12,
  rejected: 0,
  windowMs: 520,
};
const good = manifestEntry(
  leaf,
  {
    status: 'good',
    dump: { file: '/b/r/public.orders_eu.dump', fileName: 'public.orders_eu.dump', bytes: 1234, sha256: 'a'.repeat(64), durationMs: 80, pgDumpVersion: 'pg_dump (PostgreSQL) 15.18', tables: [{ schema: 'public', name: 'orders' }, leaf] },
    checksum: { rows: 10, checksum: '0'.repeat(32), algorithm: CHECKSUM_ALGORITHM, durationMs: 3 },
  },
  w,
);
const src = { host: '127.0.0.1', port: 5432, database: 'demo' };

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quietcut-manifest-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('manifest', () => {
  it('has every field the issue lists for a good partition', () => {
    expect(good).toMatchObject({
      partition: 'public.orders_eu',
      group: 'public.orders_eu',
      status: 'good',
      reason: null,
      cutAt: '2026-11-24T08:15:00.500Z',
      windowStart: '2026-11-24T08:15:00.000Z',
      windowEnd: '2026-11-24T08:15:00.520Z',
      snapshotId: '00000003-00022161-1',
      walLsn: '0/16B3748',
      held: 12,
      rejected: 0,
      rows: 10,
      checksum: '0'.repeat(32),
      bytes: 1234,
      sha256: 'a'.repeat(64),
      pgDumpVersion: 'pg_dump (PostgreSQL) 15.18',
      durations: { windowMs: 520, dumpMs: 80, checksumMs: 3 },
      file: 'public.orders_eu.dump',
    });
  });

  it('a failed entry carries its reason and no artifact', () => {
    const failed = manifestEntry(leaf, { status: 'aborted', reason: 'budget exceeded', dumpMs: 5000, checksum: null }, w);
    const m = upsertPartition(newManifest({ runId: 'r', node: 'n', trigger: 'manual', source: src }), failed);
    expect(m.partitions[0]).toMatchObject({ status: 'aborted', reason: 'budget exceeded', file: null, sha256: null });
    expect(finishManifest(m).status).toBe('aborted');
  });

  it('refuses a good entry without what verify needs', () => {
    const m = newManifest({ runId: 'r', node: 'n', trigger: 'manual', source: src });
    expect(() => upsertPartition(m, { ...good, sha256: 'short' } as never)).toThrow(ManifestError);
    expect(() => upsertPartition(m, { ...good, file: '../etc/passwd.dump' } as never)).toThrow(ManifestError);
  });

  it('overall status: aborted beats failed beats good', () => {
    const m0 = newManifest({ runId: 'r', node: 'n', trigger: 'manual', source: src });
    const m1 = upsertPartition(m0, good);
    expect(overallStatus(m1.partitions)).toBe('good');
    const m2 = upsertPartition(m1, manifestEntry({ schema: 'public', name: 'orders_us' }, { status: 'failed', reason: 'lock' }, w));
    expect(overallStatus(m2.partitions)).toBe('failed');
    expect(m2.partitions).toHaveLength(2);
    expect(upsertPartition(m2, good).partitions).toHaveLength(2); // replaced, not duplicated
  });

  it('writes 0600 atomically and reads back; concurrent records all land', async () => {
    const runDir = join(dir, '20261124T081500Z-0001');
    const rm_ = new RunManifest(runDir, newManifest({ runId: '20261124T081500Z-0001', node: 'n', trigger: 'manual', source: src }));
    await rm_.start();
    await Promise.all(['a', 'b', 'c', 'd'].map((n) => rm_.record({ ...good, partition: `public.${n}`, table: { schema: 'public', name: n } })));
    await rm_.finish();
    const back = await readManifest(runDir);
    expect(back.partitions.map((p) => p.partition).sort()).toEqual(['public.a', 'public.b', 'public.c', 'public.d']);
    expect(back.status).toBe('good');
    expect((await stat(join(runDir, 'manifest.json'))).mode & 0o777).toBe(0o600);
    expect(await readdir(runDir)).toEqual(['manifest.json']); // no temp file left behind
    expect(JSON.parse(await readFile(join(runDir, 'manifest.json'), 'utf8'))).toMatchObject({ format: 'quietcut-backup-manifest', version: 1 });
  });

  it('rejects a manifest that does not validate, on write and on read', async () => {
    const bad = { ...newManifest({ runId: 'r', node: 'n', trigger: 'manual', source: src }), status: 'great' } as never;
    await expect(writeManifest(join(dir, 'x'), bad)).rejects.toThrow(ManifestError);
    await expect(readManifest(join(dir, 'missing'))).rejects.toThrow(ManifestError);
  });
});
