import { describe, expect, test } from 'vitest';
import { parseDurationMs, parseStatement, splitStatements } from './commands.js';

const verbs = new Set(['SHOW WINDOWS', 'SHOW HOLDS', 'PAUSE', 'RESUME', 'RELOAD']);

describe('console statements', () => {
  test('two-word verbs before one-word ones, any case, trailing semicolon', () => {
    expect(parseStatement('show windows;', verbs)).toEqual({ verb: 'SHOW WINDOWS', args: [], text: 'show windows;' });
    expect(parseStatement('  PAUSE public.orders_eu TIMEOUT 30s ', verbs)?.args).toEqual(['public.orders_eu', 'TIMEOUT', '30s']);
    expect(parseStatement('pause "Public.Mixed" timeout 1s', verbs)?.args).toEqual(['Public.Mixed', 'timeout', '1s']);
  });
  test('unknown statements and empty text give null', () => {
    expect(parseStatement('SHOW NOTHING', verbs)).toBeNull();
    expect(parseStatement('', verbs)).toBeNull();
    expect(parseStatement('select 1', verbs)).toBeNull();
  });
  test('split at semicolons outside quotes', () => {
    expect(splitStatements("SHOW WINDOWS; PAUSE 'a;b' ;; RELOAD")).toEqual(['SHOW WINDOWS', "PAUSE 'a;b'", 'RELOAD']);
    expect(splitStatements(' ; ')).toEqual([]);
  });
  test('durations', () => {
    expect(parseDurationMs('30')).toBe(30_000);
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('2min')).toBe(120_000);
    expect(() => parseDurationMs('soon')).toThrow(/invalid duration "soon"/);
  });
});
