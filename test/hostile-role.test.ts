import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import type { ConfigInput } from '../src/config/schema.js';
import { runNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';
import { expectNoProcessLeft, expectNothingHolding, expectRunsFinished, waitFor } from './helpers/invariants.js';

/**
 * Issue 15 item 1: a role that owns the database but is not a superuser must not get quietcut's
 * (superuser) admin role to run its code: not through a schema it prepared, nor through objects
 * it shadows, nor through database settings it may change.
 */
let cluster: LocalCluster;
let backupDir: string;

beforeAll(async () => {
  cluster = await startTestCluster({ demo: false });
  backupDir = mkdtempSync(join(tmpdir(), 'qc-hostile-'));
  await cluster.query("CREATE ROLE mallory LOGIN; CREATE ROLE qc_admin LOGIN; GRANT pg_read_all_data TO qc_admin");
});
afterAll(async () => {
  await cluster?.stop();
});

async function asRole<T>(role: string, database: string, f: (c: pg.Client) => Promise<T>, port = cluster.port): Promise<T> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: role, database });
  c.on('error', () => undefined);
  await c.connect();
  try {
    return await f(c);
  } finally {
    await c.end();
  }
}

/** A database mallory owns, with a partitioned table of hers holding a few rows. */
async function malloryDatabase(name: string): Promise<void> {
  await cluster.query(`CREATE DATABASE ${name} OWNER mallory`);
  await asRole('mallory', name, (c) =>
    c.query(`CREATE TABLE t (id int, k int) PARTITION BY LIST (k);
             CREATE TABLE t_0 PARTITION OF t FOR VALUES IN (0);
             CREATE TABLE t_1 PARTITION OF t FOR VALUES IN (1);
             INSERT INTO t SELECT g, g % 2 FROM generate_series(1, 100) g;
             -- what her traps record when they run, as whoever ran them
             CREATE TABLE public.trap_calls (at timestamptz DEFAULT clock_timestamp(), who text);
             GRANT INSERT ON public.trap_calls TO PUBLIC;
             CREATE FUNCTION public.escalate() RETURNS void LANGUAGE plpgsql AS $$
               BEGIN
                 INSERT INTO public.trap_calls (who) VALUES (current_user);
                 IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN ALTER ROLE mallory SUPERUSER; END IF;
               END $$;`),
  );
}

async function mallorySuper(): Promise<boolean> {
  const { rows } = await cluster.query<{ rolsuper: boolean }>("SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'");
  return rows[0]!.rolsuper;
}

async function trapCalls(database: string): Promise<number> {
  const { rows } = await cluster.query<{ n: number }>('SELECT count(*)::int AS n FROM public.trap_calls', [], database);
  return rows[0]!.n;
}

function config(database: string, extra: ConfigInput = {}): ReturnType<typeof loadConfig> {
  return loadConfig({
    env: {},
    overrides: { upstream: { url: cluster.url(database) }, listen: '127.0.0.1:0', metrics: { listen: null }, backup: { dir: backupDir, compression: 1 }, stats: { enabled: false }, ...extra },
  });
}

/** Ask for a backup the way `quietcut backup` does and wait for its result. */
async function requestBackup(database: string, partitions: string[]): Promise<{ run?: { status: string }; error?: string }> {
  const { rows } = await cluster.query<{ id: string }>('INSERT INTO quietcut.backup_requests (partitions) VALUES ($1) RETURNING id::text', [partitions], database);
  const id = rows[0]!.id;
  return waitFor(`request ${id} done`, async () => {
    const r = await cluster.query<{ done: boolean; result: { run?: { status: string }; error?: string } }>('SELECT done_at IS NOT NULL AS done, result FROM quietcut.backup_requests WHERE id = $1', [id], database);
    return r.rows[0]?.done ? r.rows[0].result : null;
  });
}

describe('a database owner who is not a superuser', () => {
  test('a pre-created quietcut schema owned by another role is refused', async () => {
    await malloryDatabase('precreated');
    // Her schema, her table of the right name, with a trigger that makes her superuser when
    // quietcut's admin role (postgres, a superuser) claims a request.
    await asRole('mallory', 'precreated', (c) =>
      c.query(`CREATE SCHEMA quietcut;
               CREATE TABLE quietcut.backup_requests (id bigserial PRIMARY KEY, created_at timestamptz DEFAULT now(), partitions text[], mode text, release text,
                                                      claimed_by text, claimed_at timestamptz, run_id text, done_at timestamptz, result jsonb);
               CREATE FUNCTION quietcut.fire() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM public.escalate(); RETURN NEW; END $$;
               CREATE TRIGGER fire BEFORE INSERT OR UPDATE ON quietcut.backup_requests FOR EACH ROW EXECUTE FUNCTION quietcut.fire();
               INSERT INTO quietcut.backup_requests (partitions) VALUES ('{*}');`),
    );
    const calls = await trapCalls('precreated');
    await expect(runNode(config('precreated'), silentLogger)).rejects.toThrow(
      /^refusing to use schema quietcut: the schema is owned by role mallory; .*table quietcut\.backup_requests is owned by role mallory; quietcut\.backup_requests has trigger fire calling quietcut\.fire \(owned by role mallory\).* quietcut runs SQL there as role postgres/,
    );
    // quietcut ran nothing in her schema: no claim, no migration, no trap.
    expect(await trapCalls('precreated')).toBe(calls);
    const req = await cluster.query<{ claimed_by: string | null }>('SELECT claimed_by FROM quietcut.backup_requests', [], 'precreated');
    expect(req.rows).toEqual([{ claimed_by: null }]);
    const tables = await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'quietcut'", [], 'precreated');
    expect(tables.rows[0]!.n).toBe(1);
    expect(await mallorySuper()).toBe(false);
  });

  test('a schema quietcut owns but with a trigger by another role on it is refused', async () => {
    await malloryDatabase('granted');
    const node = await runNode(config('granted'), silentLogger);
    await node.stop();
    // A careless operator grants TRIGGER; she hangs her trigger on the requests table.
    await cluster.query('GRANT USAGE ON SCHEMA quietcut TO mallory; GRANT TRIGGER ON quietcut.backup_requests TO mallory', [], 'granted');
    await asRole('mallory', 'granted', (c) =>
      c.query(`CREATE FUNCTION public.fire() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM public.escalate(); RETURN NEW; END $$;
               CREATE TRIGGER fire BEFORE UPDATE ON quietcut.backup_requests FOR EACH ROW EXECUTE FUNCTION public.fire();`),
    );
    await expect(runNode(config('granted'), silentLogger)).rejects.toThrow(
      /role mallory may create triggers on quietcut\.backup_requests; quietcut\.backup_requests has trigger fire calling public\.fire \(owned by role mallory\)/,
    );
    expect(await trapCalls('granted')).toBe(0);
    expect(await mallorySuper()).toBe(false);
  });

  test('replacing quietcut.backup_requests through the proxy fails, and database settings cannot shadow what quietcut calls: she never becomes superuser', async () => {
    await malloryDatabase('victim');
    let node = await runNode(config('victim'), silentLogger);
    const owner = await cluster.query<{ owner: string; acl: string | null }>("SELECT nspowner::regrole::text AS owner, nspacl::text AS acl FROM pg_namespace WHERE nspname = 'quietcut'", [], 'victim');
    // Owned by quietcut's role; nobody else holds any right on it (no PUBLIC entry).
    expect(owner.rows[0]).toEqual({ owner: 'postgres', acl: '{postgres=UC/postgres}' });
    // Through the proxy, as she would: every way to put her table in its place is refused by the server.
    const attempts = [
      'ALTER TABLE quietcut.backup_requests RENAME TO old_requests',
      'DROP TABLE quietcut.backup_requests',
      'CREATE TABLE quietcut.backup_requests2 (id int)',
      'ALTER SCHEMA quietcut RENAME TO quietcut_old',
      'CREATE TRIGGER fire BEFORE UPDATE ON quietcut.backup_requests FOR EACH ROW EXECUTE FUNCTION public.escalate()',
      'DROP SCHEMA quietcut CASCADE',
    ];
    const codes = await asRole(
      'mallory',
      'victim',
      async (c) => {
        const out: string[] = [];
        for (const sql of attempts) out.push(await c.query(sql).then(() => 'ok', (e: { code?: string }) => e.code ?? '?'));
        return out;
      },
      node.proxy.address.port,
    );
    expect(codes).toEqual(attempts.map(() => '42501'));
    // What a database owner may do: database-wide settings, and functions in a schema of hers
    // that would shadow the built-ins quietcut calls (now(), in the claim) if her schema came first.
    await asRole(
      'mallory',
      'victim',
      (c) =>
        c.query(`CREATE SCHEMA evil;
                 CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN PERFORM public.escalate(); RETURN pg_catalog.now(); END $$;
                 CREATE FUNCTION evil.clock_timestamp() RETURNS timestamptz LANGUAGE plpgsql AS $$ BEGIN PERFORM public.escalate(); RETURN pg_catalog.clock_timestamp(); END $$;
                 ALTER DATABASE victim SET search_path = evil, pg_catalog, public;`),
      node.proxy.address.port,
    );
    // The setting reaches new sessions: start again so every quietcut connection is new.
    await node.stop();
    node = await runNode(config('victim'), silentLogger);
    try {
      const result = await requestBackup('victim', ['table:public.t']);
      expect(result.run?.status).toBe('good');
      // Her function does run for a session that does not pin its path: the trap is live.
      await asRole('mallory', 'victim', (c) => c.query('SELECT now()'));
      expect(await trapCalls('victim')).toBe(1);
      const who = await cluster.query<{ who: string }>('SELECT who FROM public.trap_calls', [], 'victim');
      expect(who.rows).toEqual([{ who: 'mallory' }]);
      expect(await mallorySuper()).toBe(false);
      expectNothingHolding(node);
    } finally {
      await node.stop();
    }
    await expectRunsFinished(cluster, 'victim');
    await expectNoProcessLeft(backupDir);
  });
});

describe('least privileges', () => {
  test('quietcut runs without superuser: CREATE on the database and pg_read_all_data are enough to back up', async () => {
    await malloryDatabase('plain');
    await cluster.query('GRANT CREATE ON DATABASE plain TO qc_admin');
    const node = await runNode(config('plain', { admin: { user: 'qc_admin' } }), silentLogger);
    try {
      const owner = await cluster.query<{ owner: string }>("SELECT nspowner::regrole::text AS owner FROM pg_namespace WHERE nspname = 'quietcut'", [], 'plain');
      expect(owner.rows[0]!.owner).toBe('qc_admin');
      const r = await node.backup(['public.t_0', 'public.t_1']);
      expect(r.status).toBe('good');
      expect(r.partitions.map((p) => p.rows)).toEqual([50, 50]);
      expectNothingHolding(node);
    } finally {
      await node.stop();
    }
    await expectRunsFinished(cluster, 'plain');
    await expectNoProcessLeft(backupDir);
  });
});
