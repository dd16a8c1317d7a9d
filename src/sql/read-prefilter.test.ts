import { beforeAll, describe, expect, it } from 'vitest';
import { classifyParsed } from './classifier.js';
import { CORPUS } from './corpus.fixtures.js';
import { initSqlParser } from './parser.js';
import { obviousRead } from './read-prefilter.js';

beforeAll(async () => {
  await initSqlParser();
});

/**
 * The prefilter's one promise: whatever it calls a read, the parser calls the same read (same span,
 * no target, no function), or rejects outright (then the server rejects it too and nothing runs).
 */
function expectAgreesWithParser(sql: string): void {
  const hit = obviousRead(sql);
  if (hit === null) return;
  const parsed = classifyParsed(sql);
  if (parsed === null) return;
  expect(parsed, sql).toEqual([{ kind: 'read', targets: [], location: hit.location, length: hit.length }]);
}

const PLAIN_READS = [
  'SELECT 1',
  'select 1;',
  '  SELECT * FROM events WHERE id = $1  ',
  'SELECT a, b FROM events WHERE id IN ($1, $2) AND region = $3 ORDER BY a DESC LIMIT 10 OFFSET 5',
  "SELECT * FROM events WHERE note = 'it''s; DELETE FROM events'",
  'SELECT * FROM "Events" e JOIN staging s ON (e.id = s.id) WHERE e.v > 1.5e3',
  '/* leading */ SELECT 1 -- trailing',
  'SELECT /* /* nested */ DELETE FROM t */ 1',
  'SELECT * FROM events WHERE id = $1 FOR UPDATE',
  'SELECT CASE WHEN a THEN 1 ELSE 2 END FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.id = t.id)',
  'SELECT * FROM t WHERE a = ANY ($1) AND b NOT IN (1, 2) AND c::int = 3',
  'SELECT coalesce(a, b), nullif(a, 1), greatest(a, b), ROW(1, 2), ARRAY(SELECT 1) FROM t',
  "SELECT * FROM t WHERE d BETWEEN '2026-01-01' AND '2026-02-01'",
  'SHOW search_path',
  'SELECT 1; -- done',
];

const MUST_PARSE = [
  'SELECT now()',
  'SELECT count(*) FROM t',
  'SELECT "f"(1)',
  'SELECT s.f (1)',
  'SELECT * INTO x FROM t',
  'WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d',
  'SELECT * FROM t WHERE id IN (WITH d AS (SELECT 1) SELECT * FROM d)',
  'SELECT 1; DELETE FROM t',
  'SELECT 1;;',
  'SELECT $$ ; DELETE FROM t; $$',
  "SELECT E'x\\'; DELETE FROM t; --'",
  "SELECT 'x\\'; DELETE FROM t; --'",
  "SELECT U&'d\\0061t'",
  "SELECT ts AT TIME ZONE 'UTC' FROM t",
  "SELECT a LIKE b ESCAPE '!' FROM t",
  'SELECT a SIMILAR TO b FROM t',
  'SELECT (a, b) OVERLAPS (c, d) FROM t',
  'SELECT a IS NORMALIZED FROM t',
  'SELECT SYSTEM_USER',
  'SELECT /* unterminated',
  "SELECT 'unterminated",
  'SELECT "unterminated',
  'INSERT INTO t VALUES (1)',
  'EXPLAIN SELECT 1',
  'SELECT x::numeric(10,2) FROM t',
  "SELECT date'2026-01-01'",
];

describe('obviousRead', () => {
  it.each(PLAIN_READS)('takes the plain read %s', (sql) => {
    expect(obviousRead(sql)).not.toBeNull();
    expectAgreesWithParser(sql);
  });

  it.each(MUST_PARSE)('leaves %s to the parser', (sql) => {
    expect(obviousRead(sql)).toBeNull();
  });

  it('agrees with the parser on every corpus statement it takes', () => {
    for (const c of CORPUS) expectAgreesWithParser(c.sql);
  });

  it('agrees with the parser on random token soup', () => {
    const tokens = [
      'SELECT', 'select', ' ', '\n', 'a', 't.b', '1', '$1', "'s'", "'x;y'", '"Q"', ',', '(', ')', ';', '=', '<',
      '-- c\n', '/*', '*/', 'FROM t', 'WHERE', 'AND', 'OR', 'IN', 'now()', 'f (', 'DELETE FROM t', 'INTO x',
      'WITH', 'AT TIME ZONE', 'UPDATE', 'FOR', '::int', 'CASE WHEN', 'END', 'EXISTS', 'x.y', 'ANY', '$$',
    ];
    // A fixed-seed generator keeps the test reproducible.
    let seed = 12345;
    const rnd = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    let taken = 0;
    for (let k = 0; k < 1000; k++) {
      const parts = [rnd(3) === 0 ? ' SELECT' : 'SELECT'];
      const len = 1 + rnd(8);
      for (let j = 0; j < len; j++) parts.push(' ', tokens[rnd(tokens.length)] ?? '');
      const sql = parts.join('');
      if (obviousRead(sql) !== null) taken++;
      expectAgreesWithParser(sql);
    }
    expect(taken).toBeGreaterThan(30); // the soup must exercise the accepting path too
  });
});
