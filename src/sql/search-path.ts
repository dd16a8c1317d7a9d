/**
 * search_path: from SET statements, from the GUC's text form (SHOW, ParameterStatus), and the
 * schemas an unqualified table name is looked up in.
 */
import type { VariableSetStmt } from 'libpg-query';
import type { ClassifiedStatement, TableRef } from './types.js';

/** NAMEDATALEN - 1: the server cuts longer identifiers to this many bytes, at a character boundary. */
const MAX_IDENTIFIER_BYTES = 63;

export function truncateIdentifier(name: string): string {
  if (name.length <= MAX_IDENTIFIER_BYTES / 4) return name; // cannot exceed 63 bytes in UTF-8
  if (Buffer.byteLength(name) <= MAX_IDENTIFIER_BYTES) return name;
  let bytes = 0;
  let end = 0;
  for (const ch of name) {
    const n = Buffer.byteLength(ch);
    if (bytes + n > MAX_IDENTIFIER_BYTES) break;
    bytes += n;
    end += ch.length;
  }
  return name.slice(0, end);
}

export class SearchPathSyntaxError extends Error {
  constructor(value: string) {
    super(`invalid search_path list syntax: ${JSON.stringify(value)}`);
    this.name = 'SearchPathSyntaxError';
  }
}

const SPACE = /\s/;

/**
 * The schemas in search_path's text form, e.g. `"$user", public` → ['$user', 'public'], the way the
 * server splits it (SplitIdentifierString): unquoted names fold to lower case, "quoted" ones keep
 * case and "" stands for one quote. Throws SearchPathSyntaxError where the server would reject it.
 */
export function parseSearchPath(value: string): string[] {
  const out: string[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < value.length && SPACE.test(value.charAt(i))) i++;
  };
  skipSpace();
  if (i >= value.length) return [];
  for (;;) {
    let name: string;
    if (value.charAt(i) === '"') {
      name = '';
      i++;
      for (;;) {
        const q = value.indexOf('"', i);
        if (q < 0) throw new SearchPathSyntaxError(value);
        name += value.slice(i, q);
        i = q + 1;
        if (value.charAt(i) !== '"') break;
        name += '"';
        i++;
      }
      if (name === '') throw new SearchPathSyntaxError(value); // "" is not a name
    } else {
      const start = i;
      while (i < value.length && value.charAt(i) !== ',' && value.charAt(i) !== '"' && !SPACE.test(value.charAt(i))) i++;
      if (i === start) throw new SearchPathSyntaxError(value);
      // The server folds ASCII letters only (downcase_identifier), not the whole Unicode range.
      name = value.slice(start, i).replace(/[A-Z]+/g, (m) => m.toLowerCase());
    }
    out.push(truncateIdentifier(name));
    skipSpace();
    if (i >= value.length) return out;
    if (value.charAt(i) !== ',') throw new SearchPathSyntaxError(value);
    i++;
    skipSpace();
  }
}

/**
 * The schemas, in lookup order, where an unqualified table may live: the session's temporary schema
 * and pg_catalog come first unless the path lists them elsewhere, `$user` is the current user.
 * The catalog takes the first candidate holding a table of that name; it does not know temporary
 * tables, so a temporary table shadowing a partitioned one is counted against the partitioned one
 * (more partitions than written, never fewer).
 */
export function resolveSchemaCandidates(ref: TableRef, searchPath: readonly string[], user: string): string[] {
  if (ref.schema !== null) return [ref.schema];
  const out: string[] = [];
  const add = (s: string): void => {
    if (!out.includes(s)) out.push(s);
  };
  if (!searchPath.includes('pg_temp')) add('pg_temp');
  if (!searchPath.includes('pg_catalog')) add('pg_catalog');
  for (const s of searchPath) add(s === '$user' ? user : s);
  return out;
}

type SearchPathChange = Pick<ClassifiedStatement, 'searchPath' | 'searchPathLocal' | 'searchPathUnknown'>;

/**
 * SET/RESET: the new search_path, or null when the statement does not touch it. SET takes each
 * list element verbatim as one schema name (so `SET search_path = 'a, b'` is ONE schema "a, b").
 */
export function searchPathChangeOf(s: VariableSetStmt): SearchPathChange | null {
  const local: SearchPathChange = s.is_local === true ? { searchPathLocal: true } : {};
  if (s.kind === 'VAR_RESET_ALL') return { searchPath: null, ...local };
  if (s.name !== 'search_path') return null;
  switch (s.kind) {
    case 'VAR_SET_DEFAULT':
    case 'VAR_RESET':
      return { searchPath: null, ...local };
    case 'VAR_SET_VALUE': {
      const path: string[] = [];
      for (const a of s.args ?? []) {
        if (!('A_Const' in a) || a.A_Const.sval === undefined) return { searchPathUnknown: true, ...local };
        path.push(truncateIdentifier(a.A_Const.sval.sval ?? ''));
      }
      return { searchPath: path, ...local };
    }
    default:
      return { searchPathUnknown: true, ...local };
  }
}
