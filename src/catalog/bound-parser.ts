/**
 * Reads the partition bound text `pg_get_expr(relpartbound, oid)` prints (ruleutils.c,
 * get_rule_expr for PartitionBoundSpec): `DEFAULT`, `FOR VALUES IN (...)`,
 * `FOR VALUES FROM (...) TO (...)`, `FOR VALUES WITH (modulus m, remainder r)`. Values are printed by
 * get_const_expr without type decoration: quoted literals, bare numbers, true/false, NULL, and
 * MINVALUE/MAXVALUE. The values stay text here; the key's codec reads them.
 */

export type BoundDatum = { kind: 'value'; text: string } | { kind: 'null' } | { kind: 'minvalue' } | { kind: 'maxvalue' };

export type ParsedBound =
  | { kind: 'default' }
  | { kind: 'list'; values: BoundDatum[] }
  | { kind: 'range'; from: BoundDatum[]; to: BoundDatum[] }
  | { kind: 'hash'; modulus: number; remainder: number };

type Token = { t: 'str'; v: string } | { t: 'word'; v: string } | { t: 'punct'; v: string };

export class BoundParseError extends Error {
  constructor(text: string, why: string) {
    super(`cannot read partition bound ${JSON.stringify(text)}: ${why}`);
    this.name = 'BoundParseError';
  }
}

/** Splits into quoted strings ('' and, for E'', backslash escapes), words/numbers and punctuation. */
export function tokenize(text: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === "'" || ((ch === 'E' || ch === 'e') && text[i + 1] === "'")) {
      const escapes = ch !== "'";
      i += escapes ? 2 : 1;
      let v = '';
      for (;;) {
        if (i >= text.length) throw new BoundParseError(text, 'unterminated string');
        const c = text[i]!;
        if (c === "'" && text[i + 1] === "'") {
          v += "'";
          i += 2;
        } else if (c === "'") {
          i++;
          break;
        } else if (escapes && c === '\\' && i + 1 < text.length) {
          // ruleutils only doubles backslashes inside E'' strings.
          v += text[i + 1]!;
          i += 2;
        } else {
          v += c;
          i++;
        }
      }
      out.push({ t: 'str', v });
    } else if (/[A-Za-z0-9_.+-]/.test(ch)) {
      let j = i;
      while (j < text.length && /[A-Za-z0-9_.+-]/.test(text[j]!)) j++;
      out.push({ t: 'word', v: text.slice(i, j) });
      i = j;
    } else if (ch === ':' && text[i + 1] === ':') {
      out.push({ t: 'punct', v: '::' });
      i += 2;
    } else {
      out.push({ t: 'punct', v: ch });
      i++;
    }
  }
  return out;
}

class Cursor {
  private i = 0;
  constructor(
    private readonly toks: Token[],
    private readonly text: string,
  ) {}
  peek(): Token | undefined {
    return this.toks[this.i];
  }
  next(): Token {
    const t = this.toks[this.i++];
    if (!t) throw new BoundParseError(this.text, 'unexpected end');
    return t;
  }
  word(expected: string): void {
    const t = this.next();
    if (t.t !== 'word' || t.v.toUpperCase() !== expected) throw new BoundParseError(this.text, `expected ${expected}`);
  }
  punct(expected: string): void {
    const t = this.next();
    if (t.t !== 'punct' || t.v !== expected) throw new BoundParseError(this.text, `expected '${expected}'`);
  }
  done(): boolean {
    return this.i >= this.toks.length;
  }
}

function datum(c: Cursor, text: string): BoundDatum {
  const t = c.next();
  if (t.t === 'str') return { kind: 'value', text: t.v };
  if (t.t !== 'word') throw new BoundParseError(text, `unexpected '${t.v}'`);
  const u = t.v.toUpperCase();
  if (u === 'NULL') return { kind: 'null' };
  if (u === 'MINVALUE') return { kind: 'minvalue' };
  if (u === 'MAXVALUE') return { kind: 'maxvalue' };
  return { kind: 'value', text: t.v }; // a number or true/false
}

function datumList(c: Cursor, text: string): BoundDatum[] {
  c.punct('(');
  const out: BoundDatum[] = [datum(c, text)];
  for (;;) {
    const t = c.next();
    if (t.t === 'punct' && t.v === ')') return out;
    if (t.t !== 'punct' || t.v !== ',') throw new BoundParseError(text, "expected ',' or ')'");
    out.push(datum(c, text));
  }
}

function intAfter(c: Cursor, name: string, text: string): number {
  c.word(name);
  const t = c.next();
  const n = t.t === 'word' ? Number(t.v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw new BoundParseError(text, `bad ${name}`);
  return n;
}

export function parseBound(text: string): ParsedBound {
  const c = new Cursor(tokenize(text), text);
  let out: ParsedBound;
  const first = c.next();
  if (first.t === 'word' && first.v.toUpperCase() === 'DEFAULT') {
    out = { kind: 'default' };
  } else {
    if (first.t !== 'word' || first.v.toUpperCase() !== 'FOR') throw new BoundParseError(text, 'expected FOR VALUES or DEFAULT');
    c.word('VALUES');
    const how = c.next();
    const word = how.t === 'word' ? how.v.toUpperCase() : '';
    if (word === 'IN') {
      out = { kind: 'list', values: datumList(c, text) };
    } else if (word === 'FROM') {
      const from = datumList(c, text);
      c.word('TO');
      out = { kind: 'range', from, to: datumList(c, text) };
    } else if (word === 'WITH') {
      c.punct('(');
      const modulus = intAfter(c, 'MODULUS', text);
      c.punct(',');
      const remainder = intAfter(c, 'REMAINDER', text);
      c.punct(')');
      if (modulus === 0 || remainder >= modulus) throw new BoundParseError(text, 'bad modulus/remainder');
      out = { kind: 'hash', modulus, remainder };
    } else {
      throw new BoundParseError(text, 'expected IN, FROM or WITH');
    }
  }
  if (!c.done()) throw new BoundParseError(text, 'trailing text');
  return out;
}

/**
 * The text of a constant column default as pg_get_expr prints it: a literal optionally followed by
 * `::type` (`'eu'::text`, `'-5'::integer`, `42`, `true`, `NULL::text`). undefined when it is
 * anything else: the default is then treated as computed at insert time.
 */
export function parseConstDefault(text: string): { text: string | null } | undefined {
  let toks: Token[];
  try {
    toks = tokenize(text);
  } catch {
    return undefined;
  }
  const [lit, ...rest] = toks;
  if (!lit || lit.t === 'punct') return undefined;
  // What may follow is only a cast to a (possibly multi-word, possibly parenthesised) type name.
  if (rest.length > 0) {
    const [cast, ...typeName] = rest;
    if (cast?.t !== 'punct' || cast.v !== '::' || typeName.length === 0) return undefined;
    if (typeName.some((t) => t.t === 'str' || (t.t === 'punct' && !['(', ')', ',', '"', '.', '[', ']'].includes(t.v)))) return undefined;
  }
  if (lit.t === 'word' && lit.v.toUpperCase() === 'NULL') return { text: null };
  return { text: lit.v };
}
