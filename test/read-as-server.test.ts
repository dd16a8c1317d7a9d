/**
 * The proxy reads keys as the server does, or says it cannot (#11, items 6 and 7). Differential:
 * every literal form is inserted through quietcut, the server reports where the row went
 * (tableoid::regclass), and what quietcut resolved for that request must include that partition or
 * be marked unknown (which a window treats as every partition). Session settings reach the proxy the
 * way they do in production: SET through the proxy, values from the server's ParameterStatus.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import pg from 'pg';
import { loadConfig } from '../src/config/load.js';
import { runNode, type RunningNode } from '../src/cli/run-node.js';
import type { LocalCluster } from '../src/localdb/cluster.js';
import { isMarker, visibleEntry } from '../src/proxy/gate.js';
import { WriteInspector, type InspectorShared } from '../src/proxy/write-inspector.js';
import { silentLogger } from '../src/util/log.js';
import { startTestCluster } from './helpers/pg.js';

let cluster: LocalCluster;
let node: RunningNode;
/** The visible set of every request, in order, of every session of the node. */
const requests: Array<ReadonlySet<string>> = [];

class RecordingInspector extends WriteInspector {
  override takeRequest(): ReadonlySet<string> {
    const v = super.takeRequest();
    requests.push(new Set(v));
    return v;
  }
}

beforeAll(async () => {
  cluster = await startTestCluster();
  await cluster.query(
    `CREATE TABLE lit_int (k int) PARTITION BY RANGE (k);
     CREATE TABLE lit_int_neg PARTITION OF lit_int FOR VALUES FROM (MINVALUE) TO (0);
     CREATE TABLE lit_int_small PARTITION OF lit_int FOR VALUES FROM (0) TO (10);
     CREATE TABLE lit_int_mid PARTITION OF lit_int FOR VALUES FROM (10) TO (1000);
     CREATE TABLE lit_int_big PARTITION OF lit_int FOR VALUES FROM (1000) TO (MAXVALUE);
     CREATE TABLE lit_num (k numeric) PARTITION BY RANGE (k);
     CREATE TABLE lit_num_neg PARTITION OF lit_num FOR VALUES FROM (MINVALUE) TO (0);
     CREATE TABLE lit_num_frac PARTITION OF lit_num FOR VALUES FROM (0) TO (1);
     CREATE TABLE lit_num_mid PARTITION OF lit_num FOR VALUES FROM (1) TO (100);
     CREATE TABLE lit_num_big PARTITION OF lit_num FOR VALUES FROM (100) TO (MAXVALUE);
     CREATE TABLE lit_date (k date) PARTITION BY RANGE (k);
     CREATE TABLE lit_date_bc PARTITION OF lit_date FOR VALUES FROM (MINVALUE) TO ('0001-01-01');
     CREATE TABLE lit_date_old PARTITION OF lit_date FOR VALUES FROM ('0001-01-01') TO ('2026-01-01');
     CREATE TABLE lit_date_jan PARTITION OF lit_date FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
     CREATE TABLE lit_date_late PARTITION OF lit_date FOR VALUES FROM ('2026-02-01') TO (MAXVALUE);
     CREATE TABLE lit_ts (k timestamp) PARTITION BY RANGE (k);
     CREATE TABLE lit_ts_bc PARTITION OF lit_ts FOR VALUES FROM (MINVALUE) TO ('0001-01-01');
     CREATE TABLE lit_ts_old PARTITION OF lit_ts FOR VALUES FROM ('0001-01-01') TO ('2026-01-01');
     CREATE TABLE lit_ts_jan1am PARTITION OF lit_ts FOR VALUES FROM ('2026-01-01') TO ('2026-01-01 12:00');
     CREATE TABLE lit_ts_jan1pm PARTITION OF lit_ts FOR VALUES FROM ('2026-01-01 12:00') TO ('2026-01-02');
     CREATE TABLE lit_ts_later PARTITION OF lit_ts FOR VALUES FROM ('2026-01-02') TO (MAXVALUE);
     CREATE TABLE lit_tz (k timestamptz) PARTITION BY RANGE (k);
     CREATE TABLE lit_tz_before PARTITION OF lit_tz FOR VALUES FROM (MINVALUE) TO ('2026-01-01 00:00+00');
     CREATE TABLE lit_tz_q1 PARTITION OF lit_tz FOR VALUES FROM ('2026-01-01 00:00+00') TO ('2026-01-01 06:00+00');
     CREATE TABLE lit_tz_q2 PARTITION OF lit_tz FOR VALUES FROM ('2026-01-01 06:00+00') TO ('2026-01-01 12:00+00');
     CREATE TABLE lit_tz_q3 PARTITION OF lit_tz FOR VALUES FROM ('2026-01-01 12:00+00') TO ('2026-01-01 18:00+00');
     CREATE TABLE lit_tz_q4 PARTITION OF lit_tz FOR VALUES FROM ('2026-01-01 18:00+00') TO ('2026-01-02 00:00+00');
     CREATE TABLE lit_tz_after PARTITION OF lit_tz FOR VALUES FROM ('2026-01-02 00:00+00') TO (MAXVALUE);
     CREATE TABLE lit_text (k text) PARTITION BY LIST (k);
     CREATE TABLE lit_text_e PARTITION OF lit_text FOR VALUES IN ('é');
     CREATE TABLE lit_text_bs PARTITION OF lit_text FOR VALUES IN ('a\\b');
     CREATE TABLE lit_text_bsbs PARTITION OF lit_text FOR VALUES IN ('a\\\\b');
     CREATE TABLE lit_text_q PARTITION OF lit_text FOR VALUES IN ('x''y');
     CREATE TABLE lit_text_other PARTITION OF lit_text DEFAULT;
     CREATE TABLE lit_move (k int) PARTITION BY RANGE (k);
     CREATE TABLE lit_move_a PARTITION OF lit_move FOR VALUES FROM (0) TO (10);
     CREATE TABLE lit_move_b PARTITION OF lit_move FOR VALUES FROM (10) TO (20);`,
    [],
    'demo',
  );
  const config = loadConfig({ env: {}, overrides: { upstream: { url: cluster.url('demo') }, listen: '127.0.0.1:0', metrics: { listen: null }, stats: { enabled: false } } });
  node = await runNode(config, silentLogger);
  const shared: InspectorShared = {
    classifier: node.classifier,
    catalog: () => node.catalog.current,
    markStale: (ref, searchPath, user) => (ref ? node.catalog.markStale(ref, searchPath, user) : node.catalog.refreshSoon()),
    sink: { record: () => undefined },
    writingFunctions: new Map(),
    preparedGids: new Map(),
    unclassified: () => undefined,
    failClosed: true,
  };
  node.proxy.setInspectorFactory((params) => new RecordingInspector(shared, params));
}, 60_000);
afterAll(async () => {
  await node?.stop();
  await cluster?.stop();
});

async function until(cond: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const nodeUrl = (): string => `postgres://postgres@127.0.0.1:${node.proxy.address.port}/demo`;

interface Outcome {
  sql: string;
  server: string | null;
  resolved: string[];
  unknown: boolean;
}

/** Run one INSERT … RETURNING through quietcut; what the server did and what quietcut resolved. */
async function insert(c: pg.Client, table: string, literal: string, params?: unknown[]): Promise<Outcome> {
  const sql = `INSERT INTO ${table} VALUES (${literal}) RETURNING tableoid::regclass::text AS part`;
  const before = requests.length;
  let server: string | null = null;
  try {
    const r = await c.query<{ part: string }>(sql, params);
    server = `public.${r.rows[0]!.part}`;
  } catch {
    server = null; // the server rejected the literal: nothing was written
  }
  const mine = requests.slice(before);
  const all = new Set<string>();
  for (const v of mine) for (const e of v) all.add(e);
  const unknown = [...all].some((e) => isMarker(e) && visibleEntry(e).kind === 'unknown');
  return { sql, server, resolved: [...all].filter((e) => !isMarker(e)), unknown };
}

/** quietcut never resolves fewer partitions than the server wrote. */
function expectCovered(o: Outcome): void {
  if (o.server === null) return;
  const covered = o.unknown || o.resolved.includes(o.server);
  expect({ sql: o.sql, covered, server: o.server, resolved: o.resolved }).toEqual({ sql: o.sql, covered: true, server: o.server, resolved: o.resolved });
}

async function withSession<T>(settings: string[], f: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(nodeUrl());
  await c.connect();
  try {
    for (const s of settings) await c.query(s);
    return await f(c);
  } finally {
    await c.end();
  }
}

const INT_FORMS = ["'5'", "'+5'", "' 5 '", "'-0'", "'0005'", "'  -7'", '5', '+5', '-5', '1e3', '5.5', '9.5', "'1e3'", '12_0', "'10'", '999.5'];
const NUM_FORMS = ["'1e3'", "'.5'", "'+5'", "' 5 '", "'5.'", "'NaN'", "'nan'", "'Infinity'", "'-Infinity'", "'inf'", "'1E-2'", "'00012'", "'-0.0'", '1e3', '.5', '+.5', '-1e-1', "'99.999999999999999999999'", "'1e2'", "'100'", '0.99999999999999999999999'];
const DATE_FORMS = [
  "'2026-01-05'",
  "'2026-01-05 BC'",
  "'2026-01-05 AD'",
  "'01/02/2026'",
  "'02/01/2026'",
  "'2026-1-2'",
  "' 2026-01-05 '",
  "'20260105'",
  "'Jan 5 2026'",
  "'5 Feb 2026'",
  "'infinity'",
  "'-infinity'",
  "'epoch'",
  "'today'",
  "'J2461046'",
  "'2026-01-31 23:00'",
  "'0001-01-01 BC'",
];
const TS_FORMS = [
  "'2026-01-01 00:00:00'",
  "'2026-01-01 00:00:00 BC'",
  "'2026-01-01 11:00 PM'",
  "'2026-01-01 11:00 AM'",
  "'2026-01-01T13:00'",
  "'2026-01-01 24:00:00'",
  "'2026-01-01 00:00:00+05'",
  "'2026-01-01 13:00 Europe/Paris'",
  "'2026-01-01 13:00 EST'",
  "'infinity'",
  "'-infinity'",
  "'2026-01-01 11:59:59.9999996'",
  "'2026-01-01 11:59:59.999999'",
  "'01/01/2026 13:00'",
  "'2026-01-01 allballs'",
  "'J2461042'",
  "'2026-01-01 12:00:00 PST8PDT'",
  "'epoch'",
];
const TZ_FORMS = [
  "'2026-01-01 03:00'",
  "'2026-01-01 03:00+00'",
  "'2026-01-01 03:00-05'",
  "'2026-01-01 03:00+05:30'",
  "'2026-01-01 03:00 UTC'",
  "'2026-01-01 03:00 America/New_York'",
  "'2026-01-01 03:00 EST'",
  "'2026-01-01 03:00 BC'",
  "'2026-01-01 11:00 PM'",
  "'2026-01-01T23:30:00Z'",
  "'infinity'",
  "'2026-01-01 03:00 +05'",
  "'2026-01-01 03:00 UTC+5'",
];

describe('literal forms (item 7): the server\'s partition is always among quietcut\'s', () => {
  for (const [table, forms] of [
    ['lit_int', INT_FORMS],
    ['lit_num', NUM_FORMS],
    ['lit_date', DATE_FORMS],
    ['lit_ts', TS_FORMS],
    ['lit_tz', TZ_FORMS],
  ] as const) {
    for (const settings of [[], ["SET DateStyle = 'SQL, DMY'"], ["SET DateStyle = 'German'"], ["SET TimeZone = 'Asia/Kolkata'"], ["SET TimeZone = '+05'"], ["SET TimeZone = 'America/New_York'", "SET IntervalStyle = 'sql_standard'"]]) {
      test(`${table} under ${settings.length === 0 ? 'defaults' : settings.join('; ')}`, async () => {
        const outcomes = await withSession(settings, async (c) => {
          const out: Outcome[] = [];
          for (const f of forms) out.push(await insert(c, table, f));
          return out;
        });
        for (const o of outcomes) expectCovered(o);
        // the forms are not all rejected: the test says something
        expect(outcomes.filter((o) => o.server !== null).length).toBeGreaterThan(forms.length / 2);
      });
    }
  }

  test('plain ISO forms stay exact: one partition, the server\'s', async () => {
    const outcomes = await withSession(["SET TimeZone = 'UTC'"], async (c) => [
      await insert(c, 'lit_int', '5'),
      await insert(c, 'lit_num', "'1e3'"),
      await insert(c, 'lit_date', "'2026-01-05'"),
      await insert(c, 'lit_ts', "'2026-01-01 13:00'"),
      await insert(c, 'lit_tz', "'2026-01-01 13:00+00'"),
      await insert(c, 'lit_tz', "'2026-01-01 13:00'"),
    ]);
    for (const o of outcomes) expect({ sql: o.sql, resolved: o.resolved, unknown: o.unknown }).toEqual({ sql: o.sql, resolved: [o.server], unknown: false });
  });

  test('a timestamp with BC goes before year 1 on the server and is never resolved to 2026', async () => {
    const o = await withSession([], (c) => insert(c, 'lit_ts', "'2026-01-01 13:00 BC'"));
    expect(o.server).toBe('public.lit_ts_bc');
    expectCovered(o);
  });
});

describe('session settings that change how SQL reads (item 6)', () => {
  test('standard_conforming_strings = off: a backslash literal is followed or fails closed', async () => {
    const outcomes = await withSession(['SET standard_conforming_strings = off', 'SET escape_string_warning = off'], async (c) => [
      await insert(c, 'lit_text', "'a\\\\b'"),
      await insert(c, 'lit_text', "'a\\b'"),
      await insert(c, 'lit_text', "'x\\'y'"),
      await insert(c, 'lit_text', "E'a\\\\b'"),
      await insert(c, 'lit_text', "'plain'"),
    ]);
    expect(outcomes.map((o) => o.server)).toEqual(['public.lit_text_bs', 'public.lit_text_other', 'public.lit_text_q', 'public.lit_text_bs', 'public.lit_text_other']);
    for (const o of outcomes) expectCovered(o);
    // text without a backslash reads the same under either setting: still exact
    expect(outcomes[4]).toMatchObject({ resolved: ['public.lit_text_other'], unknown: false });
  });

  test('a SET in the same Query as the write: the write is read as the server reads it or fails closed', async () => {
    const o = await withSession([], async (c) => {
      const before = requests.length;
      const r = await c.query<{ part: string }>("SET standard_conforming_strings = off; INSERT INTO lit_text VALUES ('a\\\\b') RETURNING tableoid::regclass::text AS part; RESET standard_conforming_strings");
      const results = r as unknown as Array<{ rows: Array<{ part: string }> }>;
      const v = requests.slice(before).flatMap((s) => [...s]);
      return { server: `public.${results[1]!.rows[0]!.part}`, v };
    });
    // The server parses a whole Query string before it runs any of it: the SET applies from the next one.
    expect(o.server).toBe('public.lit_text_bsbs');
    expect(o.v.includes('public.lit_text_bsbs') || o.v.some((e) => isMarker(e) && visibleEntry(e).kind === 'unknown')).toBe(true);
  });

  test('client_encoding = LATIN1: a non-ASCII text key is never resolved as UTF-8', async () => {
    const outcomes = await withSession(["SET client_encoding = 'LATIN1'"], async (c) => [
      // node-postgres sends UTF-8 bytes; the server reads them as LATIN1 (two characters)
      await insert(c, 'lit_text', "'é'"),
      await insert(c, 'lit_text', '$1', ['é']),
      await insert(c, 'lit_text', "'plain'"),
    ]);
    expect(outcomes[0]!.server).toBe('public.lit_text_other');
    expect(outcomes[1]!.server).toBe('public.lit_text_other');
    for (const o of outcomes) expectCovered(o);
    expect(outcomes[0]!.unknown).toBe(true);
    expect(outcomes[1]!.unknown).toBe(true);
    // ASCII reads the same in every client encoding: exact
    expect(outcomes[2]).toMatchObject({ resolved: ['public.lit_text_other'], unknown: false });
  });

  test('back to UTF8 (RESET): the same key resolves exactly again', async () => {
    const o = await withSession(["SET client_encoding = 'LATIN1'", 'RESET client_encoding'], (c) => insert(c, 'lit_text', "'é'"));
    expect(o).toMatchObject({ server: 'public.lit_text_e', resolved: ['public.lit_text_e'], unknown: false });
  });
});

describe('catalog changes inside a transaction (item 8)', () => {
  test('DETACH then ATTACH with new bounds in one transaction: right from the COMMIT on, even when a catalog load ran inside it', async () => {
    const outcomes = await withSession([], async (c) => {
      const before = await insert(c, 'lit_move', '5');
      await c.query('BEGIN');
      await c.query('DELETE FROM lit_move');
      await c.query('ALTER TABLE lit_move DETACH PARTITION lit_move_a');
      await c.query('ALTER TABLE lit_move DETACH PARTITION lit_move_b');
      await c.query('ALTER TABLE lit_move ATTACH PARTITION lit_move_a FOR VALUES FROM (10) TO (20)');
      await c.query('ALTER TABLE lit_move ATTACH PARTITION lit_move_b FOR VALUES FROM (0) TO (10)');
      // A reload while the transaction is open: it waits for the DDL's lock, and may read the old
      // bounds with a snapshot from before the COMMIT.
      const loading = node.catalog.refreshNow();
      await until(async () => (await cluster.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'")).rows[0]!.n > 0);
      await c.query('COMMIT');
      await loading;
      const right = await insert(c, 'lit_move', '5');
      const other = await insert(c, 'lit_move', '15');
      return { before, right, other };
    });
    expect(outcomes.before.server).toBe('public.lit_move_a');
    expect(outcomes.right.server).toBe('public.lit_move_b');
    expect(outcomes.other.server).toBe('public.lit_move_a');
    expectCovered(outcomes.before);
    expectCovered(outcomes.right);
    expectCovered(outcomes.other);
    // and once a load begun after the COMMIT has landed, the new bounds resolve exactly
    await node.catalog.refreshNow();
    const exact = await withSession([], (c) => insert(c, 'lit_move', '5'));
    expect(exact).toMatchObject({ server: 'public.lit_move_b', resolved: ['public.lit_move_b'], unknown: false });
  });
});
