import { Backend, type TxStatus } from './codes.js';
import type { ProxyError } from './sqlstate.js';

/**
 * Encoders for the few messages the proxy itself sends. Everything else is forwarded as received.
 */

/** Any message: type byte, length word, body (copied). */
export function encodeMessage(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + body.length);
  out[0] = type;
  out.writeInt32BE(4 + body.length, 1);
  body.copy(out, 5);
  return out;
}

function fieldsMessage(type: number, fields: Array<[string, string | undefined]>): Buffer {
  const parts: Buffer[] = [];
  let len = 4 + 1; // length + terminating zero
  for (const [code, value] of fields) {
    if (value === undefined) continue;
    const b = Buffer.from(code + value + '\0', 'utf8');
    parts.push(b);
    len += b.length;
  }
  const out = Buffer.allocUnsafe(1 + len);
  out[0] = type;
  out.writeInt32BE(len, 1);
  let off = 5;
  for (const p of parts) off += p.copy(out, off);
  out[off] = 0;
  return out;
}

/** ErrorResponse ('E'). https://www.postgresql.org/docs/15/protocol-error-fields.html */
export function encodeErrorResponse(err: Pick<ProxyError, 'severity' | 'sqlState' | 'message' | 'detail' | 'hint'>): Buffer {
  return fieldsMessage(Backend.ErrorResponse, [
    ['S', err.severity],
    ['V', err.severity],
    ['C', err.sqlState],
    ['M', err.message],
    ['D', err.detail],
    ['H', err.hint],
  ]);
}

/** NoticeResponse ('N'). */
export function encodeNotice(message: string, severity = 'NOTICE', sqlState = '00000'): Buffer {
  return fieldsMessage(Backend.NoticeResponse, [
    ['S', severity],
    ['V', severity],
    ['C', sqlState],
    ['M', message],
  ]);
}

const RFQ: Record<TxStatus, Buffer> = {
  I: Buffer.from([Backend.ReadyForQuery, 0, 0, 0, 5, 0x49]),
  T: Buffer.from([Backend.ReadyForQuery, 0, 0, 0, 5, 0x54]),
  E: Buffer.from([Backend.ReadyForQuery, 0, 0, 0, 5, 0x45]),
};

/** ReadyForQuery ('Z'); prebuilt, never mutate the result. */
export function encodeReadyForQuery(status: TxStatus): Buffer {
  return RFQ[status];
}

/**
 * NegotiateProtocolVersion ('v'): the newest version we support (PostgreSQL sends the whole
 * version word, PG_PROTOCOL_LATEST, e.g. 3.0 = 196608), and the options we do not.
 */
export function encodeNegotiateProtocolVersion(minor: number, unsupported: readonly string[]): Buffer {
  const names = unsupported.map((n) => Buffer.from(n + '\0', 'utf8'));
  const len = 4 + 4 + 4 + names.reduce((a, b) => a + b.length, 0);
  const out = Buffer.allocUnsafe(1 + len);
  out[0] = Backend.NegotiateProtocolVersion;
  out.writeInt32BE(len, 1);
  out.writeInt32BE((3 << 16) | minor, 5);
  out.writeInt32BE(names.length, 9);
  let off = 13;
  for (const n of names) off += n.copy(out, off);
  return out;
}

/** BackendKeyData ('K'): the key a client sends back in a CancelRequest. */
export function encodeBackendKeyData(pid: number, secret: number): Buffer {
  const out = Buffer.allocUnsafe(13);
  out[0] = Backend.BackendKeyData;
  out.writeInt32BE(12, 1);
  out.writeInt32BE(pid | 0, 5);
  out.writeInt32BE(secret | 0, 9);
  return out;
}
