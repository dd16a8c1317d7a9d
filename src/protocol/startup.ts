import { StartupCode } from './codes.js';

/**
 * Untyped packets a client sends first: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest.
 * https://www.postgresql.org/docs/15/protocol-message-formats.html
 */

/** PostgreSQL's own limit on the packet after its length word (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  /** A 3.x StartupMessage whose layout PostgreSQL accepts; `pqOptions` are the `_pq_.` names it carried (dropped from `params`). */
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string>; pqOptions: string[] }
  /** A packet the server itself refuses (protocol version, layout): forward it and relay the answer. */
  | { kind: 'refused'; reason: string };

/**
 * A startup packet that cannot be framed. PostgreSQL logs these (COMMERROR) and closes without a
 * word, so there is nothing to tell the client: `reason` is for the log.
 */
export class StartupPacketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupPacketError';
  }
}

/** The packet's total length once 4 bytes are in, else -1. Throws on a length PostgreSQL refuses. */
export function startupPacketLength(buf: Buffer): number {
  if (buf.length < 4) return -1;
  const len = buf.readInt32BE(0);
  if (len < 8 || len - 4 > MAX_STARTUP_PACKET_BYTES) throw new StartupPacketError(`invalid length of startup packet (${len})`);
  return len;
}

/**
 * Decode one complete startup packet (exactly `len` bytes) as PostgreSQL 15's ProcessStartupPacket
 * reads it. `sslDone` / `gssDone`: that negotiation already happened on this connection, so a
 * second request is read as a protocol version (and refused).
 */
export function decodeStartupPacket(buf: Buffer, sslDone = false, gssDone = false): StartupPacket {
  const len = buf.readInt32BE(0);
  const code = buf.readInt32BE(4);
  if (code === StartupCode.CancelRequest) {
    if (len !== 16) throw new StartupPacketError('invalid length of cancel request');
    return { kind: 'cancel', pid: buf.readInt32BE(8), secret: buf.readInt32BE(12) };
  }
  if (code === StartupCode.SSLRequest && !sslDone) return { kind: 'ssl' };
  if (code === StartupCode.GSSENCRequest && !gssDone) return { kind: 'gssenc' };
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) return { kind: 'refused', reason: `unsupported frontend protocol ${major}.${minor}` };
  // The server reads name/value strings up to an empty name; the byte after the packet counts as 0.
  const params = new Map<string, string>();
  const pqOptions: string[] = [];
  const cstringEnd = (from: number): number => {
    const z = buf.indexOf(0, from);
    return z < 0 || z >= len ? len : z;
  };
  let off = 8;
  while (off < len) {
    if (buf[off] === 0) break;
    const nameEnd = cstringEnd(off);
    const valOff = nameEnd + 1;
    if (valOff >= len) break;
    const valEnd = cstringEnd(valOff);
    const name = buf.toString('utf8', off, nameEnd);
    if (name.startsWith('_pq_.')) pqOptions.push(name);
    else params.set(name, buf.toString('utf8', valOff, valEnd));
    off = valEnd + 1;
  }
  if (off !== len - 1) return { kind: 'refused', reason: 'invalid startup packet layout: expected terminator as last byte' };
  return { kind: 'startup', major, minor, params, pqOptions };
}

/** A 3.0 StartupMessage with the given parameters (used after negotiating a newer minor down). */
export function encodeStartupMessage(params: Map<string, string>): Buffer {
  const parts: Buffer[] = [];
  let len = 8 + 1;
  for (const [k, v] of params) {
    const b = Buffer.from(`${k}\0${v}\0`, 'utf8');
    parts.push(b);
    len += b.length;
  }
  const out = Buffer.allocUnsafe(len);
  out.writeInt32BE(len, 0);
  out.writeInt32BE(StartupCode.Protocol3, 4);
  let off = 8;
  for (const p of parts) off += p.copy(out, off);
  out[off] = 0;
  return out;
}

/** A CancelRequest for the upstream backend. */
export function encodeCancelRequest(pid: number, secret: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeInt32BE(16, 0);
  b.writeInt32BE(StartupCode.CancelRequest, 4);
  b.writeInt32BE(pid, 8);
  b.writeInt32BE(secret, 12);
  return b;
}
