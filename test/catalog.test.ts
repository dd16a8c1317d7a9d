/**
 * The catalog against a real PostgreSQL: for random keys, the partition the resolver names must be
 * exactly the one the server stored the row in (or, where documented, a set that includes it).
 */
import { randomBytes, randomInt } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog, type Catalog, type ResolveContext } from '../src/catalog/index.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import type { Slot, WriteTarget } from '../src/sql/types.js';
import { startTestCluster } from './helpers/pg.js';

const DB = 'catalog';

const SCHEMA = `
CREATE SCHEMA s;
-- hash on every reproduced type, mixed moduli, multi-column
CREATE TABLE h_int4 (id int, k int4) PARTITION BY HASH (k);
CREATE TABLE h_int4_0 PARTITION OF h_int4 FOR VALUES WITH (MODULUS 4, REMAINDER 0);
CREATE TABLE h_int4_2 PARTITION OF h_int4 FOR VALUES WITH (MODULUS 4, REMAINDER 2);
CREATE TABLE h_int4_3 PARTITION OF h_int4 FOR VALUES WITH (MODULUS 4, REMAINDER 3);
CREATE TABLE h_int4_1 PARTITION OF h_int4 FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE h_int4_5 PARTITION OF h_int4 FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE h_int2 (id int, k int2) PARTITION BY HASH (k);
CREATE TABLE h_int8 (id int, k int8) PARTITION BY HASH (k);
CREATE TABLE h_text (id int, k text) PARTITION BY HASH (k);
CREATE TABLE h_icu (id int, k text COLLATE "und-x-icu") PARTITION BY HASH (k);
CREATE TABLE h_uuid (id int, k uuid) PARTITION BY HASH (k);
CREATE TABLE h_tstz (id int, k timestamptz) PARTITION BY HASH (k);
CREATE TABLE h_date (id int, k date) PARTITION BY HASH (k);
CREATE TABLE h_multi (id int, a int8, b text) PARTITION BY HASH (a, b);
DO $$ DECLARE t text; BEGIN
  FOREACH t IN ARRAY ARRAY['h_int2', 'h_int8', 'h_text', 'h_icu', 'h_uuid', 'h_tstz', 'h_date', 'h_multi'] LOOP
    FOR r IN 0..6 LOOP
      EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES WITH (MODULUS 7, REMAINDER %s)', t || '_' || r, t, r);
    END LOOP;
  END LOOP;
END $$;

-- range: timestamptz months with a gap and DEFAULT, multi-column with MINVALUE/MAXVALUE, numeric, date
CREATE TABLE r_ts (id int, k timestamptz) PARTITION BY RANGE (k);
CREATE TABLE r_ts_10 PARTITION OF r_ts FOR VALUES FROM ('2026-10-01 00:00+00') TO ('2026-11-01 00:00+00');
CREATE TABLE r_ts_11 PARTITION OF r_ts FOR VALUES FROM ('2026-11-01 00:00+00') TO ('2026-12-01 00:00+00');
CREATE TABLE r_ts_01 PARTITION OF r_ts FOR VALUES FROM ('2027-01-01 00:00+00') TO ('2027-02-01 00:00+00');
CREATE TABLE r_ts_def PARTITION OF r_ts DEFAULT;
CREATE TABLE r_multi (id int, a int4, b text COLLATE "C") PARTITION BY RANGE (a, b);
CREATE TABLE r_multi_1 PARTITION OF r_multi FOR VALUES FROM (MINVALUE, MINVALUE) TO (0, 'm');
CREATE TABLE r_multi_2 PARTITION OF r_multi FOR VALUES FROM (0, 'm') TO (10, MINVALUE);
CREATE TABLE r_multi_3 PARTITION OF r_multi FOR VALUES FROM (10, MINVALUE) TO (20, MAXVALUE);
CREATE TABLE r_multi_def PARTITION OF r_multi DEFAULT;
CREATE TABLE r_num (id int, k numeric(10,2)) PARTITION BY RANGE (k);
CREATE TABLE r_num_lo PARTITION OF r_num FOR VALUES FROM (MINVALUE) TO ('-1.5');
CREATE TABLE r_num_mid PARTITION OF r_num FOR VALUES FROM ('-1.5') TO ('10');
CREATE TABLE r_num_hi PARTITION OF r_num FOR VALUES FROM ('10') TO (MAXVALUE);
CREATE TABLE r_date (id int, k date) PARTITION BY RANGE (k);
CREATE TABLE r_date_a PARTITION OF r_date FOR VALUES FROM (MINVALUE) TO ('2026-03-01');
CREATE TABLE r_date_b PARTITION OF r_date FOR VALUES FROM ('2026-03-01') TO ('infinity');
CREATE TABLE r_date_def PARTITION OF r_date DEFAULT;
CREATE TABLE r_textc (id int, k text COLLATE "C") PARTITION BY RANGE (k);
CREATE TABLE r_textc_a PARTITION OF r_textc FOR VALUES FROM (MINVALUE) TO ('M');
CREATE TABLE r_textc_b PARTITION OF r_textc FOR VALUES FROM ('M') TO ('a');
CREATE TABLE r_textc_c PARTITION OF r_textc FOR VALUES FROM ('a') TO (MAXVALUE);
CREATE TABLE r_texticu (id int, k text COLLATE "en-US-x-icu") PARTITION BY RANGE (k);
CREATE TABLE r_texticu_a PARTITION OF r_texticu FOR VALUES FROM (MINVALUE) TO ('M');
CREATE TABLE r_texticu_b PARTITION OF r_texticu FOR VALUES FROM ('M') TO (MAXVALUE);

-- list: NULL and DEFAULT, bool, int, ICU text (equality is still byte equality)
CREATE TABLE l_text (id int, k text) PARTITION BY LIST (k);
CREATE TABLE l_text_eu PARTITION OF l_text FOR VALUES IN ('eu', 'EU');
CREATE TABLE l_text_us PARTITION OF l_text FOR VALUES IN ('us', NULL);
CREATE TABLE l_text_def PARTITION OF l_text DEFAULT;
CREATE TABLE l_icu (id int, k text COLLATE "en-US-x-icu") PARTITION BY LIST (k);
CREATE TABLE l_icu_a PARTITION OF l_icu FOR VALUES IN ('a', 'é');
CREATE TABLE l_icu_def PARTITION OF l_icu DEFAULT;
CREATE TABLE l_bool (id int, k bool) PARTITION BY LIST (k);
CREATE TABLE l_bool_t PARTITION OF l_bool FOR VALUES IN (true);
CREATE TABLE l_bool_f PARTITION OF l_bool FOR VALUES IN (false, NULL);
CREATE TABLE l_int (id int, k int8) PARTITION BY LIST (k);
CREATE TABLE l_int_small PARTITION OF l_int FOR VALUES IN (1, 2, 3);
CREATE TABLE l_int_neg PARTITION OF l_int FOR VALUES IN (-1, -2);
CREATE TABLE l_int_def PARTITION OF l_int DEFAULT;

-- timestamp without time zone: a zone in the literal is ignored
CREATE TABLE r_tsn (id int, k timestamp(0)) PARTITION BY RANGE (k);
CREATE TABLE r_tsn_a PARTITION OF r_tsn FOR VALUES FROM (MINVALUE) TO ('2026-06-01 00:00');
CREATE TABLE r_tsn_b PARTITION OF r_tsn FOR VALUES FROM ('2026-06-01 00:00') TO (MAXVALUE);

-- a foreign leaf partition (never written here: only its metadata is loaded)
CREATE EXTENSION postgres_fdw;
CREATE SERVER shard1 FOREIGN DATA WRAPPER postgres_fdw OPTIONS (dbname 'nowhere');
CREATE TABLE f (id int, k int) PARTITION BY LIST (k);
CREATE TABLE f_local PARTITION OF f FOR VALUES IN (1);
CREATE FOREIGN TABLE f_remote PARTITION OF f FOR VALUES IN (2) SERVER shard1;

-- two levels, in another schema: range(date) → list(text) / hash(uuid)
CREATE TABLE s.two (id int, d date, region text, u uuid) PARTITION BY RANGE (d);
CREATE TABLE s.two_2026 PARTITION OF s.two FOR VALUES FROM ('2026-01-01') TO ('2027-01-01') PARTITION BY LIST (region);
CREATE TABLE s.two_2026_eu PARTITION OF s.two_2026 FOR VALUES IN ('eu');
CREATE TABLE s.two_2026_def PARTITION OF s.two_2026 DEFAULT;
CREATE TABLE s.two_2027 PARTITION OF s.two FOR VALUES FROM ('2027-01-01') TO ('2028-01-01') PARTITION BY HASH (u);
CREATE TABLE s.two_2027_0 PARTITION OF s.two_2027 FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE s.two_2027_1 PARTITION OF s.two_2027 FOR VALUES WITH (MODULUS 2, REMAINDER 1);
CREATE TABLE s.two_def PARTITION OF s.two DEFAULT;
`;

let cluster: LocalCluster;
let client: pg.Client;
let catalog: Catalog;
const ctx: ResolveContext = { searchPath: ['"$user"', 'public', 's'], user: 'postgres', timeZone: 'UTC' };

beforeAll(async () => {
  cluster = await startTestCluster({ demo: false });
  await cluster.createDatabase(DB);
  client = new pg.Client({ connectionString: cluster.url(DB) });
  await client.connect();
  await client.query(SCHEMA);
  await client.query(`SET TimeZone = 'UTC'; SET search_path = "$user", public, s`);
  catalog = await loadCatalog(client);
});

afterAll(async () => {
  await client?.end();
  await cluster?.stop();
});

interface Col {
  name: string;
  type: string;
}

/** Inserts the rows (text literals) and returns, per row, the leaf the server stored it in. */
async function serverPartitions(table: string, cols: Col[], rows: (string | null)[][]): Promise<string[]> {
  const arrays = cols.map((_, i) => rows.map((r) => r[i] ?? null));
  const unnest = cols.map((_, i) => `$${i + 1}::text[]`).join(', ');
  const names = cols.map((c) => c.name);
  const sql = `WITH ins AS (
      INSERT INTO ${table} (id, ${names.join(', ')})
      SELECT i, ${cols.map((c, i) => `v${i}::${c.type}`).join(', ')} FROM unnest(${unnest}) WITH ORDINALITY AS u(${cols.map((_, i) => `v${i}`).join(', ')}, i)
      RETURNING id, tableoid)
    SELECT ins.id, n.nspname || '.' || c.relname AS leaf FROM ins JOIN pg_class c ON c.oid = ins.tableoid JOIN pg_namespace n ON n.oid = c.relnamespace`;
  const res = await client.query<{ id: number; leaf: string }>(sql, arrays);
  const out: string[] = [];
  for (const r of res.rows) out[r.id - 1] = r.leaf;
  return out;
}

function insertTarget(table: string, cols: Col[], row: Slot[]): WriteTarget {
  return { table: { schema: null, name: table }, command: 'insert', insertColumns: cols.map((c) => c.name), insertRows: [row], where: null, setColumns: null, only: false };
}

const constRow = (row: (string | null)[]): Slot[] => row.map((value) => ({ kind: 'const', value }));

/** Asserts the resolver names exactly the server's leaf for every row (or, when `widerOk`, a set containing it). */
async function check(table: string, cols: Col[], rows: (string | null)[][], opts: { widerOk?: boolean; binary?: (i: number, v: string) => Buffer } = {}): Promise<{ exact: number }> {
  const leaves = await serverPartitions(table, cols, rows);
  let exact = 0;
  const mismatches: string[] = [];
  rows.forEach((row, i) => {
    const want = leaves[i]!;
    const got = catalog.resolve(insertTarget(table, cols, constRow(row)), ctx)?.partitions ?? [];
    if (got.length === 1 && got[0] === want) exact++;
    else if (!(opts.widerOk && got.includes(want))) mismatches.push(`${JSON.stringify(row)}: server ${want}, resolver ${JSON.stringify(got)}`);
    if (opts.binary && row.every((v) => v !== null)) {
      // The same row as binary Bind parameters.
      const params = row.map((v, j) => ({ value: opts.binary!(j, v!), format: 1 as const }));
      const slots: Slot[] = row.map((_, j) => ({ kind: 'param', index: j + 1 }));
      const viaParams = catalog.resolve(insertTarget(table, cols, slots), { ...ctx, params })?.partitions ?? [];
      if (!(viaParams.length === 1 && viaParams[0] === want)) mismatches.push(`binary ${JSON.stringify(row)}: server ${want}, resolver ${JSON.stringify(viaParams)}`);
    }
  });
  expect(mismatches.slice(0, 10)).toEqual([]);
  return { exact };
}

const N_HASH = 10_000;
const int32 = (): number => randomInt(-(2 ** 31), 2 ** 31 - 1) | 0;
const int64 = (): bigint => randomBytes(8).readBigInt64BE(0);
const randomText = (): string => {
  const alphabet = ['a', 'b', 'Z', ' ', '0', 'é', 'ß', '€', '😀', '日', "'", '\\', 'M', 'm', '_'];
  return Array.from({ length: randomInt(0, 40) }, () => alphabet[randomInt(alphabet.length)]!).join('');
};
const randomUuid = (): string => randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
const be = (bytes: number, v: bigint): Buffer => {
  const b = Buffer.alloc(bytes);
  if (bytes === 2) b.writeInt16BE(Number(v));
  else if (bytes === 4) b.writeInt32BE(Number(v));
  else b.writeBigInt64BE(v);
  return b;
};
const k = (type: string): Col[] => [{ name: 'k', type }];

describe('hash partitions: exactly the server partition for 10,000 random keys per type', () => {
  it('int4 (mixed moduli 4 and 8)', async () => {
    const rows = Array.from({ length: N_HASH }, (_, i) => [String(i < 50 ? i - 25 : int32())]);
    await check('h_int4', k('int4'), rows, { binary: (_, v) => be(4, BigInt(v)) });
  });
  it('int2', async () => {
    const rows = Array.from({ length: 2000 }, () => [String(randomInt(-32768, 32768))]);
    await check('h_int2', k('int2'), rows, { binary: (_, v) => be(2, BigInt(v)) });
  });
  it('int8', async () => {
    const rows = Array.from({ length: N_HASH }, (_, i) => [String(i < 20 ? BigInt(i - 10) : i < 40 ? int64() >> 33n : int64())]);
    await check('h_int8', k('int8'), rows, { binary: (_, v) => be(8, BigInt(v)) });
  });
  it('text (default C.UTF-8 collation) and an ICU collation', async () => {
    const rows = Array.from({ length: N_HASH }, () => [randomText()]);
    await check('h_text', k('text'), rows, { binary: (_, v) => Buffer.from(v, 'utf8') });
    await check('h_icu', k('text'), rows.slice(0, 2000));
  });
  it('uuid', async () => {
    const rows = Array.from({ length: N_HASH }, () => [randomUuid()]);
    await check('h_uuid', k('uuid'), rows, { binary: (_, v) => Buffer.from(v.replaceAll('-', ''), 'hex') });
  });
  it('timestamptz and date', async () => {
    const ts = Array.from({ length: 2000 }, () => [new Date(randomInt(-2.2e12, 7.2e12)).toISOString()]);
    await check('h_tstz', k('timestamptz'), ts);
    const dates = Array.from({ length: 2000 }, () => [new Date(randomInt(-2e12, 4e12)).toISOString().slice(0, 10)]);
    await check('h_date', k('date'), dates);
  });
  it('multi-column (int8, text), NULLs skipped', async () => {
    const rows = Array.from({ length: 3000 }, (_, i) => [i % 10 === 0 ? null : String(int64()), i % 7 === 0 ? null : randomText()]);
    await check('h_multi', [{ name: 'a', type: 'int8' }, { name: 'b', type: 'text' }], rows);
  });
});

describe('range partitions', () => {
  it('timestamptz with a gap and DEFAULT, offsets and bound edges', async () => {
    const edges = ['2026-10-01 00:00:00+00', '2026-10-31 23:59:59.999999+00', '2026-11-01 00:00:00+00', '2026-12-01 00:00:00+00', '2027-01-01 01:00:00+01', 'infinity', '-infinity', null];
    const base = Date.UTC(2026, 8, 15);
    const rows = [...edges.map((e) => [e]), ...Array.from({ length: 1000 }, () => [new Date(base + randomInt(0, 150 * 86400) * 1000).toISOString()])];
    const tsBinary = (v: string): bigint => (v === 'infinity' ? (1n << 63n) - 1n : v === '-infinity' ? -(1n << 63n) : BigInt(Date.parse(v.replace(' ', 'T').replace(/\+00$/, 'Z').replace(/\+01$/, '+01:00'))) * 1000n - 946684800000000n);
    await check('r_ts', k('timestamptz'), rows.filter((r) => !r[0]?.includes('.999999')), { binary: (_, v) => be(8, tsBinary(v)) });
    await check('r_ts', k('timestamptz'), rows.filter((r) => r[0]?.includes('.999999')));
  });
  it('timestamptz without offset in a non-UTC session: a span that includes the server partition', async () => {
    await client.query(`SET TimeZone = 'America/New_York'`);
    try {
      const rows = Array.from({ length: 300 }, () => [new Date(Date.UTC(2026, 8, 20) + randomInt(0, 130 * 86400) * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '')]);
      const saved = ctx.timeZone;
      ctx.timeZone = 'America/New_York';
      const { exact } = await check('r_ts', k('timestamptz'), rows, { widerOk: true });
      ctx.timeZone = saved!;
      expect(exact).toBeGreaterThan(rows.length / 2);
    } finally {
      await client.query(`SET TimeZone = 'UTC'`);
    }
  });
  it('multi-column with MINVALUE/MAXVALUE and DEFAULT', async () => {
    const letters = ['', 'a', 'l', 'm', 'ma', 'z', 'Z', 'é'];
    const rows: (string | null)[][] = Array.from({ length: 1500 }, () => [String(randomInt(-5, 26)), letters[randomInt(letters.length)]!]);
    rows.push(['0', 'm'], ['10', ''], ['20', 'zzzz'], ['21', ''], ['-2147483648', ''], [null, 'a'], ['5', null]);
    await check('r_multi', [{ name: 'a', type: 'int4' }, { name: 'b', type: 'text' }], rows);
  });
  it('numeric(10,2): rounding on insert decides the partition', async () => {
    const rows = ['-1.5', '-1.505', '-1.504', '9.995', '9.994', '10', '-99999999.99', '0'].map((v) => [v]);
    for (let i = 0; i < 500; i++) rows.push([(randomInt(-2000, 2000) / 100 + randomInt(0, 1000) / 100000).toFixed(5)]);
    await check('r_num', k('numeric(10,2)'), rows);
  });
  it('date with infinity bound and DEFAULT', async () => {
    const rows = ['2026-02-28', '2026-03-01', 'infinity', '-infinity', '1999-12-31'].map((v) => [v]);
    for (let i = 0; i < 500; i++) rows.push([new Date(randomInt(-1e12, 4e12)).toISOString().slice(0, 10)]);
    await check('r_date', k('date'), rows, { binary: (_, v) => be(4, BigInt(v === 'infinity' ? 0x7fffffff : v === '-infinity' ? -0x80000000 : Math.round(Date.parse(v) / 86400000) - 10957)) });
  });
  it('text under the C collation is exact; under an ICU collation it falls back to all (documented)', async () => {
    const rows = Array.from({ length: 1000 }, () => [randomText()]);
    rows.push(['M'], ['a'], ['L'], ['`']);
    await check('r_textc', k('text'), rows, { binary: (_, v) => Buffer.from(v, 'utf8') });
    await check('r_texticu', k('text'), rows, { widerOk: true });
    expect(catalog.resolve(insertTarget('r_texticu', k('text'), constRow(['a'])), ctx)?.all).toBe(true);
  });
});

describe('timestamp and foreign partitions', () => {
  it('timestamp(0): zones ignored, fractional seconds rounded on insert', async () => {
    const rows = ['2026-05-31 23:59:59.5', '2026-05-31 23:59:59.4', '2026-06-01 00:00+14', '2026-05-31 23:00-05', '2026-06-01T00:00:00'].map((v) => [v]);
    for (let i = 0; i < 300; i++) rows.push([new Date(Date.UTC(2026, 4, 20) + randomInt(0, 20 * 86400) * 1000).toISOString().replace('Z', '')]);
    await check('r_tsn', k('timestamp(0)'), rows);
  });

  it('foreign leaves are flagged with their server and resolve like any leaf', () => {
    const leaves = catalog.leaves().filter((l) => l.root === 'public.f');
    expect(leaves).toEqual([
      { name: 'public.f_local', table: { schema: 'public', name: 'f_local' }, root: 'public.f', foreignServer: null },
      { name: 'public.f_remote', table: { schema: 'public', name: 'f_remote' }, root: 'public.f', foreignServer: 'shard1' },
    ]);
    expect(catalog.resolve(insertTarget('f', k('int'), constRow(['2'])), ctx)?.partitions).toEqual(['public.f_remote']);
  });

  it('a database whose default collation is ICU: text range falls back to all, list stays exact', async () => {
    await cluster.query(`CREATE DATABASE icu TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`);
    const icu = new pg.Client({ connectionString: cluster.url('icu') });
    await icu.connect();
    try {
      await icu.query(`CREATE TABLE r (k text) PARTITION BY RANGE (k);
        CREATE TABLE r_a PARTITION OF r FOR VALUES FROM (MINVALUE) TO ('m');
        CREATE TABLE r_b PARTITION OF r FOR VALUES FROM ('m') TO (MAXVALUE);
        CREATE TABLE l (k text) PARTITION BY LIST (k);
        CREATE TABLE l_a PARTITION OF l FOR VALUES IN ('a');
        CREATE TABLE l_b PARTITION OF l FOR VALUES IN ('B');`);
      const cat = await loadCatalog(icu);
      // In en-US 'Z' sorts after 'm' although its byte is smaller: byte order would be wrong, so all.
      expect(cat.resolve(insertTarget('r', [{ name: 'k', type: 'text' }], constRow(['Z'])), ctx)).toEqual({ root: 'public.r', partitions: ['public.r_a', 'public.r_b'], all: true });
      expect(cat.resolve(insertTarget('l', [{ name: 'k', type: 'text' }], constRow(['B'])), ctx)?.partitions).toEqual(['public.l_b']);
    } finally {
      await icu.end();
    }
  });
});

describe('WHERE with parameters', () => {
  it('DELETE ... WHERE k = $1 / k IN ($1, $2) / BETWEEN, checked against the rows the server deletes', async () => {
    await client.query(`INSERT INTO l_int (id, k) SELECT g, g % 7 - 3 FROM generate_series(1, 50) g`);
    for (const [a, b] of [[1, 5], [-2, -1], [9, 2], [3, 3]] as const) {
      const target: WriteTarget = { table: { schema: null, name: 'l_int' }, command: 'delete', insertColumns: null, insertRows: null, where: { k: { op: 'in', values: [{ kind: 'param', index: 1 }, { kind: 'param', index: 2 }] } }, setColumns: null, only: false };
      const got = catalog.resolve(target, { ...ctx, params: [{ value: be(8, BigInt(a)), format: 1 }, { value: Buffer.from(String(b)), format: 0 }], paramTypes: [20, 0] })?.partitions ?? [];
      const res = await client.query<{ leaf: string }>(`WITH d AS (DELETE FROM l_int WHERE k IN ($1, $2) RETURNING tableoid) SELECT DISTINCT 'public.' || tableoid::regclass::text AS leaf FROM d`, [a, b]);
      for (const r of res.rows) expect(got).toContain(r.leaf);
      expect(got.length).toBeLessThanOrEqual(2);
    }
    const between: WriteTarget = { table: { schema: null, name: 'r_date' }, command: 'update', insertColumns: null, insertRows: null, where: { k: { op: 'range', lo: { slot: { kind: 'const', value: '2026-02-01' }, inclusive: true }, hi: { slot: { kind: 'param', index: 1 }, inclusive: true } } }, setColumns: ['id'], only: false };
    expect(catalog.resolve(between, { ...ctx, params: [{ value: Buffer.from('2026-02-20'), format: 0 }] })?.partitions).toEqual(['public.r_date_a']);
    expect(catalog.resolve(between, { ...ctx, params: [{ value: Buffer.from('2026-03-20'), format: 0 }] })?.partitions).toEqual(['public.r_date_a', 'public.r_date_b']);
  });
});

describe('list partitions', () => {
  it('text with NULL and DEFAULT', async () => {
    const vals = ['eu', 'EU', 'us', null, 'Us', 'other', '', 'eu '];
    await check('l_text', k('text'), Array.from({ length: 400 }, () => [vals[randomInt(vals.length)]!]), { binary: (_, v) => Buffer.from(v) });
  });
  it('ICU collation (deterministic: byte equality)', async () => {
    const vals = ['a', 'A', 'é', 'e\u0301', 'b', null];
    await check('l_icu', k('text'), Array.from({ length: 200 }, () => [vals[randomInt(vals.length)]!]));
  });
  it('bool and int8', async () => {
    const bools = ['t', 'f', 'true', 'no', 'yes', 'on', 'off', '1', '0', null];
    await check('l_bool', k('bool'), Array.from({ length: 200 }, () => [bools[randomInt(bools.length)]!]), { binary: (_, v) => Buffer.from([['t', 'true', 'yes', 'on', '1'].includes(v) ? 1 : 0]) });
    await check('l_int', k('int8'), Array.from({ length: 300 }, () => [String(randomInt(-4, 6))]), { binary: (_, v) => be(8, BigInt(v)) });
  });
});

describe('two-level partitioning', () => {
  it('range(date) → list(text) / hash(uuid), in schema s via search_path', async () => {
    const regions = ['eu', 'us', null];
    const rows = Array.from({ length: 2000 }, () => [
      new Date(Date.UTC(2025, 6, 1) + randomInt(0, 1000) * 86400000).toISOString().slice(0, 10),
      regions[randomInt(regions.length)]!,
      randomInt(10) === 0 ? null : randomUuid(),
    ]);
    await check('two', [{ name: 'd', type: 'date' }, { name: 'region', type: 'text' }, { name: 'u', type: 'uuid' }], rows);
  });

  it('loads leaves, schemas and strategies; configured schemas limit the trees', async () => {
    expect(catalog.lookup({ schema: 's', name: 'two_2027' }, [], 'x')?.leaves).toEqual(['s.two_2027_0', 's.two_2027_1']);
    const only = await loadCatalog(client, { schemas: ['s'], plainTables: ['public.plain_missing'] });
    expect(only.tables()).toEqual(['s.two']);
  });

  it('UPDATE/DELETE by key and DDL staleness', async () => {
    const del: WriteTarget = { table: { schema: 's', name: 'two' }, command: 'delete', insertColumns: null, insertRows: null, where: { d: { op: 'in', values: [{ kind: 'const', value: '2026-05-05' }] }, region: { op: 'in', values: [{ kind: 'const', value: 'eu' }] } }, setColumns: null, only: false };
    expect(catalog.resolve(del, ctx)?.partitions).toEqual(['s.two_2026_eu']);
    await client.query(`CREATE TABLE s.two_2026_jp PARTITION OF s.two_2026 FOR VALUES IN ('jp')`);
    catalog.markStale({ schema: 's', name: 'two_2026' });
    expect(catalog.resolve(del, ctx)?.all).toBe(true);
    const fresh = await loadCatalog(client);
    expect(fresh.lookup({ schema: 's', name: 'two' }, [], 'x')?.leaves).toContain('s.two_2026_jp');
    expect(fresh.resolve(del, ctx)?.partitions).toEqual(['s.two_2026_eu']);
  });
});
