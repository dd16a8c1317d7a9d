import { describe, expect, test } from 'vitest';
import type { ForeignLeaf } from '../catalog/index.js';
import { foreignServerTarget, FRONTED_SERVER, locateMembers } from './servers.js';
import { parseTableName } from '../backup/index.js';

const leaf = (server: string, over: Partial<ForeignLeaf> = {}): ForeignLeaf => ({
  partition: `public.t_${server}`,
  server,
  wrapper: 'postgres_fdw',
  serverOptions: { host: '10.0.0.5', port: 5433, dbname: 'shard' },
  remote: { schema: 'data', name: 't' },
  ...over,
});
const admin = { host: '127.0.0.1', port: 5432, user: 'qc_admin', database: 'app', password: 'from-env' };

describe('foreign server targets', () => {
  test('default: host/port/dbname from the server options, the admin user and its credentials', () => {
    expect(foreignServerTarget(leaf('s1'), { config: { servers: {} }, admin })).toEqual({ host: '10.0.0.5', port: 5433, user: 'qc_admin', database: 'shard', password: 'from-env' });
    const bare = foreignServerTarget(leaf('s1', { serverOptions: { host: null, port: null, dbname: null } }), { config: { servers: {} }, admin });
    expect(bare).toMatchObject({ host: 'localhost', port: 5432, database: 'qc_admin' });
  });

  test('servers.<name>.url wins; its user, else the admin user; a password in it is refused unechoed', () => {
    const env = { PGPASSFILE: '/etc/qc/pgpass' };
    const t = foreignServerTarget(leaf('s1'), { config: { servers: { s1: { url: 'postgres://backup@shard1.internal:6000/s1db' } } }, admin, env });
    expect(t).toEqual({ host: 'shard1.internal', port: 6000, user: 'backup', database: 's1db', passfile: '/etc/qc/pgpass' });
    expect(foreignServerTarget(leaf('s1'), { config: { servers: { s1: { url: 'postgres://shard1:6000/s1db' } } }, admin, env: {} }).user).toBe('qc_admin');
    expect(() => foreignServerTarget(leaf('s1'), { config: { servers: { s1: { url: 'postgres://u:hunter2@h/db' } } }, admin })).toThrow(/holds a password/);
    try {
      foreignServerTarget(leaf('s1'), { config: { servers: { s1: { url: 'postgres://u:hunter2@h/db' } } }, admin });
    } catch (err) {
      expect((err as Error).message).not.toContain('hunter2');
    }
  });

  test('only postgres_fdw servers', () => {
    expect(() => foreignServerTarget(leaf('s1', { wrapper: 'file_fdw' }), { config: { servers: {} }, admin })).toThrow(/postgres_fdw/);
  });

  test('members are located on their server under their remote name; one target per server', () => {
    const foreign = new Map([
      ['public.t_s1', leaf('s1')],
      ['public.u_s1', leaf('s1', { partition: 'public.u_s1', remote: { schema: 'data', name: 'u' } })],
    ]);
    const { locations, targets } = locateMembers(['public.local', 'public.t_s1', 'public.u_s1'], foreign, (p) => parseTableName(p), { config: { servers: {} }, admin });
    expect(locations.get('public.local')).toEqual({ server: FRONTED_SERVER, table: { schema: 'public', name: 'local' } });
    expect(locations.get('public.u_s1')).toEqual({ server: 's1', table: { schema: 'data', name: 'u' } });
    expect([...targets.keys()].sort()).toEqual([FRONTED_SERVER, 's1'].sort());
  });
});
