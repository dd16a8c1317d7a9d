import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { CatalogRefresher, loadCatalog, type Catalog } from '../src/catalog/index.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { ProxyServer } from '../src/proxy/server.js';
import { WriteInspector, type InspectorShared } from '../src/proxy/write-inspector.js';
import { initSqlParser, SqlClassifier } from '../src/sql/index.js';
import { startTestCluster } from './helpers/pg.js';
import { proxyClient, settle, startTestProxy } from './helpers/proxy.js';
import { RawClient, serialize } from './helpers/raw-client.js';

let cluster: LocalCluster;
let proxy: ProxyServer;
let refresher: CatalogRefresher;
let pool: pg.Pool;
const recorded: Array<{ table: string; partitions: string[]; rows: number }> = [];
let unclassified = 0;

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.query(
    `CREATE TABLE h_int (id int4, v text) PARTITION BY HASH (id);
     CREATE TABLE h_int_0 PARTITION OF h_int FOR VALUES WITH (MODULUS 4, REMAINDER 0);
     CREATE TABLE h_int_1 PARTITION OF h_int FOR VALUES WITH (MODULUS 4, REMAINDER 1);
     CREATE TABLE h_int_2 PARTITION OF h_int FOR VALUES WITH (MODULUS 4, REMAINDER 2);
     CREATE TABLE h_int_3 PARTITION OF h_int FOR VALUES WITH (MODULUS 4, REMAINDER 3);
     CREATE TABLE h_uuid (id uuid, v text) PARTITION BY HASH (id);
     CREATE TABLE h_uuid_0 PARTITION OF h_uuid FOR VALUES WITH (MODULUS 3, REMAINDER 0);
     CREATE TABLE h_uuid_1 PARTITION OF h_uuid FOR VALUES WITH (MODULUS 3, REMAINDER 1);
     CREATE TABLE h_uuid_2 PARTITION OF h_uuid FOR VALUES WITH (MODULUS 3, REMAINDER 2);
     CREATE TABLE two (region text, day date, v int) PARTITION BY LIST (region);
     CREATE TABLE two_eu PARTITION OF two FOR VALUES IN ('eu') PARTITION BY RANGE (day);
     CREATE TABLE two_eu_2025 PARTITION OF two_eu FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
     CREATE TABLE two_eu_2026 PARTITION OF two_eu FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
     CREATE TABLE two_us PARTITION OF two FOR VALUES IN ('us') PARTITION BY RANGE (day);
     CREATE TABLE two_us_old PARTITION OF two_us FOR VALUES FROM (MINVALUE) TO ('2026-01-01');
     CREATE TABLE two_us_new PARTITION OF two_us FOR VALUES FROM ('2026-01-01') TO (MAXVALUE);
     CREATE TABLE two_rest PARTITION OF two DEFAULT;`,
    [],
    'demo',
  );
  await initSqlParser();
  pool = new pg.Pool({ connectionString: cluster.url('demo'), max: 2 });
  refresher = new CatalogRefresher({
    intervalMs: 60_000,
    load: async () => {
      const c = await pool.connect();
      try {
        return await loadCatalog(c);
      } finally {
        c.release();
      }
    },
  });
  await refresher.start();
  const shared: InspectorShared = {
    classifier: new SqlClassifier(),
    catalog: (): Catalog | undefined => refresher.current,
    markStale: (ref, sp, user) => (ref ? refresher.markStale(ref, sp, user) : refresher.refreshSoon()),
    sink: { record: (table, partitions, rows) => recorded.push({ table, partitions: [...partitions].sort(), rows }) },
    writingFunctions: new Map([['public.archive_fn', ['public.orders']]]),
    preparedGids: new Map(),
    unclassified: () => unclassified++,
  };
  proxy = await startTestProxy(cluster, { inspectorFactory: (params) => new WriteInspector(shared, params) });
});
afterAll(async () => {
  refresher?.stop();
  await pool?.end();
  if (proxy) await settle(proxy);
  await proxy?.shutdown(200);
  await cluster?.stop();
});

function qualified(regclass: string): string {
  return regclass.includes('.') ? regclass : `public.${regclass}`;
}

function rnd(n: number): number {
  return Math.floor(Math.random() * n);
}

describe('the partition quietcut counts is the one the server used', () => {
  test('random single-row inserts, simple and extended protocol, five table shapes', async () => {
    const c = await proxyClient(proxy);
    const regions = ['eu', 'us', 'apac', 'mars', null];
    const cases: Array<() => { sql: string; params?: unknown[] }> = [
      () => ({ sql: 'insert into h_int values ($1, $2) returning tableoid::regclass t', params: [rnd(2 ** 31) - 2 ** 30, 'x'] }),
      () => ({ sql: `insert into h_int values (${rnd(100000)}, 'lit') returning tableoid::regclass t` }),
      () => ({ sql: 'insert into h_uuid values ($1, $2) returning tableoid::regclass t', params: [randomUUID(), 'u'] }),
      () => {
        const r = regions[rnd(4)]!;
        return { sql: 'insert into orders (region, amount) values ($1, $2) returning tableoid::regclass t', params: [r, rnd(1000)] };
      },
      () => ({ sql: `insert into orders (region, amount) values ('${regions[rnd(4)]}', 1.5) returning tableoid::regclass t` }),
      () => {
        const d = new Date(Date.UTC(2026, rnd(12) - 6, 1 + rnd(28), rnd(24)));
        return { sql: 'insert into events (region, created_at) values ($1, $2) returning tableoid::regclass t', params: ['eu', d.toISOString()] };
      },
      () => {
        const y = 2025 + rnd(2);
        return { sql: `insert into two (region, day, v) values ('${['eu', 'us', 'xx'][rnd(3)]}', '${y}-0${1 + rnd(9)}-1${rnd(9)}', 1) returning tableoid::regclass t` };
      },
      () => ({ sql: 'insert into two (region, day, v) values ($1, $2::date, 2) returning tableoid::regclass t', params: [['eu', 'us'][rnd(2)], `${2025 + rnd(2)}-06-15`] }),
    ];
    let checked = 0;
    let exact = 0;
    for (let i = 0; i < 600; i++) {
      const make = cases[i % cases.length]!;
      const { sql, params } = make();
      recorded.length = 0;
      let server: string;
      try {
        const r = await c.query(sql, params);
        server = qualified(r.rows[0].t as string);
      } catch (err) {
        // events without a matching partition for far dates goes to events_default; nothing should fail
        throw new Error(`${sql} ${JSON.stringify(params)}: ${(err as Error).message}`);
      }
      expect(recorded).toHaveLength(1);
      const counted = recorded[0]!;
      // never under-classify: the server's partition is among those counted
      expect(counted.partitions, `${sql} ${JSON.stringify(params)}`).toContain(server);
      if (counted.partitions.length === 1) exact++;
      checked++;
    }
    expect(checked).toBe(600);
    // all of these forms are resolvable exactly: no fallback to "all" expected
    expect(exact).toBe(600);
    await c.end();
  });

  test('UPDATE/DELETE by key, by range, without predicate, and row movement', async () => {
    const c = await proxyClient(proxy);
    await c.query("insert into orders (region, amount) values ('eu', 1), ('us', 2), ('apac', 3)");
    const cases: Array<[string, unknown[] | undefined, string[]]> = [
      ["update orders set amount = amount + 1 where region = 'eu'", undefined, ['public.orders_eu']],
      ['update orders set amount = amount + 1 where region = $1', ['us'], ['public.orders_us']],
      ["delete from orders where region in ('apac', 'eu') and amount < 0", undefined, ['public.orders_apac', 'public.orders_eu']],
      ['update orders set amount = 0 where amount > 100000', undefined, ['public.orders_apac', 'public.orders_eu', 'public.orders_other', 'public.orders_us']],
      ["update orders set region = 'us' where region = 'eu' and amount < 0", undefined, ['public.orders_apac', 'public.orders_eu', 'public.orders_other', 'public.orders_us']],
      ['delete from h_int where id = $1', [12345], []],
    ];
    for (const [sql, params, expected] of cases) {
      recorded.length = 0;
      await c.query(sql, params);
      expect(recorded, sql).toHaveLength(1);
      if (expected.length > 0) expect(recorded[0]!.partitions, sql).toEqual(expected);
      else expect(recorded[0]!.partitions).toHaveLength(1);
    }
    await c.end();
  });

  test('a transaction counts its writes at each statement; COMMIT makes them visible', async () => {
    const c = await proxyClient(proxy);
    const session = [...proxy.sessions].at(-1)!;
    void session;
    recorded.length = 0;
    await c.query('begin');
    await c.query("insert into orders (region, amount) values ('eu', 5)");
    await c.query("insert into two values ('us', '2020-01-01', 1)");
    await c.query('commit');
    expect(recorded.map((r) => r.partitions)).toEqual([['public.orders_eu'], ['public.two_us_old']]);
    await c.end();
  });

  test('writing functions from config count as writing their tables; unparsable SQL is counted unclassified', async () => {
    const c = await proxyClient(proxy);
    await c.query("create function archive_fn() returns void language sql as $$ insert into orders(region, amount) values ('eu', 0) $$");
    recorded.length = 0;
    await c.query('select archive_fn()');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.partitions).toEqual(['public.orders_apac', 'public.orders_eu', 'public.orders_other', 'public.orders_us']);
    const before = unclassified;
    await expect(c.query('selekt garbage from nowhere')).rejects.toMatchObject({ code: '42601' });
    expect(unclassified).toBe(before + 1);
    await c.end();
  });

  test('a suspended portal and an empty query in a pipeline do not shift counting to the wrong statement', async () => {
    const raw = await RawClient.startup(proxy.address.port);
    recorded.length = 0;
    raw.send(
      Buffer.concat([
        serialize.parse({ name: 'gen', text: 'select generate_series(1, 10)' }),
        serialize.bind({ portal: 'cur', statement: 'gen' }),
        serialize.execute({ portal: 'cur', rows: 2 }),
        serialize.parse({ text: '' }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.parse({ text: "insert into orders (region, amount) values ('us', 1), ('us', 2)" }),
        serialize.bind({}),
        serialize.execute({}),
        serialize.sync(),
      ]),
    );
    await raw.until((m) => m.name === 'readyForQuery');
    expect(raw.messages.some((m) => m.name === 'portalSuspended')).toBe(true);
    expect(recorded).toEqual([{ table: 'public.orders', partitions: ['public.orders_us'], rows: 2 }]);
    raw.end();
  });

  test('DDL seen through the proxy: the new partition is known after the refresh', async () => {
    const c = await proxyClient(proxy);
    await c.query("create table orders_moon partition of orders for values in ('moon')");
    recorded.length = 0;
    // Right after the DDL (before the reload, ~50 ms) the table counts as writing every partition
    // the catalog knows; a partition created by that DDL is known once the reload lands.
    await c.query("insert into orders (region, amount) values ('moon', 1)");
    expect(recorded[0]!.partitions.length).toBeGreaterThanOrEqual(4);
    // wait for the reload to land (bounded), not for a fixed time: the machine may be loaded
    const deadline = Date.now() + 20_000;
    while (!refresher.current?.leaves().some((l) => l.name === 'public.orders_moon') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
    recorded.length = 0;
    await c.query("insert into orders (region, amount) values ('moon', 2)");
    expect(recorded[0]!.partitions).toEqual(['public.orders_moon']);
    await c.end();
  });
});
