import { beforeAll, describe, expect, it } from 'vitest';
import { classifyParsed, SqlClassifier } from './classifier.js';
import { CORPUS } from './corpus.fixtures.js';
import { initSqlParser } from './parser.js';
import type { ClassifiedStatement } from './types.js';

beforeAll(async () => {
  await initSqlParser();
});

/** The expectation decides whether the text span is checked. */
function comparable(got: readonly ClassifiedStatement[], want: readonly ClassifiedStatement[]): ClassifiedStatement[] {
  return got.map((g, i) => {
    const w = want[i];
    const copy: ClassifiedStatement = structuredClone(g);
    if (w?.location === undefined) delete copy.location;
    if (w?.length === undefined) delete copy.length;
    return copy;
  });
}

describe('classify: corpus', () => {
  it('holds at least 150 statements', () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(150);
  });

  const classifier = new SqlClassifier({ prefilter: false, cacheEntries: 0 });
  it.each(CORPUS.map((c) => [c.sql, c] as const))('%s', (_sql, c) => {
    expect(comparable(classifier.classify(c.sql), c.expect)).toEqual(c.expect);
  });
});

describe('classify: every write is seen', () => {
  it('writes in the corpus name a table whenever the text names one', () => {
    const classifier = new SqlClassifier({ cacheEntries: 0 });
    for (const c of CORPUS) {
      const got = classifier.classify(c.sql);
      for (const s of got) if (s.kind === 'write') expect(s.targets.length, c.sql).toBeGreaterThan(0);
    }
  });

  it('the text span of each statement is the statement', () => {
    const sql = "BEGIN;INSERT INTO t (a) VALUES ('ü');  COMMIT";
    const got = classifyParsed(sql) ?? [];
    expect(got.map((s) => sql.slice(s.location ?? 0, (s.location ?? 0) + (s.length ?? 0)))).toEqual([
      'BEGIN',
      "INSERT INTO t (a) VALUES ('ü')",
      'COMMIT',
    ]);
  });
});
