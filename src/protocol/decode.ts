import { HEADER_BYTES, type TxStatus } from './codes.js';

/**
 * Decoders for the messages the proxy needs to look into. Each takes the message's bytes
 * [start, end) including the 5-byte header, as reported by MessageScanner, and reads only what
 * it returns. Malformed bodies throw MalformedMessageError.
 */
export class MalformedMessageError extends Error {
  constructor(what: string) {
    super(`malformed ${what} message`);
    this.name = 'MalformedMessageError';
  }
}

function cstringEnd(buf: Buffer, from: number, end: number, what: string): number {
  const z = buf.indexOf(0, from);
  if (z < 0 || z >= end) throw new MalformedMessageError(what);
  return z;
}

/** Query ('Q'): the SQL text. */
export function decodeQuery(buf: Buffer, start: number, end: number): string {
  const from = start + HEADER_BYTES;
  const z = cstringEnd(buf, from, end, 'Query');
  return buf.toString('utf8', from, z);
}

export interface ParseMessage {
  name: string;
  sql: string;
  paramTypes: number[];
}

/** Parse ('P'). */
export function decodeParse(buf: Buffer, start: number, end: number): ParseMessage {
  let p = start + HEADER_BYTES;
  let z = cstringEnd(buf, p, end, 'Parse');
  const name = buf.toString('utf8', p, z);
  p = z + 1;
  z = cstringEnd(buf, p, end, 'Parse');
  const sql = buf.toString('utf8', p, z);
  p = z + 1;
  if (p + 2 > end) throw new MalformedMessageError('Parse');
  const n = buf.readInt16BE(p);
  p += 2;
  if (n < 0 || p + 4 * n > end) throw new MalformedMessageError('Parse');
  const paramTypes: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) paramTypes[i] = buf.readUInt32BE(p + 4 * i);
  return { name, sql, paramTypes };
}

export interface BindParam {
  /** A view into the message: valid only while the message is. */
  value: Buffer | null;
  format: 0 | 1;
}

export interface BindMessage {
  portal: string;
  statement: string;
  /** Read it only while the message is being handled: the values are views into it. */
  readonly params: BindParam[];
}

/**
 * Bind ('B'). The layout is checked at once; parameter values are only materialised (as views, not
 * copies) when `params` is read, which most reads never need.
 */
export function decodeBind(buf: Buffer, start: number, end: number): BindMessage {
  let p = start + HEADER_BYTES;
  let z = cstringEnd(buf, p, end, 'Bind');
  const portal = buf.toString('utf8', p, z);
  p = z + 1;
  z = cstringEnd(buf, p, end, 'Bind');
  const statement = buf.toString('utf8', p, z);
  p = z + 1;
  if (p + 2 > end) throw new MalformedMessageError('Bind');
  const nFormats = buf.readInt16BE(p);
  p += 2;
  if (nFormats < 0 || p + 2 * nFormats + 2 > end) throw new MalformedMessageError('Bind');
  const formatsAt = p;
  p += 2 * nFormats;
  const nParams = buf.readInt16BE(p);
  p += 2;
  if (nParams < 0 || (nFormats > 1 && nFormats !== nParams)) throw new MalformedMessageError('Bind');
  const valuesAt = p;
  for (let i = 0; i < nParams; i++) {
    if (p + 4 > end) throw new MalformedMessageError('Bind');
    const len = buf.readInt32BE(p);
    p += 4;
    if (len === -1) continue;
    if (len < 0 || p + len > end) throw new MalformedMessageError('Bind');
    p += len;
  }
  let params: BindParam[] | null = null;
  return {
    portal,
    statement,
    get params(): BindParam[] {
      params ??= bindParams(buf, formatsAt, nFormats, valuesAt, nParams);
      return params;
    },
  };
}

/** The parameters of a Bind whose layout decodeBind already checked. */
function bindParams(buf: Buffer, formatsAt: number, nFormats: number, valuesAt: number, nParams: number): BindParam[] {
  const params: BindParam[] = new Array<BindParam>(nParams);
  let p = valuesAt;
  for (let i = 0; i < nParams; i++) {
    const len = buf.readInt32BE(p);
    p += 4;
    const f = nFormats === 0 ? 0 : buf.readInt16BE(formatsAt + 2 * (nFormats === 1 ? 0 : i));
    const format: 0 | 1 = f === 1 ? 1 : 0;
    if (len === -1) {
      params[i] = { value: null, format };
      continue;
    }
    params[i] = { value: buf.subarray(p, p + len), format };
    p += len;
  }
  return params;
}

/** Execute ('E'): the portal name. */
export function decodeExecute(buf: Buffer, start: number, end: number): string {
  const from = start + HEADER_BYTES;
  const z = cstringEnd(buf, from, end, 'Execute');
  return buf.toString('utf8', from, z);
}

/** Close ('C') and Describe ('D'): 'S' statement or 'P' portal, and its name. */
export function decodeTarget(buf: Buffer, start: number, end: number): { kind: 'S' | 'P'; name: string } {
  const k = buf[start + HEADER_BYTES];
  if (k !== 0x53 && k !== 0x50) throw new MalformedMessageError('Close/Describe');
  const from = start + HEADER_BYTES + 1;
  const z = cstringEnd(buf, from, end, 'Close/Describe');
  return { kind: k === 0x53 ? 'S' : 'P', name: buf.toString('utf8', from, z) };
}

/** ReadyForQuery ('Z'). */
export function decodeReadyForQuery(buf: Buffer, start: number): TxStatus {
  const s = buf[start + HEADER_BYTES];
  return s === 0x54 ? 'T' : s === 0x45 ? 'E' : 'I';
}

/** CommandComplete ('C'): the tag, e.g. "INSERT 0 3". */
export function decodeCommandComplete(buf: Buffer, start: number, end: number): string {
  const from = start + HEADER_BYTES;
  const z = buf.indexOf(0, from);
  return buf.toString('utf8', from, z < 0 || z > end ? end : z);
}

/** Rows affected from a CommandComplete tag (INSERT oid n / UPDATE n / DELETE n / MERGE n / COPY n). */
export function rowsFromTag(tag: string): number {
  const sp = tag.lastIndexOf(' ');
  if (sp < 0) return 0;
  const n = Number(tag.slice(sp + 1));
  return Number.isFinite(n) ? n : 0;
}

/** ErrorResponse / NoticeResponse fields by code letter. */
export function decodeFields(buf: Buffer, start: number, end: number): Record<string, string> {
  const out: Record<string, string> = {};
  let p = start + HEADER_BYTES;
  while (p < end && buf[p] !== 0) {
    const code = String.fromCharCode(buf[p]!);
    const z = buf.indexOf(0, p + 1);
    if (z < 0 || z >= end) break;
    out[code] = buf.toString('utf8', p + 1, z);
    p = z + 1;
  }
  return out;
}

/** BackendKeyData ('K'). */
export function decodeBackendKeyData(buf: Buffer, start: number): { pid: number; secret: number } {
  return { pid: buf.readInt32BE(start + HEADER_BYTES), secret: buf.readInt32BE(start + HEADER_BYTES + 4) };
}

/** ParameterStatus ('S'). */
export function decodeParameterStatus(buf: Buffer, start: number, end: number): { name: string; value: string } {
  const from = start + HEADER_BYTES;
  const z = cstringEnd(buf, from, end, 'ParameterStatus');
  const z2 = cstringEnd(buf, z + 1, end, 'ParameterStatus');
  return { name: buf.toString('utf8', from, z), value: buf.toString('utf8', z + 1, z2) };
}

/** Authentication ('R') subtype: 0 ok, 3 cleartext, 5 md5, 10 SASL, 11 SASL continue, 12 SASL final. */
export function decodeAuthType(buf: Buffer, start: number): number {
  return buf.readInt32BE(start + HEADER_BYTES);
}

/**
 * Severity of an ErrorResponse: the untranslated 'V' field (PostgreSQL ≥ 9.6), else 'S'.
 * https://www.postgresql.org/docs/15/protocol-error-fields.html
 */
export function decodeErrorSeverity(buf: Buffer, start: number, end: number): string {
  let p = start + HEADER_BYTES;
  let localized = '';
  while (p < end && buf[p] !== 0) {
    const code = buf[p]!;
    const z = buf.indexOf(0, p + 1);
    if (z < 0 || z >= end) break;
    if (code === 0x56) return buf.toString('utf8', p + 1, z); // 'V'
    if (code === 0x53) localized = buf.toString('utf8', p + 1, z); // 'S'
    p = z + 1;
  }
  return localized;
}
