import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { manifestSchema, newManifest, readManifest, RunManifest, type ManifestCut } from './manifest.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quietcut-manifest-cuts-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const cut = (server: string, snapshotId: string): ManifestCut => ({
  group: 'public.xw',
  server,
  host: '127.0.0.1',
  port: 5433,
  database: 'postgres',
  snapshotId,
  walLsn: '0/16B3748',
  cutAt: '2026-11-24T08:15:00.500Z',
  pinMs: 1.5,
});

describe('manifest cuts (cross-server)', () => {
  it('records every server snapshot of a group and reads it back', async () => {
    const m = new RunManifest(dir, newManifest({ runId: '20261124T081500Z-1a2b', node: 'n', trigger: 't', source: { host: 'h', port: 1, database: 'd' } }));
    await m.start();
    await m.recordCuts([cut('(fronted)', '00000003-00022161-1'), cut('shard1', '00000004-0000001A-1')]);
    const back = await readManifest(dir);
    expect(back.cuts?.map((c) => c.server)).toEqual(['(fronted)', 'shard1']);
  });

  it('refuses a cut without an LSN, and old manifests without cuts still read', async () => {
    const m = new RunManifest(dir, newManifest({ runId: '20261124T081500Z-1a2c', node: 'n', trigger: 't', source: { host: 'h', port: 1, database: 'd' } }));
    await expect(m.recordCuts([{ ...cut('shard1', 'x'), walLsn: 'nope' }])).rejects.toThrow(/invalid cut/);
    const old = newManifest({ runId: '20261124T081500Z-1a2d', node: 'n', trigger: 't', source: { host: 'h', port: 1, database: 'd' } });
    expect(manifestSchema.safeParse(old).success).toBe(true);
  });
});
