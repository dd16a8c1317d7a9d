import { describe, expect, it } from 'vitest';
import { initSqlParser, isSqlParserReady, parseStatements, SqlParserNotReadyError } from './parser.js';

// Runs in its own module instance (vitest isolates test files), so the parser starts unloaded here.
describe('parser loading', () => {
  it('refuses to parse before initSqlParser, then parses', async () => {
    expect(isSqlParserReady()).toBe(false);
    expect(() => parseStatements('SELECT 1')).toThrow(SqlParserNotReadyError);
    await Promise.all([initSqlParser(), initSqlParser()]); // loads once
    expect(isSqlParserReady()).toBe(true);
    expect(parseStatements('SELECT 1')).toHaveLength(1);
    expect(parseStatements('SELEC 1')).toBeNull();
  });
});
