import { beforeAll, describe, expect, it } from 'vitest';
import { classify, SqlClassifier } from './classifier.js';
import { initSqlParser } from './parser.js';

beforeAll(async () => {
  await initSqlParser();
});

describe('SqlClassifier cache', () => {
  it('answers a repeated text from the cache with the same frozen result', () => {
    const k = new SqlClassifier({ cacheEntries: 8 });
    const sql = 'UPDATE events SET v = 1 WHERE id = $1';
    const first = k.classify(sql);
    const second = k.classify(sql);
    expect(second).toBe(first);
    expect(k.stats).toEqual({ cacheHits: 1, prefiltered: 0, parsed: 1, unparsed: 0 });
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first[0]?.targets[0]?.where)).toBe(true);
    expect(() => {
      (first as unknown as unknown[]).push(1);
    }).toThrow(TypeError);
  });

  it('evicts the least recently used text beyond its size', () => {
    const k = new SqlClassifier({ cacheEntries: 2 });
    k.classify('DELETE FROM a');
    k.classify('DELETE FROM b');
    k.classify('DELETE FROM a'); // a is now the most recent
    k.classify('DELETE FROM c'); // evicts b
    expect(k.stats.cacheHits).toBe(1);
    k.classify('DELETE FROM a');
    expect(k.stats.cacheHits).toBe(2);
    k.classify('DELETE FROM b');
    expect(k.stats.cacheHits).toBe(2);
    expect(k.stats.parsed).toBe(4);
  });

  it('does not remember texts longer than maxCachedSqlChars', () => {
    const k = new SqlClassifier({ cacheEntries: 8, maxCachedSqlChars: 20 });
    const long = `INSERT INTO t VALUES ${Array.from({ length: 10 }, (_, i) => `(${i})`).join(', ')}`;
    k.classify(long);
    k.classify(long);
    expect(k.stats.cacheHits).toBe(0);
    expect(k.stats.parsed).toBe(2);
  });

  it('works with the cache turned off', () => {
    const k = new SqlClassifier({ cacheEntries: 0 });
    k.classify('DELETE FROM a');
    k.classify('DELETE FROM a');
    expect(k.stats.cacheHits).toBe(0);
  });
});

describe('SqlClassifier prefilter', () => {
  it('answers a plain SELECT without parsing, and the answer matches the parser', () => {
    const withPrefilter = new SqlClassifier({ cacheEntries: 0 });
    const withoutPrefilter = new SqlClassifier({ cacheEntries: 0, prefilter: false });
    const sql = '  SELECT * FROM events WHERE id = $1;';
    expect(withPrefilter.classify(sql)).toEqual(withoutPrefilter.classify(sql));
    expect(withPrefilter.stats.prefiltered).toBe(1);
    expect(withPrefilter.stats.parsed).toBe(0);
  });

  it('sends a SELECT with a writing CTE to the parser', () => {
    const k = new SqlClassifier({ cacheEntries: 0 });
    const [s] = k.classify('WITH d AS (DELETE FROM events RETURNING *) SELECT * FROM d');
    expect(s?.kind).toBe('write');
    expect(k.stats.prefiltered).toBe(0);
  });
});

describe('unparsable input', () => {
  it.each([
    'SELEC 1',
    'INSERT INTO',
    '\u0000',
    ')))',
    "SELECT '",
    'DELETE FROM events; garbage here',
  ])('%j is one unparsed entry spanning the text', (sql) => {
    const k = new SqlClassifier();
    expect(k.classify(sql)).toEqual([{ kind: 'unparsed', targets: [], location: 0, length: sql.length }]);
    expect(k.stats.unparsed).toBe(1);
  });

  it('survives a very long statement', () => {
    const sql = `SELECT ${'1 + '.repeat(20_000)}1`;
    expect(classify(sql)[0]?.kind).toBe('read');
  });

  it('survives deep nesting', () => {
    const sql = `SELECT ${'('.repeat(5000)}1${')'.repeat(5000)}`;
    expect(['read', 'unparsed']).toContain(classify(sql)[0]?.kind);
  });

  it('classifies an empty Query as no statements', () => {
    expect(classify('')).toEqual([]);
    expect(classify(' ; ')).toEqual([]);
  });
});
