import { beforeAll, describe, expect, test } from 'vitest';
import { normalizeLiterals } from './normalize.js';
import { initSqlParser } from './parser.js';
import { SqlClassifier, classifyParsed } from './classifier.js';
import { CORPUS } from './corpus.fixtures.js';

beforeAll(async () => {
  await initSqlParser();
});

describe('normalizeLiterals', () => {
  test('replaces string and number literals, keeps identifiers, comments and quoted names', () => {
    expect(normalizeLiterals(`insert into "t'x" (a, b2) values (5, 'e''u') -- it's a comment\n`)).toEqual({
      text: `insert into "t'x" (a, b2) values ($1, $2) -- it's a comment\n`,
      literals: ['5', "e'u"],
    });
    expect(normalizeLiterals('update t set v = 1.5e3 where k = -7 and j > .5 /* 1 */')).toEqual({
      text: 'update t set v = $1 where k = $2 and j > $3 /* 1 */',
      literals: ['1.5e3', '-7', '.5'],
    });
    expect(normalizeLiterals('select a - 5 from t')).toEqual({ text: 'select a - $1 from t', literals: ['5'] });
  });
  test('gives up on forms it cannot rewrite safely', () => {
    for (const sql of ["select E'a\\nb'", "select B'101'", "select U&'x'", 'select $1', 'do $$ begin end $$', "select 'unterminated", 'select 0x1F', '/* open']) {
      expect(normalizeLiterals(sql), sql).toBeNull();
    }
  });
});

/** Put the literals back into the slots: the result must be what the original text classifies to. */
function substitute(value: unknown, literals: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => substitute(v, literals));
  if (typeof value !== 'object' || value === null) return value;
  const o = value as Record<string, unknown>;
  if (o.kind === 'param' && typeof o.index === 'number' && o.index <= literals.length) {
    return { ...o, kind: 'const', value: literals[o.index - 1], index: undefined };
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (k !== 'location' && k !== 'length') out[k] = substitute(v, literals);
  return out;
}
function strip(value: unknown): unknown {
  return JSON.parse(JSON.stringify(substitute(value, []), (_k, v: unknown) => v)) as unknown;
}

describe('classifyQuery agrees with classifying the original text', () => {
  test('every corpus statement: same targets, slots, tx and DDL once literals are put back', () => {
    const c = new SqlClassifier({ prefilter: false });
    let normalized = 0;
    for (const entry of CORPUS) {
      const sql = entry.sql;
      const q = c.classifyQuery(sql);
      const original = classifyParsed(sql);
      if (q.literals === null || original === null) continue;
      normalized++;
      const got = JSON.parse(JSON.stringify(substitute(q.stmts, q.literals))) as Array<Record<string, unknown>>;
      const want = JSON.parse(JSON.stringify(strip(original))) as Array<Record<string, unknown>>;
      // set_config('search_path', $1, ...) can only say "changed somehow": a safe widening
      got.forEach((g, i) => {
        if (g.searchPathUnknown && !want[i]?.searchPathUnknown) delete g.searchPathUnknown;
        if (g.settingChange && !want[i]?.settingChange) delete g.settingChange;
      });
      expect(got, sql).toEqual(want);
    }
    expect(normalized).toBeGreaterThan(50);
  });

  test('texts differing only in literals share one parse', () => {
    const c = new SqlClassifier();
    for (let i = 0; i < 100; i++) c.classifyQuery(`insert into orders (region, amount) values ('r${i}', ${i})`);
    expect(c.stats.parsed).toBe(1);
    expect(c.stats.cacheHits).toBe(99);
  });

  test('a $n under a cast is not normalized (the cast may round the literal)', () => {
    const c = new SqlClassifier();
    const q = c.classifyQuery("insert into t (k) values ('5.7'::int)");
    expect(q.literals).toBeNull();
  });
});
