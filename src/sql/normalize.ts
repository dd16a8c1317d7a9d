/**
 * Literal normalization for simple-protocol Query texts: `insert into t values (5, 'eu')` becomes
 * `insert into t values ($1, $2)` plus the literal values ['5', 'eu'], so every text of the same
 * shape shares one parse and one cache entry (the way pg_stat_statements normalizes).
 *
 * Anything unusual gives null and the caller parses the original text: escape or Unicode strings,
 * dollar quotes, bit/hex strings, existing $n, numbers glued to letters. A normalized text that
 * does not parse (typed literals like `date '2026-01-01'`, `SET x = 'y'`) is caught by the caller.
 */
export interface Normalized {
  /** the text with each literal replaced by $n */
  text: string;
  /** literal values in order, in PostgreSQL's text form (quotes removed, '' unescaped) */
  literals: string[];
}

// Character classes by code (this runs on every simple-protocol statement: no regex per char).
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isIdentStart = (c: number): boolean => (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c >= 0x80;
const isIdentPart = (c: number): boolean => isIdentStart(c) || isDigit(c) || c === 36;
const IDENT_START = { test: (ch: string): boolean => ch.length > 0 && isIdentStart(ch.charCodeAt(0)) };
const IDENT_PART = { test: (ch: string): boolean => ch.length > 0 && isIdentPart(ch.charCodeAt(0)) };
const DIGIT = { test: (ch: string): boolean => ch.length > 0 && isDigit(ch.charCodeAt(0)) };

export function normalizeLiterals(sql: string): Normalized | null {
  const n = sql.length;
  let out = '';
  let from = 0; // start of text not yet copied to out
  const literals: string[] = [];
  let i = 0;
  const emit = (start: number, end: number, value: string): void => {
    out += sql.slice(from, start) + '$' + String(literals.length + 1);
    literals.push(value);
    from = end;
  };
  while (i < n) {
    const c = sql.charAt(i);
    // comments
    if (c === '-' && sql.charAt(i + 1) === '-') {
      const eol = sql.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
      continue;
    }
    if (c === '/' && sql.charAt(i + 1) === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        if (sql.charAt(i) === '/' && sql.charAt(i + 1) === '*') {
          depth++;
          i += 2;
        } else if (sql.charAt(i) === '*' && sql.charAt(i + 1) === '/') {
          depth--;
          i += 2;
        } else i++;
      }
      if (depth > 0) return null;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === '"') {
      // quoted identifier
      i++;
      for (;;) {
        const q = sql.indexOf('"', i);
        if (q < 0) return null;
        if (sql.charAt(q + 1) === '"') {
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      continue;
    }
    if (c === '$') return null; // $n parameters or dollar quoting: not for this path
    if (c === "'") {
      const start = i;
      let value = '';
      i++;
      for (;;) {
        const q = sql.indexOf("'", i);
        if (q < 0) return null;
        value += sql.slice(i, q);
        if (sql.charAt(q + 1) === "'") {
          value += "'";
          i = q + 2;
          continue;
        }
        i = q + 1;
        break;
      }
      emit(start, i, value);
      continue;
    }
    if (IDENT_START.test(c)) {
      i++;
      while (i < n && IDENT_PART.test(sql.charAt(i))) i++;
      // E'..', B'..', X'..', U&'..', N'..' and typed prefixes glued to a quote: leave it to the parser
      if (sql.charAt(i) === "'" || (sql.charAt(i) === '&' && sql.charAt(i + 1) === "'")) return null;
      continue;
    }
    if (DIGIT.test(c) || (c === '.' && DIGIT.test(sql.charAt(i + 1)))) {
      let start = i;
      while (i < n && DIGIT.test(sql.charAt(i))) i++;
      if (sql.charAt(i) === '.' && sql.charAt(i + 1) !== '.') {
        i++;
        while (i < n && DIGIT.test(sql.charAt(i))) i++;
      }
      if (sql.charAt(i) === 'e' || sql.charAt(i) === 'E') {
        let j = i + 1;
        if (sql.charAt(j) === '+' || sql.charAt(j) === '-') j++;
        if (DIGIT.test(sql.charAt(j))) {
          i = j;
          while (i < n && DIGIT.test(sql.charAt(i))) i++;
        }
      }
      if (i < n && IDENT_PART.test(sql.charAt(i))) return null; // 0x1F, 1_000, 12abc
      // a leading minus right after ( , = < > belongs to the number
      let value = sql.slice(start, i);
      const minusAt = prevNonSpace(sql, start - 1);
      if (minusAt >= 0 && sql.charAt(minusAt) === '-' && '(,=<>'.includes(lastBefore(sql, minusAt - 1))) {
        start = minusAt;
        value = '-' + value;
      }
      if (start < from) return null;
      emit(start, i, value);
      continue;
    }
    i++;
  }
  if (literals.length === 0) return { text: sql, literals };
  return { text: out + sql.slice(from), literals };
}

function prevNonSpace(sql: string, i: number): number {
  while (i >= 0 && /\s/.test(sql.charAt(i))) i--;
  return i;
}

function lastBefore(sql: string, i: number): string {
  const j = prevNonSpace(sql, i);
  return j < 0 ? '(' : sql.charAt(j);
}
