import { describe, expect, it } from 'vitest';
import type { ColumnCondition, Slot, WriteTarget } from '../sql/types.js';
import { Catalog, type ResolveContext } from './catalog.js';
import { TypeOid } from './key-codec.js';
import type { CatalogData, ColumnInfo, KeyPartInfo, RelationInfo, Strategy } from './model.js';
import { CatalogRefresher } from './refresher.js';

// A hand-written catalog: what loadCatalogData would return for these tables.
let nextOid = 1000;
const relations: RelationInfo[] = [];
const col = (name: string, typeOid: number, def: ColumnInfo['default'] = { kind: 'null' }, typmod = -1): ColumnInfo => ({ name, typeOid, typmod, default: def });
const part = (column: string, typeOid: number): KeyPartInfo => ({ column, typeOid, typmod: -1, defaultOpclass: true, bytewiseOrder: true, bytewiseEquality: true });
function table(name: string, columns: ColumnInfo[], opts: { parent?: number; bound?: string; key?: { strategy: Strategy; parts: KeyPartInfo[] }; schema?: string } = {}): number {
  const oid = nextOid++;
  relations.push({
    oid,
    schema: opts.schema ?? 'public',
    name,
    relkind: opts.key ? 'p' : 'r',
    parentOid: opts.parent ?? null,
    bound: opts.bound ?? null,
    columns,
    key: opts.key ?? null,
    foreignServer: null,
  });
  return oid;
}

const evCols = [col('id', TypeOid.int8, { kind: 'expr' }), col('created_at', TypeOid.timestamptz, { kind: 'expr' }), col('region', TypeOid.text, { kind: 'const', text: 'eu' })];
const events = table('events', evCols, { key: { strategy: 'range', parts: [part('created_at', TypeOid.timestamptz)] } });
table('events_2026_10', evCols, { parent: events, bound: "FOR VALUES FROM ('2026-10-01 00:00:00+00') TO ('2026-11-01 00:00:00+00')" });
table('events_2026_11', evCols, { parent: events, bound: "FOR VALUES FROM ('2026-11-01 00:00:00+00') TO ('2026-12-01 00:00:00+00')" });
table('events_default', evCols, { parent: events, bound: 'DEFAULT' });

const mCols = [col('a', TypeOid.int4), col('b', TypeOid.text)];
const m = table('m', mCols, { key: { strategy: 'range', parts: [part('a', TypeOid.int4), part('b', TypeOid.text)] } });
table('m1', mCols, { parent: m, bound: "FOR VALUES FROM (MINVALUE, MINVALUE) TO (0, 'm')" });
table('m2', mCols, { parent: m, bound: "FOR VALUES FROM (0, 'm') TO (10, MINVALUE)" });
table('m3', mCols, { parent: m, bound: 'FOR VALUES FROM (10, MINVALUE) TO (MAXVALUE, MAXVALUE)' });

const lCols = [col('id', TypeOid.int4), col('region', TypeOid.text)];
const l = table('l', lCols, { key: { strategy: 'list', parts: [part('region', TypeOid.text)] } });
table('l_eu', lCols, { parent: l, bound: "FOR VALUES IN ('eu')" });
table('l_us', lCols, { parent: l, bound: "FOR VALUES IN ('us', NULL)" });
table('l_other', lCols, { parent: l, bound: 'DEFAULT' });

const tCols = [col('d', TypeOid.date), col('region', TypeOid.text, { kind: 'const', text: 'eu' }), col('n', TypeOid.numeric, { kind: 'null' }, 4 + 2)];
const t2 = table('t2', tCols, { key: { strategy: 'range', parts: [part('d', TypeOid.date)] } });
const t2026 = table('t2_2026', tCols, { parent: t2, bound: "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')", key: { strategy: 'list', parts: [part('region', TypeOid.text)] } });
table('t2_2026_eu', tCols, { parent: t2026, bound: "FOR VALUES IN ('eu')" });
table('t2_2026_other', tCols, { parent: t2026, bound: 'DEFAULT' });
table('t2_2027', tCols, { parent: t2, bound: "FOR VALUES FROM ('2027-01-01') TO (MAXVALUE)" });

const nCols = [col('n', TypeOid.numeric, { kind: 'null' }, ((10 << 16) | 2) + 4)];
const nt = table('nt', nCols, { key: { strategy: 'range', parts: [part('n', TypeOid.numeric)] } });
table('nt_low', nCols, { parent: nt, bound: "FOR VALUES FROM (MINVALUE) TO ('10')" });
table('nt_high', nCols, { parent: nt, bound: "FOR VALUES FROM ('10') TO (MAXVALUE)" });

const plainOid = table('audit', [col('x', TypeOid.int4)], { schema: 'ops' });
const other = table('audit', [col('x', TypeOid.int4)], { schema: 'app' }); // not configured: not managed
void other;

const data: CatalogData = { relations, plainTableOids: [plainOid], loadedAtMs: 0, hashVerified: true };
const ctx = { searchPath: ['"$user"', 'public'], user: 'alice', timeZone: 'UTC' };

const c = (value: string | null): Slot => ({ kind: 'const', value });
const p = (index: number): Slot => ({ kind: 'param', index });
function insert(name: string, rows: Slot[][], columns: string[] | null = null): WriteTarget {
  return { table: { schema: null, name }, command: 'insert', insertColumns: columns, insertRows: rows, where: null, setColumns: null, only: false };
}
function where(name: string, w: Record<string, ColumnCondition> | null, command: 'update' | 'delete' = 'delete', setColumns: string[] | null = null): WriteTarget {
  return { table: { schema: null, name }, command, insertColumns: null, insertRows: null, where: w, setColumns, only: false };
}
const eq = (...values: Slot[]): ColumnCondition => ({ op: 'in', values });

describe('Catalog.resolve', () => {
  const cat = new Catalog(data);
  const parts = (t: WriteTarget, x: Partial<ResolveContext> = {}) => cat.resolve(t, { ...ctx, ...x })?.partitions;

  it('range: lower bound inclusive, upper exclusive, outside → DEFAULT, NULL → DEFAULT', () => {
    expect(parts(insert('events', [[c('2026-11-01 00:00:00+00')]], ['created_at']))).toEqual(['public.events_2026_11']);
    expect(parts(insert('events', [[c('2026-10-31 23:59:59.999999+00')]], ['created_at']))).toEqual(['public.events_2026_10']);
    expect(parts(insert('events', [[c('2026-12-01 00:00:00Z')]], ['created_at']))).toEqual(['public.events_default']);
    expect(parts(insert('events', [[c(null)]], ['created_at']))).toEqual(['public.events_default']);
    expect(parts(insert('events', [[c('2026-11-01 01:00:00+02')]], ['created_at']))).toEqual(['public.events_2026_10']);
  });

  it('range: a computed default (now()) or unknown value resolves to all', () => {
    const r = cat.resolve(insert('events', [[c('eu')]], ['region']), ctx);
    expect(r).toEqual({ root: 'public.events', partitions: ['public.events_2026_10', 'public.events_2026_11', 'public.events_default'], all: true });
    expect(cat.resolve(insert('events', [[{ kind: 'unknown' }]], ['created_at']), ctx)?.all).toBe(true);
  });

  it('timestamptz without an offset in an unknown session zone widens by ±16h', () => {
    expect(cat.resolve(insert('events', [[c('2026-11-15 12:00')]], ['created_at']), { searchPath: ['public'], user: 'u' })?.partitions).toEqual(['public.events_2026_11']);
    expect(parts(insert('events', [[c('2026-11-01 03:00')]], ['created_at']), { timeZone: 'Europe/Paris' })).toEqual(['public.events_2026_10', 'public.events_2026_11']);
    expect(parts(insert('events', [[c('2026-11-01 03:00')]], ['created_at']), { timeZone: 'UTC' })).toEqual(['public.events_2026_11']);
  });

  it('multi-column range with MINVALUE/MAXVALUE', () => {
    const at = (a: string, b: string) => parts(insert('m', [[c(a), c(b)]]));
    expect(at('-2147483648', '')).toEqual(['public.m1']);
    expect(at('0', 'l')).toEqual(['public.m1']);
    expect(at('0', 'm')).toEqual(['public.m2']);
    expect(at('9', 'zzzz')).toEqual(['public.m2']);
    expect(at('10', '')).toEqual(['public.m3']);
    expect(at('2147483647', 'x')).toEqual(['public.m3']);
    // NULL in a range key with no DEFAULT partition: the server rejects the row.
    expect(parts(insert('m', [[c('1'), c(null)]]))).toEqual([]);
    // WHERE on the first column only prunes by it.
    expect(parts(where('m', { a: eq(c('0')) }))).toEqual(['public.m1', 'public.m2']);
    expect(parts(where('m', { a: { op: 'range', lo: { slot: c('10'), inclusive: true }, hi: null } }))).toEqual(['public.m3']);
    expect(parts(where('m', { a: { op: 'range', lo: null, hi: { slot: c('0'), inclusive: false } } }))).toEqual(['public.m1']);
    expect(parts(where('m', { a: eq(c('3')), b: eq(c('q'), c('a')) }))).toEqual(['public.m2']);
    expect(parts(where('m', { a: eq(c('3')), b: { op: 'range', lo: null, hi: { slot: c('x'), inclusive: true } } }))).toEqual(['public.m2']);
    // Gaps in the bounds make the DEFAULT partition possible for a range condition.
    expect(parts(where('events', { created_at: { op: 'range', lo: { slot: c('2026-10-05Z'), inclusive: true }, hi: { slot: c('2026-11-05Z'), inclusive: false } } }))).toEqual(['public.events_2026_10', 'public.events_2026_11']);
    expect(parts(where('events', { created_at: { op: 'range', lo: { slot: c('2026-10-05Z'), inclusive: true }, hi: null } }))).toEqual(['public.events_2026_10', 'public.events_2026_11', 'public.events_default']);
    expect(parts(where('events', { created_at: { op: 'range', lo: null, hi: { slot: c('2026-10-05Z'), inclusive: true } } }))).toEqual(['public.events_2026_10', 'public.events_default']);
  });

  it('list: values, NULL partition, DEFAULT, WHERE IN and ranges', () => {
    expect(parts(insert('l', [[c('1'), c('eu')], [c('2'), c(null)]]))).toEqual(['public.l_eu', 'public.l_us']);
    expect(parts(insert('l', [[c('1'), c('EU')]]))).toEqual(['public.l_other']);
    expect(parts(insert('l', [[c('1')]]))).toEqual(['public.l_us']); // omitted column: NULL
    expect(parts(where('l', { region: eq(c('us'), c('zz')) }))).toEqual(['public.l_us', 'public.l_other']);
    expect(parts(where('l', { region: eq(c(null)) }))).toEqual([]); // = NULL matches nothing
    expect(parts(where('l', { region: { op: 'range', lo: { slot: c('f'), inclusive: true }, hi: null } }))).toEqual(['public.l_us', 'public.l_other']);
    expect(parts(where('l', { id: eq(c('1')) }))).toEqual(['public.l_eu', 'public.l_us', 'public.l_other']);
    expect(parts(where('l', null))).toHaveLength(3);
  });

  it('parameters in text and binary format', () => {
    const t = where('l', { region: eq(p(1)) }, 'update', ['id']);
    expect(parts(t, { params: [{ value: Buffer.from('eu'), format: 1 }] })).toEqual(['public.l_eu']);
    expect(parts(t, { params: [{ value: Buffer.from('us'), format: 0 }] })).toEqual(['public.l_us']);
    expect(parts(t, { params: [{ value: null, format: 0 }] })).toEqual([]);
    expect(parts(t)).toHaveLength(3); // not bound yet
    expect(parts(t, { params: [{ value: Buffer.from('eu'), format: 0 }], paramTypes: [TypeOid.int4] })).toHaveLength(3);
    const bin = Buffer.alloc(4);
    bin.writeInt32BE(10);
    expect(parts(insert('m', [[p(1), p(2)]]), { params: [{ value: bin, format: 1 }, { value: Buffer.from('a'), format: 0 }] })).toEqual(['public.m3']);
  });

  it('UPDATE assigning a key column, or with unknown SET, resolves to all', () => {
    expect(cat.resolve(where('l', { region: eq(c('eu')) }, 'update', ['region']), ctx)?.all).toBe(true);
    expect(cat.resolve(where('l', { region: eq(c('eu')) }, 'update', null), ctx)?.all).toBe(true);
    expect(cat.resolve(where('t2', { d: eq(c('2026-03-01')) }, 'update', ['region']), ctx)?.all).toBe(true);
    expect(parts(where('l', { region: eq(c('eu')) }, 'update', ['id']))).toEqual(['public.l_eu']);
  });

  it('multi-level: routes through each level, defaults applied per column', () => {
    expect(parts(insert('t2', [[c('2026-05-01'), c('eu')]]))).toEqual(['public.t2_2026_eu']);
    expect(parts(insert('t2', [[c('2026-05-01'), c('us')]]))).toEqual(['public.t2_2026_other']);
    expect(parts(insert('t2', [[c('2026-05-01')]]))).toEqual(['public.t2_2026_eu']); // region DEFAULT 'eu'
    expect(parts(insert('t2', [[c('2026-05-01'), { kind: 'default' }]], ['d', 'region']))).toEqual(['public.t2_2026_eu']);
    expect(parts(insert('t2', [[c('2026-05-01'), { kind: 'unknown' }]]))).toEqual(['public.t2_2026_eu', 'public.t2_2026_other']);
    expect(parts(insert('t2', [[c('2031-01-01'), c('eu')]]))).toEqual(['public.t2_2027']);
    expect(parts(insert('t2', [[c('1999-01-01'), c('eu')]]))).toEqual([]);
    expect(parts(where('t2', { d: eq(c('2027-06-01')) }))).toEqual(['public.t2_2027']);
    expect(parts(where('t2', { region: eq(c('eu')) }))).toEqual(['public.t2_2026_eu', 'public.t2_2027']);
    // Naming the intermediate table resolves within its subtree; the root stays the top table.
    expect(cat.resolve(insert('t2_2026', [[c('2026-05-01'), c('fr')]]), ctx)).toEqual({ root: 'public.t2', partitions: ['public.t2_2026_other'], all: false });
  });

  it('numeric(p,s) values are rounded as INSERT stores them', () => {
    expect(parts(insert('nt', [[c('9.995')]]))).toEqual(['public.nt_high']);
    expect(parts(insert('nt', [[c('9.994')]]))).toEqual(['public.nt_low']);
    expect(parts(where('nt', { n: eq(c('9.995')) }))).toEqual(['public.nt_low']);
  });

  it('leaves, plain tables, ONLY, TRUNCATE/COPY/MERGE and unmanaged tables', () => {
    expect(cat.resolve(insert('l_eu', [[c('1'), c('us')]]), ctx)).toEqual({ root: 'public.l', partitions: ['public.l_eu'], all: true });
    expect(cat.resolve({ ...insert('audit', [[c('1')]]), table: { schema: 'ops', name: 'audit' } }, ctx)).toEqual({ root: 'ops.audit', partitions: ['ops.audit'], all: true });
    expect(cat.resolve({ ...insert('audit', [[c('1')]]), table: { schema: 'app', name: 'audit' } }, ctx)).toBeUndefined();
    expect(cat.resolve(insert('nope', [[c('1')]]), ctx)).toBeUndefined();
    expect(cat.resolve({ ...where('l', { region: eq(c('eu')) }), only: true }, ctx)?.all).toBe(true);
    for (const command of ['truncate', 'copy', 'merge'] as const) expect(cat.resolve({ ...where('l', { region: eq(c('eu')) }), command }, ctx)?.all).toBe(true);
    expect(cat.resolve(insert('events', [[c('2026-11-02Z')]], ['created_at']), { ...ctx, searchPath: ['alice'] })).toBeUndefined();
  });

  it('lookup follows the search path, "$user" included', () => {
    // app.audit is not managed, so the catalog does not know it shadows ops.audit: it over-reports, never under-reports.
    expect(cat.lookup({ schema: null, name: 'audit' }, ['"$user"', 'ops'], 'app')?.name).toBe('ops.audit');
    expect(cat.lookup({ schema: null, name: 'audit' }, ['ops'], 'x')?.kind).toBe('plain');
    expect(cat.lookup({ schema: 'public', name: 't2_2026' }, [], 'x')).toEqual({
      name: 'public.t2_2026',
      root: 'public.t2',
      kind: 'partitioned',
      leaves: ['public.t2_2026_eu', 'public.t2_2026_other'],
    });
    expect(cat.leaves()).toHaveLength(3 + 3 + 3 + 3 + 2 + 1);
  });
});

describe('hash partitions', () => {
  const hCols = [col('k', TypeOid.int4)];
  const rels: RelationInfo[] = [
    { oid: 1, schema: 'public', name: 'h', relkind: 'p', parentOid: null, bound: null, columns: hCols, key: { strategy: 'hash', parts: [part('k', TypeOid.int4)] }, foreignServer: null },
    ...[0, 1, 2].map((r): RelationInfo => ({ oid: 2 + r, schema: 'public', name: `h${r}`, relkind: 'r', parentOid: 1, bound: `FOR VALUES WITH (modulus 3, remainder ${r})`, columns: hCols, key: null, foreignServer: null })),
  ];
  it('routes by the reproduced hash, or to all when the server failed the hash probe', () => {
    // hash_combine64(0, hashint4extended(5, seed)) ≡ 2 (mod 3); hashint4extended checked against PostgreSQL in hash.test.ts.
    const t = insert('h', [[c('5')]]);
    expect(new Catalog({ relations: rels, plainTableOids: [], loadedAtMs: 0, hashVerified: true }).resolve(t, ctx)?.partitions).toEqual(['public.h2']);
    expect(new Catalog({ relations: rels, plainTableOids: [], loadedAtMs: 0, hashVerified: false }).resolve(t, ctx)?.all).toBe(true);
    // NULL hashes to 0: remainder 0.
    expect(new Catalog({ relations: rels, plainTableOids: [], loadedAtMs: 0, hashVerified: true }).resolve(insert('h', [[c(null)]]), ctx)?.partitions).toEqual(['public.h0']);
  });
});

describe('stale marking', () => {
  it('a marked table resolves to all; an unknown name marks everything', () => {
    const cat = new Catalog(data);
    const t = insert('l', [[c('1'), c('eu')]]);
    cat.markStale('public.l_eu');
    expect(cat.resolve(t, ctx)?.all).toBe(true);
    expect(cat.resolve(insert('m', [[c('1'), c('a')]]), ctx)?.all).toBe(false);
    cat.markStale({ schema: null, name: 'brand_new' }, ctx.searchPath, ctx.user);
    expect(cat.resolve(insert('m', [[c('1'), c('a')]]), ctx)?.all).toBe(true);
  });

  it('the refresher swaps catalogs and keeps marks made during a load', async () => {
    let release: () => void = () => undefined;
    let loads = 0;
    const r = new CatalogRefresher({
      intervalMs: 60_000,
      load: async () => {
        loads++;
        if (loads === 2) await new Promise<void>((res) => (release = res));
        return new Catalog(data);
      },
    });
    const first = await r.start();
    const t = insert('l', [[c('1'), c('eu')]]);
    expect(r.current.resolve(t, ctx)?.all).toBe(false);
    const pending = r.refreshNow();
    r.markStale('public.l'); // DDL while the load runs: the load may not have seen it
    expect(r.current.resolve(t, ctx)?.all).toBe(true);
    release();
    const second = await pending;
    // Identity only: a deep comparison of two catalogs (cyclic trees, maps keyed by nodes) is very slow.
    expect(second === first).toBe(false);
    expect(r.current.resolve(t, ctx)?.all).toBe(true);
    await r.refreshNow(); // a load that began after the mark clears it
    await new Promise((res) => setTimeout(res, 100));
    expect(r.current.resolve(t, ctx)?.all).toBe(false);
    r.stop();
  });
});
