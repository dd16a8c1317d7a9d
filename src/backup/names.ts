import { createHash, randomBytes } from 'node:crypto';

/** A schema-qualified table or leaf partition, exactly as in the catalog (not quoted). */
export interface TableName {
  schema: string;
  name: string;
}

/** SQL identifier quoting: identifiers are always quoted, so case and odd characters survive. */
export function quoteIdent(ident: string): string {
  return `"${ident.replaceAll('"', '""')}"`;
}

export function quoteTable(t: TableName): string {
  return `${quoteIdent(t.schema)}.${quoteIdent(t.name)}`;
}

/**
 * A pg_dump `-t` pattern that matches exactly this table. Inside double quotes psql-style patterns
 * take `* ? . $ |` and the rest literally, and `""` stands for one quote, the same rule as SQL.
 */
export function dumpPattern(t: TableName): string {
  return quoteTable(t);
}

/** `schema.name` unquoted, the key used in config, metrics and the manifest. */
export function displayName(t: TableName): string {
  return `${t.schema}.${t.name}`;
}

/**
 * Split `schema.name` (or `"odd.schema"."Name"`) into its parts; an unqualified name gets
 * `defaultSchema`. Quoted parts follow SQL rules; unquoted parts are kept as written.
 */
export function parseTableName(text: string, defaultSchema = 'public'): TableName {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let out = '';
      i++;
      for (;;) {
        if (i >= text.length) throw new Error(`unterminated quoted identifier in ${JSON.stringify(text)}`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            out += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        out += text[i];
        i++;
      }
      parts.push(out);
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      parts.push(text.slice(i, end));
      i = end;
    }
    if (i < text.length) {
      if (text[i] !== '.') throw new Error(`unexpected ${JSON.stringify(text[i])} in table name ${JSON.stringify(text)}`);
      i++;
      if (i === text.length) throw new Error(`table name ${JSON.stringify(text)} ends with a dot`);
    }
  }
  if (parts.length === 1 && parts[0]) return { schema: defaultSchema, name: parts[0] };
  if (parts.length === 2 && parts[0] && parts[1]) return { schema: parts[0], name: parts[1] };
  throw new Error(`expected schema.name, got ${JSON.stringify(text)}`);
}

/**
 * One path segment that is safe on any filesystem and maps back to exactly one name: bytes outside
 * [A-Za-z0-9_-] become %HH, so `a.b` and `a%2Eb` can never collide and '.' stays our separator.
 */
export function safeSegment(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Most filesystems allow 255 bytes per name; leave room for `.partial` and temp suffixes. */
const MAX_ARTIFACT_NAME = 200;

/**
 * `<schema>.<partition>.dump`. Names of non-ASCII identifiers can encode to ~380 bytes; those are
 * shortened and made unique again with a hash of the real names (`~` never appears otherwise).
 */
export function artifactName(t: TableName): string {
  const s = safeSegment(t.schema);
  const n = safeSegment(t.name);
  const full = `${s}.${n}.dump`;
  if (full.length <= MAX_ARTIFACT_NAME) return full;
  const hash = createHash('sha256').update(`${t.schema}\u0000${t.name}`).digest('hex').slice(0, 16);
  return `${s.slice(0, 80)}.${n.slice(0, 80)}~${hash}.dump`;
}

const RUN_ID = /^(\d{8}T\d{6}Z)-([0-9a-f]{4})$/;

/**
 * `20261124T081500Z-1a2b`: sorts by start time as plain text. The suffix is the millisecond in three
 * hex digits and one random one, so runs within one second still sort by start (retention keeps
 * "the newest"); the run directory is created exclusively, so a clash only means another suffix.
 */
export function newRunId(now: Date = new Date(), suffix: string = msSuffix(now)): string {
  const stamp = now.toISOString().replace(/\.\d{3}Z$/, 'Z').replaceAll('-', '').replaceAll(':', '');
  if (!/^[0-9a-f]{4}$/.test(suffix)) throw new Error(`run id suffix must be 4 lowercase hex digits, got ${JSON.stringify(suffix)}`);
  return `${stamp}-${suffix}`;
}

function msSuffix(now: Date): string {
  return now.getUTCMilliseconds().toString(16).padStart(3, '0') + (randomBytes(1)[0]! & 15).toString(16);
}

export function isRunId(s: string): boolean {
  return RUN_ID.test(s);
}

/** The start time encoded in a run id, or null when `s` is not one. */
export function runIdTime(s: string): Date | null {
  const m = RUN_ID.exec(s);
  if (!m?.[1]) return null;
  const t = m[1];
  const iso = `${t.slice(0, 4)}-${t.slice(4, 6)}-${t.slice(6, 8)}T${t.slice(9, 11)}:${t.slice(11, 13)}:${t.slice(13, 15)}Z`;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}
