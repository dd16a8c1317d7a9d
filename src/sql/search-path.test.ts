import { describe, expect, it } from 'vitest';
import { parseSearchPath, resolveSchemaCandidates, SearchPathSyntaxError, truncateIdentifier } from './search-path.js';

describe('parseSearchPath', () => {
  it.each([
    ['"$user", public', ['$user', 'public']],
    ['public', ['public']],
    ['Sales,PUBLIC', ['sales', 'public']],
    ['"Sales", "My ""Quoted"" Schema"', ['Sales', 'My "Quoted" Schema']],
    ['  a ,b  ,  c  ', ['a', 'b', 'c']],
    ['"a, b"', ['a, b']],
    ['', []],
    ['   ', []],
    ['pg_temp, public', ['pg_temp', 'public']],
    ['ÉCOLE', ['École'.replace('É', 'É')]],
  ])('%j → %j', (text, want) => {
    expect(parseSearchPath(text)).toEqual(want);
  });

  it.each(['a,', ',a', 'a b', '"unterminated', '""', 'a,,b', 'a"b"'])('rejects %j', (text) => {
    expect(() => parseSearchPath(text)).toThrow(SearchPathSyntaxError);
  });

  it('truncates names to 63 bytes like the server', () => {
    const long = 'x'.repeat(70);
    expect(parseSearchPath(long)).toEqual(['x'.repeat(63)]);
    // A two-byte character is never cut in half.
    expect(truncateIdentifier('é'.repeat(40))).toBe('é'.repeat(31));
  });
});

describe('resolveSchemaCandidates', () => {
  it('uses the schema when the statement gives one', () => {
    expect(resolveSchemaCandidates({ schema: 'sales', name: 't' }, ['public'], 'alice')).toEqual(['sales']);
  });

  it('puts pg_temp and pg_catalog first unless listed, and expands $user', () => {
    expect(resolveSchemaCandidates({ schema: null, name: 't' }, ['$user', 'public'], 'alice')).toEqual([
      'pg_temp',
      'pg_catalog',
      'alice',
      'public',
    ]);
  });

  it('keeps the listed position of pg_catalog and pg_temp', () => {
    expect(resolveSchemaCandidates({ schema: null, name: 't' }, ['public', 'pg_catalog', 'pg_temp'], 'alice')).toEqual([
      'public',
      'pg_catalog',
      'pg_temp',
    ]);
  });

  it('handles an empty path', () => {
    expect(resolveSchemaCandidates({ schema: null, name: 't' }, [], 'bob')).toEqual(['pg_temp', 'pg_catalog']);
  });
});
