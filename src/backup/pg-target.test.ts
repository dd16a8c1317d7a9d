import { describe, expect, it } from 'vitest';
import { childEnv, clientConfig, targetFromUrl } from './pg-target.js';

describe('targetFromUrl', () => {
  it('takes the password from the URL, then QUIETCUT_ADMIN_PASSWORD, then PGPASSWORD', () => {
    expect(targetFromUrl('postgres://u:p1@h/db', { env: { PGPASSWORD: 'p3' } }).password).toBe('p1');
    expect(targetFromUrl('postgres://u@h/db', { env: { QUIETCUT_ADMIN_PASSWORD: 'p2', PGPASSWORD: 'p3' } }).password).toBe('p2');
    expect(targetFromUrl('postgres://u@h/db', { env: { PGPASSWORD: 'p3' } }).password).toBe('p3');
    expect(targetFromUrl('postgres://u@h/db', { env: {} }).password).toBeUndefined();
  });

  it('parses host, port, socket dir, overrides and defaults', () => {
    expect(targetFromUrl('postgresql://u@127.0.0.1:6000/app?sslmode=require', { env: {} })).toEqual({ host: '127.0.0.1', port: 6000, user: 'u', database: 'app', sslmode: 'require' });
    expect(targetFromUrl('postgres://u@/app?host=/run/pg', { env: {} })).toMatchObject({ host: '/run/pg', port: 5432 });
    expect(targetFromUrl('postgres://u@h/app', { env: {}, user: 'admin', database: 'postgres' })).toMatchObject({ user: 'admin', database: 'postgres' });
    expect(targetFromUrl('postgres://h', { env: {} })).toMatchObject({ user: 'postgres', database: 'postgres' });
  });

  it('never echoes a bad URL (it may hold a password)', () => {
    expect(() => targetFromUrl('postgres://u:secret@[bad', { env: {} })).toThrow(/^((?!secret).)*$/);
    expect(() => targetFromUrl('mysql://u@h/db', { env: {} })).toThrow(/scheme/);
  });

  it('childEnv replaces inherited connection variables and drops QUIETCUT_ADMIN_PASSWORD', () => {
    const t = targetFromUrl('postgres://u@h:1/db', { env: { PGPASSFILE: '/p/.pgpass' } });
    const env = childEnv(t, { PATH: '/bin', PGPASSWORD: 'stale', PGHOST: 'other', QUIETCUT_ADMIN_PASSWORD: 'x' });
    expect(env).toMatchObject({ PATH: '/bin', PGHOST: 'h', PGPORT: '1', PGUSER: 'u', PGDATABASE: 'db', PGPASSFILE: '/p/.pgpass' });
    expect(env.PGPASSWORD).toBeUndefined();
    expect(env.QUIETCUT_ADMIN_PASSWORD).toBeUndefined();
    expect(clientConfig(t)).toMatchObject({ host: 'h', port: 1, user: 'u', database: 'db' });
  });
});
