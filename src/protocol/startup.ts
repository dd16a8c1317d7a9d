import { StartupCode } from './codes.js';

/**
 * Untyped packets a client sends first: StartupMessage, SSLRequest, GSSENCRequest, CancelRequest.
 * https://www.postgresql.org/docs/15/protocol-message-formats.html
 */

/** PostgreSQL's own limit (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET_BYTES = 10_000;

export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; pid: number; secret: number }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string> };

export class StartupPacketError extends Error {
  constructor(
    message: string,
    readonly sqlState: string,
  ) {
    super(message);
    this.name = 'StartupPacketError';
  }
}

/** Bytes needed before the packet is complete, or 0 when `buf` holds it. Throws on an impossible length. */
export function startupPacketLength(buf: Buffer): number {
  if (buf.length < 4) return -1;
  const len = buf.readInt32BE(0);
  if (len < 8 || len > MAX_STARTUP_PACKET_BYTES) throw new StartupPacketError(`invalid length of startup packet (${len})`, '08P01');
  return len;
}

/** Decode one complete startup packet (exactly `len` bytes). */
export function decodeStartupPacket(buf: Buffer): StartupPacket {
  const len = buf.readInt32BE(0);
  const code = buf.readInt32BE(4);
  if (code === StartupCode.SSLRequest && len === 8) return { kind: 'ssl' };
  if (code === StartupCode.GSSENCRequest && len === 8) return { kind: 'gssenc' };
  if (code === StartupCode.CancelRequest) {
    if (len !== 16) throw new StartupPacketError('invalid length of cancel request', '08P01');
    return { kind: 'cancel', pid: buf.readInt32BE(8), secret: buf.readInt32BE(12) };
  }
  const major = code >>> 16;
  const minor = code & 0xffff;
  if (major !== 3) {
    throw new StartupPacketError(`unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`, '0A000');
  }
  const params = new Map<string, string>();
  let p = 8;
  while (p < len) {
    if (buf[p] === 0) {
      p++;
      break;
    }
    const kz = buf.indexOf(0, p);
    if (kz < 0 || kz >= len) throw new StartupPacketError('invalid startup packet layout: expected terminator as last byte', '08P01');
    const vz = buf.indexOf(0, kz + 1);
    if (vz < 0 || vz >= len) throw new StartupPacketError('invalid startup packet layout: expected terminator as last byte', '08P01');
    params.set(buf.toString('utf8', p, kz), buf.toString('utf8', kz + 1, vz));
    p = vz + 1;
  }
  if (p !== len || buf[len - 1] !== 0) throw new StartupPacketError('invalid startup packet layout: expected terminator as last byte', '08P01');
  if (!params.has('user')) throw new StartupPacketError('no PostgreSQL user name specified in startup packet', '28000');
  return { kind: 'startup', major, minor, params };
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
