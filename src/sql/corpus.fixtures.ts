/**
 * Statements with their expected classification. Each one is here for a reason a comment gives when
 * the reason is not obvious; together they cover every form issue 3 lists.
 */
import { c, ddl, DEF, del, eq, ins, other, p, range, read, target, tx, UNK, UNPARSED, upd, write } from './corpus-builders.js';
import type { CorpusCase } from './corpus-builders.js';

const whole = (sql: string, e: CorpusCase['expect'][number]): CorpusCase => ({ sql, expect: [e] });

export const CORPUS: CorpusCase[] = [
  // ── INSERT ───────────────────────────────────────────────────────────────────────────────────
  whole("INSERT INTO events (id, created_at, payload) VALUES (1, '2026-01-05', 'x')", write([ins('events', ['id', 'created_at', 'payload'], [[c('1'), c('2026-01-05'), c('x')]])])),
  whole('INSERT INTO events (id, created_at) VALUES ($1, $2)', write([ins('events', ['id', 'created_at'], [[p(1), p(2)]])])),
  whole("INSERT INTO events VALUES (1, '2026-01-05')", write([ins('events', null, [[c('1'), c('2026-01-05')]])])),
  whole(
    "INSERT INTO events (id, created_at) VALUES (1, '2026-01-05'), (2, '2026-02-05'), ($1, $2)",
    write([ins('events', ['id', 'created_at'], [[c('1'), c('2026-01-05')], [c('2'), c('2026-02-05')], [p(1), p(2)]])]),
  ),
  whole('INSERT INTO events (id, created_at) VALUES (DEFAULT, now())', write([ins('events', ['id', 'created_at'], [[DEF, UNK]])], { functions: ['now'] })),
  whole('INSERT INTO events DEFAULT VALUES', write([ins('events', [], [[]])])),
  whole("INSERT INTO events (created_at) VALUES ('2026-01-01'::date)", write([ins('events', ['created_at'], [[c('2026-01-01', 'date')]])])),
  whole("INSERT INTO events (created_at) VALUES (DATE '2026-01-01')", write([ins('events', ['created_at'], [[c('2026-01-01', 'date')]])])),
  whole('INSERT INTO events (id) VALUES ($1::int)', write([ins('events', ['id'], [[p(1, 'int4')]])])),
  whole('INSERT INTO events (id) VALUES ($1::bigint)', write([ins('events', ['id'], [[p(1, 'int8')]])])),
  whole("INSERT INTO events (ts) VALUES ('2026-01-01 10:00'::timestamp with time zone)", write([ins('events', ['ts'], [[c('2026-01-01 10:00', 'timestamptz')]])])),
  // Two casts may each convert: the value is not trusted.
  whole("INSERT INTO events (d) VALUES ('2026-01-01 10:00'::timestamp::date)", write([ins('events', ['d'], [[UNK]])])),
  // Casts that round or cut change the value: 5.7::int is 6, a date drops the time, varchar(3) cuts.
  whole("INSERT INTO events (code) VALUES ('abcd'::varchar(3))", write([ins('events', ['code'], [[UNK]])])),
  whole('INSERT INTO events (id) VALUES (5.7::int)', write([ins('events', ['id'], [[UNK]])])),
  whole("INSERT INTO events (ts) VALUES ('2026-01-01 10:00'::date)", write([ins('events', ['ts'], [[UNK]])])),
  whole("INSERT INTO events (ts) VALUES ('2026-01-01 10:00+05'::timestamp)", write([ins('events', ['ts'], [[UNK]])])),
  whole("INSERT INTO events (ts) VALUES ('2026-01-01 10:00:00.5'::timestamp, '42'::int8)", write([ins('events', ['ts'], [[c('2026-01-01 10:00:00.5', 'timestamp'), c('42', 'int8')]])])),
  whole("INSERT INTO events (u) VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid)", write([ins('events', ['u'], [[c('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'uuid')]])])),
  whole('INSERT INTO events (id, flag, note, amount, big) VALUES (-5, true, NULL, 1.50, 10000000000)', write([ins('events', ['id', 'flag', 'note', 'amount', 'big'], [[c('-5'), c('true'), c(null), c('1.50'), c('10000000000')]])])),
  whole('INSERT INTO events (id, flag) VALUES (0, false)', write([ins('events', ['id', 'flag'], [[c('0'), c('false')]])])),
  // Bit strings arrive as 'b101' from the parser, not their text form.
  whole("INSERT INTO events (bits) VALUES (B'101')", write([ins('events', ['bits'], [[UNK]])])),
  whole('INSERT INTO events (id) VALUES (1 + 1)', write([ins('events', ['id'], [[UNK]])])),
  whole('INSERT INTO events (id) VALUES ((SELECT max(id) FROM events))', write([ins('events', ['id'], [[UNK]])], { functions: ['max'] })),
  // A value for an array element or a composite field is not the column's value.
  whole('INSERT INTO events (tags[1], id) VALUES ($1, $2)', write([ins('events', ['tags', 'id'], [[UNK, p(2)]])])),
  whole('INSERT INTO events (id, created_at) SELECT id, created_at FROM staging', write([ins('events', ['id', 'created_at'], null)])),
  whole('INSERT INTO events SELECT * FROM staging WHERE id > 10', write([ins('events', null, null)])),
  whole('INSERT INTO events (id) VALUES (1) UNION VALUES (2)', write([ins('events', ['id'], null)])),
  whole('INSERT INTO events (id) VALUES (3), (1) ORDER BY 1 LIMIT 1', write([ins('events', ['id'], [[c('3')], [c('1')]])])),
  whole('INSERT INTO events (id, v) VALUES (1, 2) ON CONFLICT DO NOTHING', write([ins('events', ['id', 'v'], [[c('1'), c('2')]])])),
  // The conflict update touches the row in the partition the insert targets (the server refuses to move it).
  whole(
    'INSERT INTO events (id, v) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET v = excluded.v, id = excluded.id',
    write([ins('events', ['id', 'v'], [[p(1), p(2)]])]),
  ),
  whole('INSERT INTO events (id, v) VALUES (1, 2) ON CONFLICT ON CONSTRAINT events_pkey DO UPDATE SET v = 3 WHERE events.v < 3', write([ins('events', ['id', 'v'], [[c('1'), c('2')]])])),
  whole('INSERT INTO events (id) VALUES (1) RETURNING id, tableoid::regclass', write([ins('events', ['id'], [[c('1')]])])),
  whole('INSERT INTO events AS e (id) VALUES (1) ON CONFLICT (id) DO UPDATE SET v = e.v + 1 RETURNING *', write([ins('events', ['id'], [[c('1')]])])),
  whole('INSERT INTO events (id) OVERRIDING SYSTEM VALUE VALUES (7)', write([ins('events', ['id'], [[c('7')]])])),
  whole("INSERT INTO events (id) VALUES (nextval('events_id_seq'))", write([ins('events', ['id'], [[UNK]])], { functions: ['nextval'] })),
  whole("insert into EVENTS (ID) values ('x')", write([ins('events', ['id'], [[c('x')]])])),
  whole("INSERT INTO \"Events\" (\"Id\") VALUES ('x')", write([ins('Events', ['Id'], [[c('x')]])])),
  whole('INSERT INTO sales.orders (region, id) VALUES ($1, $2)', write([ins('sales.orders', ['region', 'id'], [[p(1), p(2)]])])),
  whole("INSERT INTO \"Sales\".\"Order Lines\" (id) VALUES (1)", write([ins({ schema: 'Sales', name: 'Order Lines' }, ['id'], [[c('1')]])])),
  // Three-part names: the database part is dropped.
  whole('INSERT INTO mydb.public.events (id) VALUES (1)', write([ins('public.events', ['id'], [[c('1')]])])),
  // Naming a leaf partition directly: the target is the leaf itself.
  whole("INSERT INTO events_2026_01 (id, created_at) VALUES (1, '2026-01-05')", write([ins('events_2026_01', ['id', 'created_at'], [[c('1'), c('2026-01-05')]])])),
  whole("INSERT INTO events (note) VALUES ('it''s')", write([ins('events', ['note'], [[c("it's")]])])),
  whole("INSERT INTO events (note) VALUES (E'a\\nb')", write([ins('events', ['note'], [[c('a\nb')]])])),
  whole('INSERT INTO events (note) VALUES ($$dollar$$)', write([ins('events', ['note'], [[c('dollar')]])])),
  whole('INSERT INTO events (amount) VALUES (1e3)', write([ins('events', ['amount'], [[c('1e3')]])])),

  // ── UPDATE ───────────────────────────────────────────────────────────────────────────────────
  whole('UPDATE events SET v = 1 WHERE id = 5', write([upd('events', ['v'], { id: eq(c('5')) })])),
  whole('UPDATE events SET v = $1 WHERE id = $2', write([upd('events', ['v'], { id: eq(p(2)) })])),
  whole('UPDATE events SET v = 1 WHERE 5 = id', write([upd('events', ['v'], { id: eq(c('5')) })])),
  whole('UPDATE events SET v = 1 WHERE id IN (1, 2, $1)', write([upd('events', ['v'], { id: eq(c('1'), c('2'), p(1)) })])),
  whole('UPDATE events SET v = 1 WHERE id NOT IN (1, 2)', write([upd('events', ['v'], null)])),
  whole("UPDATE events SET v = 1 WHERE created_at BETWEEN '2026-01-01' AND '2026-01-31'", write([upd('events', ['v'], { created_at: range([c('2026-01-01'), true], [c('2026-01-31'), true]) })])),
  whole('UPDATE events SET v = 1 WHERE id NOT BETWEEN 1 AND 5', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE id BETWEEN SYMMETRIC 5 AND 1', write([upd('events', ['v'], null)])),
  whole(
    "UPDATE events SET v = 1 WHERE created_at >= '2026-01-01' AND created_at < '2026-02-01'",
    write([upd('events', ['v'], { created_at: range([c('2026-01-01'), true], [c('2026-02-01'), false]) })]),
  ),
  whole('UPDATE events SET v = 1 WHERE id > $1', write([upd('events', ['v'], { id: range([p(1), false], null) })])),
  whole('UPDATE events SET v = 1 WHERE id <= 10', write([upd('events', ['v'], { id: range(null, [c('10'), true]) })])),
  // Column on the right: the comparison flips.
  whole('UPDATE events SET v = 1 WHERE 10 > id AND 3 <= id', write([upd('events', ['v'], { id: range([c('3'), true], [c('10'), false]) })])),
  whole("UPDATE events SET v = 1 WHERE created_at = '2026-01-01'::date", write([upd('events', ['v'], { created_at: eq(c('2026-01-01', 'date')) })])),
  whole('UPDATE events SET v = 1 WHERE id = $1::int8', write([upd('events', ['v'], { id: eq(p(1, 'int8')) })])),
  // A cast on the column side compares something else (ts::date spans a whole day of ts).
  whole("UPDATE events SET v = 1 WHERE created_at::date = '2026-01-01'", write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE v > 3', write([upd('events', ['v'], { v: range([c('3'), false], null) })])),
  whole('UPDATE events SET v = 1 WHERE id = now()', write([upd('events', ['v'], null)], { functions: ['now'] })),
  whole('UPDATE events SET v = 1 WHERE id = 1 OR id = 2', write([upd('events', ['v'], { id: eq(c('1'), c('2')) })])),
  whole('UPDATE events SET v = 1 WHERE id = 1 OR region = 2', write([upd('events', ['v'], null)])),
  whole(
    "UPDATE events SET v = 1 WHERE (id = 1 AND region = 'eu') OR (id = 2 AND region = 'us')",
    write([upd('events', ['v'], { id: eq(c('1'), c('2')), region: eq(c('eu'), c('us')) })]),
  ),
  whole('UPDATE events SET v = 1 WHERE id = 1 OR id > 5', write([upd('events', ['v'], null)])),
  whole("UPDATE events SET v = 1 WHERE region = 'eu' AND (id = 1 OR v = 2)", write([upd('events', ['v'], { region: eq(c('eu')) })])),
  whole('UPDATE events SET v = 1 WHERE NOT (id = 1)', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE id IS NULL', write([upd('events', ['v'], { id: eq(c(null)) })])),
  whole('UPDATE events SET v = 1 WHERE id IS NOT NULL', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE archived', write([upd('events', ['v'], { archived: eq(c('true')) })])),
  whole('UPDATE events SET v = 1 WHERE NOT archived', write([upd('events', ['v'], { archived: eq(c('false')) })])),
  whole('UPDATE events SET v = 1 WHERE id = ANY(ARRAY[1, 2])', write([upd('events', ['v'], { id: eq(c('1'), c('2')) })])),
  // One array parameter: its elements are not known until Bind, and then only as an array.
  whole('UPDATE events SET v = 1 WHERE id = ANY($1)', write([upd('events', ['v'], null)])),
  whole("UPDATE events SET v = 1 WHERE (id, region) = (7, 'eu')", write([upd('events', ['v'], { id: eq(c('7')), region: eq(c('eu')) })])),
  whole('UPDATE events SET v = 1 WHERE id = 1 AND id = 2', write([upd('events', ['v'], { id: eq(c('1')) })])),
  whole('UPDATE events SET v = 1 WHERE id = 1 AND id IN (1, 2)', write([upd('events', ['v'], { id: eq(c('1')) })])),
  whole('UPDATE events SET v = 1 WHERE id > 1 AND id = 4', write([upd('events', ['v'], { id: eq(c('4')) })])),
  whole('UPDATE events SET v = 1 WHERE id OPERATOR(pg_catalog.=) 4', write([upd('events', ['v'], { id: eq(c('4')) })])),
  whole('UPDATE events SET v = 1 WHERE id <> 4', write([upd('events', ['v'], null)])),
  whole("UPDATE events SET v = 1 WHERE region LIKE 'e%'", write([upd('events', ['v'], null)])),
  whole("UPDATE events SET v = 1 WHERE region < 'm' COLLATE \"C\"", write([upd('events', ['v'], null)])),
  // The target's alias qualifies its columns; another table's column does not count.
  whole('UPDATE events e SET v = 1 WHERE e.id = 5 AND other.id = 6', write([upd('events', ['v'], { id: eq(c('5')) })])),
  whole('UPDATE events AS e SET v = s.v FROM staging s WHERE e.id = s.id AND s.id = 3', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = s.v FROM staging s WHERE events.id = s.id AND events.id = 3', write([upd('events', ['v'], { id: eq(c('3')) })])),
  whole('UPDATE public.events SET v = 1 WHERE public.events.id = 3', write([upd('public.events', ['v'], { id: eq(c('3')) })])),
  // With an alias, the bare table name no longer names the target.
  whole('UPDATE events e SET v = 1 WHERE events.id = 3', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE id IN (SELECT id FROM staging)', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE id = (SELECT 5)', write([upd('events', ['v'], null)])),
  // Assigning the partition key: the catalog sees it in setColumns (row movement).
  whole("UPDATE events SET created_at = '2026-03-01' WHERE id = 5", write([upd('events', ['created_at'], { id: eq(c('5')) })])),
  whole('UPDATE events SET (id, v) = (v, id) WHERE id = 1', write([upd('events', ['id', 'v'], { id: eq(c('1')) })])),
  whole('UPDATE events SET (id, v) = (SELECT 1, 2) WHERE id = 1', write([upd('events', ['id', 'v'], { id: eq(c('1')) })])),
  whole('UPDATE events SET tags[1] = $1, meta.x = 2 WHERE id = 1', write([upd('events', ['tags', 'meta'], { id: eq(c('1')) })])),
  whole('UPDATE ONLY events SET v = 1 WHERE id = 1', write([upd('events', ['v'], { id: eq(c('1')) }, { only: true })])),
  whole('UPDATE events_2026_01 SET v = 1', write([upd('events_2026_01', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE CURRENT OF cur', write([upd('events', ['v'], null)])),
  whole('UPDATE events SET v = 1 WHERE id = 1 RETURNING *', write([upd('events', ['v'], { id: eq(c('1')) })])),
  whole('UPDATE "Events" SET "V" = 1 WHERE "Id" = 2', write([upd('Events', ['V'], { Id: eq(c('2')) })])),

  // ── DELETE ───────────────────────────────────────────────────────────────────────────────────
  whole('DELETE FROM events WHERE id = 5', write([del('events', { id: eq(c('5')) })])),
  whole('DELETE FROM events WHERE id = $1', write([del('events', { id: eq(p(1)) })])),
  whole('DELETE FROM events WHERE created_at >= $1::date AND created_at < $2::date', write([del('events', { created_at: range([p(1, 'date'), true], [p(2, 'date'), false]) })])),
  whole('DELETE FROM events', write([del('events', null)])),
  whole('DELETE FROM ONLY events WHERE id = 1', write([del('events', { id: eq(c('1')) }, { only: true })])),
  whole("DELETE FROM events WHERE created_at < '2025-01-01'", write([del('events', { created_at: range(null, [c('2025-01-01'), false]) })])),
  whole('DELETE FROM events WHERE id IN ($1, $2, $3)', write([del('events', { id: eq(p(1), p(2), p(3)) })])),
  whole('DELETE FROM events WHERE id BETWEEN $1 AND $2', write([del('events', { id: range([p(1), true], [p(2), true]) })])),
  whole('DELETE FROM events e USING staging s WHERE e.id = s.id AND e.region = $1', write([del('events', { region: eq(p(1)) })])),
  whole('DELETE FROM events WHERE id = 1 RETURNING id', write([del('events', { id: eq(c('1')) })])),
  whole('DELETE FROM sales."Orders" WHERE "Region" = \'eu\'', write([del({ schema: 'sales', name: 'Orders' }, { Region: eq(c('eu')) })])),
  whole('DELETE FROM events_2026_01 WHERE id = 9', write([del('events_2026_01', { id: eq(c('9')) })])),
  whole('DELETE FROM events WHERE id = 1 AND EXISTS (SELECT 1 FROM staging WHERE staging.id = events.id)', write([del('events', { id: eq(c('1')) })])),
  whole('DELETE FROM events WHERE region IS NULL OR region = $1', write([del('events', { region: eq(c(null), p(1)) })])),

  // ── MERGE ────────────────────────────────────────────────────────────────────────────────────
  whole(
    'MERGE INTO events t USING staging s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT (id, v) VALUES (s.id, s.v)',
    write([target('merge', 'events', { setColumns: ['v'] })]),
  ),
  // Only WHEN MATCHED actions: the ON condition bounds every changed row.
  whole('MERGE INTO events t USING staging s ON t.id = s.id AND t.id = 5 WHEN MATCHED THEN DELETE', write([target('merge', 'events', { where: { id: eq(c('5')) } })])),
  whole(
    'MERGE INTO events t USING staging s ON t.id = s.id AND t.region = $1 WHEN MATCHED AND s.v > 0 THEN UPDATE SET v = s.v WHEN MATCHED THEN DELETE',
    write([target('merge', 'events', { where: { region: eq(p(1)) }, setColumns: ['v'] })]),
  ),
  whole(
    'MERGE INTO events t USING staging s ON t.id = s.id AND t.id = 5 WHEN NOT MATCHED BY SOURCE THEN DELETE',
    write([target('merge', 'events', {})]),
  ),
  whole(
    'MERGE INTO events t USING staging s ON t.id = s.id WHEN MATCHED THEN UPDATE SET created_at = s.created_at',
    write([target('merge', 'events', { setColumns: ['created_at'] })]),
  ),
  whole(
    'MERGE INTO ONLY events t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN DO NOTHING',
    write([target('merge', 'events', { only: true })]),
  ),
  whole(
    'MERGE INTO events t USING staging s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id) RETURNING merge_action(), t.*',
    write([target('merge', 'events', {})]), // merge_action() is MERGE syntax, not a function call
  ),

  // ── COPY ─────────────────────────────────────────────────────────────────────────────────────
  whole('COPY events FROM STDIN', write([target('copy', 'events')])),
  whole('COPY events (id, created_at) FROM STDIN WITH (FORMAT csv)', write([target('copy', 'events', { insertColumns: ['id', 'created_at'] })])),
  whole("COPY events_2026_01 FROM '/tmp/x.csv'", write([target('copy', 'events_2026_01')])),
  whole("COPY sales.\"Orders\" FROM PROGRAM 'cat x'", write([target('copy', { schema: 'sales', name: 'Orders' })])),
  whole('COPY events FROM STDIN WHERE id > 10', write([target('copy', 'events')])),
  whole('COPY events TO STDOUT', read()),
  whole('COPY (SELECT * FROM events) TO STDOUT', read()),
  // COPY (DELETE … RETURNING) TO runs the DELETE.
  whole('COPY (DELETE FROM events WHERE id = 1 RETURNING *) TO STDOUT', write([del('events', { id: eq(c('1')) })])),
  whole('COPY events FROM STDIN (FORMAT binary)', write([target('copy', 'events')])),

  // ── TRUNCATE ─────────────────────────────────────────────────────────────────────────────────
  whole('TRUNCATE events', write([target('truncate', 'events')])),
  whole('TRUNCATE TABLE events, sales.orders', write([target('truncate', 'events'), target('truncate', 'sales.orders')])),
  whole('TRUNCATE ONLY events_2026_01', write([target('truncate', 'events_2026_01', { only: true })])),
  whole('TRUNCATE events RESTART IDENTITY', write([target('truncate', 'events')])),
  whole('TRUNCATE events CASCADE', write([target('truncate', 'events')], { unseen: ['truncate_cascade'] })),

  // ── Data-modifying CTEs ──────────────────────────────────────────────────────────────────────
  whole(
    'WITH moved AS (DELETE FROM events WHERE id = 1 RETURNING *) INSERT INTO archive SELECT * FROM moved',
    write([ins('archive', null, null), del('events', { id: eq(c('1')) })]),
  ),
  whole('WITH d AS (DELETE FROM events WHERE id = $1 RETURNING id) SELECT count(*) FROM d', write([del('events', { id: eq(p(1)) })], { functions: ['count'] })),
  whole('WITH u AS (UPDATE events SET v = 1 WHERE id = 2 RETURNING *) SELECT * FROM u', write([upd('events', ['v'], { id: eq(c('2')) })])),
  whole('WITH i AS (INSERT INTO events (id) VALUES (3) RETURNING id) SELECT id FROM i', write([ins('events', ['id'], [[c('3')]])])),
  whole(
    'WITH a AS (DELETE FROM events_2026_01 RETURNING *), b AS (INSERT INTO events_2026_02 SELECT * FROM a RETURNING *) SELECT 1',
    write([del('events_2026_01', null), ins('events_2026_02', null, null)]),
  ),
  whole('WITH x AS (SELECT 1 AS id) UPDATE events SET v = 1 FROM x WHERE events.id = x.id', write([upd('events', ['v'], null)])),
  whole('WITH x AS (SELECT id FROM staging) SELECT * FROM x', read()),
  whole(
    'WITH m AS (MERGE INTO events t USING staging s ON t.id = s.id WHEN MATCHED THEN DELETE RETURNING t.id) SELECT * FROM m',
    write([target('merge', 'events', {})]),
  ),

  // ── Reads ────────────────────────────────────────────────────────────────────────────────────
  whole('SELECT 1', read()),
  whole('SELECT * FROM events WHERE id = $1', read()),
  whole('SELECT * FROM events WHERE id IN (1, 2) ORDER BY id LIMIT 10', read()),
  whole('SELECT * FROM events WHERE id = $1 FOR UPDATE', read()),
  whole('SELECT * FROM events WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED', read()),
  whole('SELECT count(*) FROM events', read({ functions: ['count'] })),
  whole('SELECT public.archive_events($1)', read({ functions: ['public.archive_events'] })),
  whole('SELECT "Archive"(1), lower(name) FROM events', read({ functions: ['Archive', 'lower'] })),
  whole("SELECT created_at AT TIME ZONE 'UTC' FROM events", read({ functions: ['pg_catalog.timezone'] })),
  whole('VALUES (1), (2)', read()),
  whole('TABLE events', read()),
  whole('SHOW search_path', read()),
  whole('SELECT * FROM events e JOIN staging s ON e.id = s.id WHERE EXISTS (SELECT 1)', read()),
  whole("SELECT set_config('search_path', 'a', false)", read({ functions: ['set_config'], searchPathUnknown: true })),
  whole("SELECT set_config('work_mem', '64MB', false)", read({ functions: ['set_config'] })),
  whole('SELECT pg_catalog.set_config($1, $2, true)', read({ functions: ['pg_catalog.set_config'], searchPathUnknown: true, settingChange: true })),
  whole('DECLARE c CURSOR FOR SELECT * FROM events', read()),
  whole('SELECT * FROM ONLY events WHERE id = 1', read()),
  whole('INSERT INTO archive (id) WITH d AS (SELECT 1) SELECT * FROM d', write([ins('archive', ['id'], null)])),
  whole('FETCH 10 FROM c', other()),

  // ── SELECT INTO / CREATE TABLE AS (creates a table) ──────────────────────────────────────────
  whole('SELECT * INTO newtab FROM events', ddl(['newtab'])),
  whole('CREATE TABLE snap AS SELECT * FROM events', ddl(['snap'])),
  whole('CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM events', other({ functions: ['count'] })),

  // ── EXPLAIN ──────────────────────────────────────────────────────────────────────────────────
  whole('EXPLAIN DELETE FROM events WHERE id = 1', read()),
  whole('EXPLAIN ANALYZE DELETE FROM events WHERE id = 1', write([del('events', { id: eq(c('1')) })])),
  whole('EXPLAIN (ANALYZE, BUFFERS) UPDATE events SET v = 1 WHERE id = 1', write([upd('events', ['v'], { id: eq(c('1')) })])),
  whole('EXPLAIN (ANALYZE false) DELETE FROM events', read()),
  whole('EXPLAIN (ANALYZE off, COSTS off) DELETE FROM events', read()),
  whole('EXPLAIN (ANALYZE on) INSERT INTO events (id) VALUES (1)', write([ins('events', ['id'], [[c('1')]])])),
  whole('EXPLAIN ANALYZE SELECT * FROM events', read()),
  whole('EXPLAIN SELECT archive_events()', read()),
  whole('EXPLAIN ANALYZE EXECUTE ins(1)', other({ unseen: ['sql_execute'], execute: { name: 'ins', params: [c('1')] } })),

  // ── CALL / DO / functions ────────────────────────────────────────────────────────────────────
  whole('CALL archive_events(1)', other({ functions: ['archive_events'] })),
  whole('CALL maint.rotate($1, now())', other({ functions: ['maint.rotate', 'now'] })),
  whole('DO $$ BEGIN DELETE FROM events; END $$', other({ unseen: ['do_block'] })),
  whole("DO LANGUAGE plpgsql 'BEGIN NULL; END'", other({ unseen: ['do_block'] })),
  whole('SELECT * FROM archive_events(1)', read({ functions: ['archive_events'] })),

  // ── Transaction control ──────────────────────────────────────────────────────────────────────
  whole('BEGIN', tx({ op: 'begin' })),
  whole('BEGIN ISOLATION LEVEL SERIALIZABLE', tx({ op: 'begin' })),
  whole('START TRANSACTION READ ONLY', tx({ op: 'begin' })),
  whole('COMMIT', tx({ op: 'commit' })),
  whole('END', tx({ op: 'commit' })),
  whole('COMMIT AND CHAIN', tx({ op: 'commit', chain: true })),
  whole('COMMIT AND NO CHAIN', tx({ op: 'commit' })),
  whole('ROLLBACK', tx({ op: 'rollback' })),
  whole('ABORT', tx({ op: 'rollback' })),
  whole('ROLLBACK AND CHAIN', tx({ op: 'rollback', chain: true })),
  whole('SAVEPOINT sp1', tx({ op: 'savepoint', name: 'sp1' })),
  whole('SAVEPOINT "Sp"', tx({ op: 'savepoint', name: 'Sp' })),
  whole('RELEASE SAVEPOINT sp1', tx({ op: 'release', name: 'sp1' })),
  whole('RELEASE sp1', tx({ op: 'release', name: 'sp1' })),
  whole('ROLLBACK TO SAVEPOINT sp1', tx({ op: 'rollback_to', name: 'sp1' })),
  whole('ROLLBACK TO sp1', tx({ op: 'rollback_to', name: 'sp1' })),
  whole("PREPARE TRANSACTION 'gid-1'", tx({ op: 'prepare', name: 'gid-1' })),
  whole("COMMIT PREPARED 'gid-1'", tx({ op: 'commit_prepared', name: 'gid-1' })),
  whole("ROLLBACK PREPARED 'gid-1'", tx({ op: 'rollback_prepared', name: 'gid-1' })),
  whole('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ', other()),

  // ── search_path ──────────────────────────────────────────────────────────────────────────────
  whole('SET search_path TO sales, public', other({ searchPath: ['sales', 'public'] })),
  whole('SET search_path = "$user", public', other({ searchPath: ['$user', 'public'] })),
  whole('SET search_path TO "Sales", Public', other({ searchPath: ['Sales', 'public'] })),
  // A string literal is one schema name, commas and all (the server quotes it as one identifier).
  whole("SET search_path = 'a, b'", other({ searchPath: ['a, b'] })),
  whole('SET LOCAL search_path TO sales', other({ searchPath: ['sales'], searchPathLocal: true })),
  whole('SET SESSION search_path TO sales', other({ searchPath: ['sales'] })),
  whole('SET search_path TO DEFAULT', other({ searchPath: null })),
  whole('RESET search_path', other({ searchPath: null })),
  whole('RESET ALL', other({ searchPath: null, settingChange: true })),
  whole('SET search_path FROM CURRENT', other({ searchPathUnknown: true })),
  whole('SET work_mem = 1024', other()),
  whole('SET SCHEMA \'sales\'', other({ searchPath: ['sales'] })),

  // ── DDL ──────────────────────────────────────────────────────────────────────────────────────
  whole('CREATE TABLE events (id int, created_at date) PARTITION BY RANGE (created_at)', ddl(['events'])),
  whole(
    "CREATE TABLE events_2026_03 PARTITION OF events FOR VALUES FROM ('2026-03-01') TO ('2026-04-01')",
    ddl(['events_2026_03', 'events']),
  ),
  whole('CREATE TABLE sales.orders_eu PARTITION OF sales.orders FOR VALUES IN (\'eu\')', ddl(['sales.orders_eu', 'sales.orders'])),
  whole('CREATE TABLE events_default PARTITION OF events DEFAULT', ddl(['events_default', 'events'])),
  whole(
    "CREATE FOREIGN TABLE events_2026_04 PARTITION OF events FOR VALUES FROM ('2026-04-01') TO ('2026-05-01') SERVER shard2",
    ddl(['events_2026_04', 'events']),
  ),
  whole(
    "ALTER TABLE events ATTACH PARTITION events_2026_05 FOR VALUES FROM ('2026-05-01') TO ('2026-06-01')",
    ddl(['events', 'events_2026_05']),
  ),
  whole('ALTER TABLE events DETACH PARTITION events_2026_01', ddl(['events', 'events_2026_01'])),
  whole('ALTER TABLE events DETACH PARTITION events_2026_01 CONCURRENTLY', ddl(['events', 'events_2026_01'])),
  whole('ALTER TABLE events ADD COLUMN note text', ddl(['events'])),
  whole('ALTER TABLE IF EXISTS sales.orders DROP COLUMN note', ddl(['sales.orders'])),
  whole('ALTER TABLE events RENAME TO events_old', ddl(['events'])),
  whole('ALTER TABLE events RENAME COLUMN created_at TO ts', ddl(['events'])),
  whole('ALTER TABLE events SET SCHEMA archive', ddl(['events'])),
  whole('DROP TABLE events_2026_01', ddl(['events_2026_01'])),
  whole('DROP TABLE IF EXISTS a, sales.b CASCADE', ddl(['a', 'sales.b'])),
  whole('DROP SCHEMA sales CASCADE', ddl([])),
  whole('ALTER SCHEMA sales RENAME TO sales2', ddl([])),
  whole('CREATE SCHEMA shop CREATE TABLE items (id int)', ddl(['shop.items'])),
  whole('CREATE TEMP TABLE scratch (id int)', ddl(['scratch'])),
  whole('CREATE INDEX ON events (id)', other()),
  whole('ALTER INDEX events_idx ATTACH PARTITION events_2026_01_idx', other()),
  whole('DROP INDEX events_idx', other()),
  whole('CREATE FUNCTION f() RETURNS void LANGUAGE sql BEGIN ATOMIC INSERT INTO events (id) VALUES (1); END', other()),
  whole('CREATE VIEW v AS SELECT * FROM events', other()),

  // ── SQL-level PREPARE / EXECUTE ──────────────────────────────────────────────────────────────
  whole(
    'PREPARE ins(int) AS INSERT INTO events (id) VALUES ($1)',
    other({ prepare: { name: 'ins', statement: write([ins('events', ['id'], [[p(1)]])]) } }),
  ),
  whole('PREPARE q AS SELECT 1', other({ prepare: { name: 'q', statement: read() } })),
  whole("EXECUTE ins(5, 'x')", other({ unseen: ['sql_execute'], execute: { name: 'ins', params: [c('5'), c('x')] } })),
  whole('EXECUTE q', other({ unseen: ['sql_execute'], execute: { name: 'q', params: [] } })),
  whole('DEALLOCATE ins', other({ deallocate: 'ins' })),
  whole('DEALLOCATE ALL', other({ deallocate: null })),
  whole('DISCARD ALL', other({ searchPath: null, deallocate: null, settingChange: true })),

  // ── Other utility statements ─────────────────────────────────────────────────────────────────
  whole('VACUUM events', other()),
  whole('ANALYZE events', other()),
  whole('LOCK TABLE events IN ACCESS EXCLUSIVE MODE', other()),
  whole('LISTEN chan', other()),
  whole("NOTIFY chan, 'x'", other()),
  whole('CHECKPOINT', other()),

  // ── Several statements in one Query message ──────────────────────────────────────────────────
  {
    sql: 'BEGIN; INSERT INTO events (id) VALUES (1); COMMIT',
    expect: [
      { ...tx({ op: 'begin' }), location: 0, length: 5 },
      { ...write([ins('events', ['id'], [[c('1')]])]), location: 7, length: 34 },
      { ...tx({ op: 'commit' }), location: 43, length: 6 },
    ],
  },
  {
    sql: "SELECT 'é'; DELETE FROM events WHERE id = 2;",
    expect: [
      { ...read(), location: 0, length: 10 },
      { ...write([del('events', { id: eq(c('2')) })]), location: 12, length: 31 },
    ],
  },
  {
    sql: '  /* lead */ SET search_path = a;SELECT 1 ; ',
    expect: [
      { ...other({ searchPath: ['a'] }), location: 13, length: 19 },
      { ...read(), location: 33, length: 9 },
    ],
  },
  { sql: '', expect: [] },
  { sql: '  -- only a comment\n', expect: [] },

  // ── Unparsable ───────────────────────────────────────────────────────────────────────────────
  whole('SELEC 1', UNPARSED),
  whole('INSERT INTO events (id) VALUES (', UNPARSED),
  // One bad statement rejects the whole message on the server too: nothing in it runs.
  whole('DELETE FROM events; SELEC 1', UNPARSED),
  whole("SELECT 'unterminated", UNPARSED),
];
