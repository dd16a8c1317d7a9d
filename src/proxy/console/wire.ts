import { Backend } from '../../protocol/codes.js';
import { encodeMessage } from '../../protocol/encode.js';

/**
 * Encoders for the console's answers: ordinary result sets, so psql and any driver read them.
 * https://www.postgresql.org/docs/15/protocol-message-formats.html
 */

/** Column types the console answers with (their pg_type OIDs and sizes). */
export const ColumnType = {
  text: { oid: 25, size: -1 },
  int8: { oid: 20, size: 8 },
  float8: { oid: 701, size: 8 },
  bool: { oid: 16, size: 1 },
  timestamptz: { oid: 1184, size: 8 },
} as const;
export type ColumnTypeName = keyof typeof ColumnType;

export interface Column {
  name: string;
  type: ColumnTypeName;
}

export type Cell = string | number | boolean | Date | null;

const cstring = (s: string): Buffer => Buffer.from(`${s}\0`, 'utf8');

/** RowDescription ('T'): every column in text format. */
export function encodeRowDescription(columns: readonly Column[]): Buffer {
  const parts: Buffer[] = [Buffer.from([columns.length >> 8, columns.length & 0xff])];
  for (const c of columns) {
    const t = ColumnType[c.type];
    const f = Buffer.alloc(18);
    // table oid 0, attnum 0, type oid, size, typmod -1, format 0 (text)
    f.writeInt32BE(0, 0);
    f.writeInt16BE(0, 4);
    f.writeInt32BE(t.oid, 6);
    f.writeInt16BE(t.size, 10);
    f.writeInt32BE(-1, 12);
    f.writeInt16BE(0, 16);
    parts.push(cstring(c.name), f);
  }
  return encodeMessage(Backend.RowDescription, Buffer.concat(parts));
}

/** A cell in PostgreSQL's text output format for its column type. */
export function cellText(v: Cell): string | null {
  if (v === null) return null;
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString().replace('T', ' ').replace('Z', '+00');
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : v > 0 ? 'Infinity' : v < 0 ? '-Infinity' : 'NaN';
  return v;
}

/** DataRow ('D'). */
export function encodeDataRow(cells: readonly Cell[]): Buffer {
  const parts: Buffer[] = [Buffer.from([cells.length >> 8, cells.length & 0xff])];
  for (const c of cells) {
    const text = cellText(c);
    const len = Buffer.alloc(4);
    if (text === null) {
      len.writeInt32BE(-1, 0);
      parts.push(len);
      continue;
    }
    const b = Buffer.from(text, 'utf8');
    len.writeInt32BE(b.length, 0);
    parts.push(len, b);
  }
  return encodeMessage(Backend.DataRow, Buffer.concat(parts));
}

export function encodeCommandComplete(tag: string): Buffer {
  return encodeMessage(Backend.CommandComplete, cstring(tag));
}

export const PARSE_COMPLETE = encodeMessage(Backend.ParseComplete, Buffer.alloc(0));
export const BIND_COMPLETE = encodeMessage(Backend.BindComplete, Buffer.alloc(0));
export const CLOSE_COMPLETE = encodeMessage(Backend.CloseComplete, Buffer.alloc(0));
export const NO_DATA = encodeMessage(Backend.NoData, Buffer.alloc(0));
export const EMPTY_QUERY = encodeMessage(Backend.EmptyQueryResponse, Buffer.alloc(0));
/** ParameterDescription ('t') of a statement without parameters. */
export const NO_PARAMETERS = encodeMessage(Backend.ParameterDescription, Buffer.from([0, 0]));
