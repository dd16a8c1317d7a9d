/**
 * A cheap lexical check that a Query string is one plain SELECT (or SHOW): no data-modifying word,
 * no function call (a function may write, and the proxy matches called functions against its
 * config), no construct the scanner here does not model. It answers "certainly a read" or "parse it";
 * it never answers "write". Anything unusual (backslashes, dollar quotes, U& strings, several
 * statements) goes to the parser.
 */

export interface ObviousRead {
  /** Where the statement starts (after leading blanks and comments), as the parser reports it. */
  location: number;
  /** Up to the terminating semicolon, or to the end of the text. */
  length: number;
}

// Words that may introduce a write, INTO, or a function call the grammar builds without parentheses
// (AT TIME ZONE → timezone(), LIKE … ESCAPE → like_escape(), SIMILAR TO, OVERLAPS, IS NORMALIZED,
// SYSTEM_USER).
const DENY = new Set([
  'insert', 'update', 'delete', 'merge', 'copy', 'truncate', 'into', 'with', 'call', 'do', 'execute',
  'at', 'escape', 'similar', 'overlaps', 'normalized', 'system_user', 'collation',
]);

// Words that may stand before '(' without calling a function (subqueries, lists, row and CASE-like
// syntax the grammar turns into dedicated nodes rather than function calls).
const PAREN_OK = new Set([
  'in', 'any', 'all', 'some', 'exists', 'and', 'or', 'not', 'on', 'from', 'join', 'where', 'select', 'as',
  'by', 'between', 'when', 'then', 'else', 'case', 'is', 'using', 'cast', 'coalesce', 'nullif', 'greatest',
  'least', 'row', 'array', 'values', 'lateral', 'limit', 'offset', 'having', 'distinct', 'union',
  'intersect', 'except', 'like', 'ilike', 'end',
]);

const FIRST_WORDS = new Set(['select', 'show']);

function isIdentStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95 || c >= 128;
}

function isIdentPart(c: number): boolean {
  return isIdentStart(c) || (c >= 48 && c <= 57) || c === 36;
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}

/** Index after the blanks and comments at i; -1 on an unterminated block comment. */
function skipBlanks(sql: string, i: number): number {
  for (;;) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) {
      i++;
    } else if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
    } else if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      // Block comments nest in PostgreSQL.
      let depth = 1;
      i += 2;
      while (depth > 0) {
        if (i >= sql.length) return -1;
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          depth++;
          i += 2;
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          depth--;
          i += 2;
        } else i++;
      }
    } else return i;
  }
}

/** Index after a quoted token starting at i ('…' or "…", doubled quote = one); -1 if unterminated. */
function skipQuoted(sql: string, i: number, quote: string): number {
  for (let j = i + 1; ; ) {
    const q = sql.indexOf(quote, j);
    if (q < 0) return -1;
    if (sql.charAt(q + 1) !== quote) return q + 1;
    j = q + 2;
  }
}

export function obviousRead(sql: string): ObviousRead | null {
  // Backslash escapes (E'…', standard_conforming_strings=off) and U&'…' change where strings end.
  // A NUL ends the text for the parser and the server alike; leave that oddity to the parser path.
  if (sql.includes('\\') || sql.includes('&') || sql.includes('\u0000')) return null;
  const location = skipBlanks(sql, 0);
  if (location < 0) return null;
  let i = location;
  while (i < sql.length && isIdentPart(sql.charCodeAt(i))) i++;
  if (!FIRST_WORDS.has(sql.slice(location, i).toLowerCase())) return null;
  let semicolon = -1;
  let lastWord: string | null = null; // the identifier just before, if the previous token was one
  for (;;) {
    i = skipBlanks(sql, i);
    if (i < 0) return null;
    if (i >= sql.length) break;
    if (semicolon >= 0) return null; // a second statement
    const c = sql.charCodeAt(i);
    if (isIdentStart(c)) {
      const start = i;
      while (i < sql.length && isIdentPart(sql.charCodeAt(i))) i++;
      const word = sql.slice(start, i).toLowerCase();
      // FOR [NO KEY] UPDATE locks rows; it changes none.
      if (DENY.has(word) && !(word === 'update' && (lastWord === 'for' || lastWord === 'key'))) return null;
      // A quote right after a word is a typed or prefixed literal (E'…', date '…' needs a space).
      if (sql.charCodeAt(i) === 39) return null;
      lastWord = word;
      continue;
    }
    if (c === 34) {
      i = skipQuoted(sql, i, '"');
      if (i < 0) return null;
      lastWord = '"'; // a quoted name before '(' is a call, like any name not in PAREN_OK
      continue;
    }
    if (c === 39) {
      i = skipQuoted(sql, i, "'");
      if (i < 0) return null;
    } else if (c === 36) {
      // $n is a parameter; $tag$ opens a dollar-quoted string.
      i++;
      if (!(sql.charCodeAt(i) >= 48 && sql.charCodeAt(i) <= 57)) return null;
      while (sql.charCodeAt(i) >= 48 && sql.charCodeAt(i) <= 57) i++;
    } else if (c >= 48 && c <= 57) {
      while (i < sql.length && (isIdentPart(sql.charCodeAt(i)) || sql.charCodeAt(i) === 46)) i++;
    } else if (c === 40) {
      if (lastWord !== null && !PAREN_OK.has(lastWord)) return null;
      i++;
    } else if (c === 59) {
      semicolon = i;
      i++;
    } else {
      i++;
    }
    lastWord = null;
  }
  const end = semicolon >= 0 ? semicolon : sql.length;
  return { location, length: end - location };
}
