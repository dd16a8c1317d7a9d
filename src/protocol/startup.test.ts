import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { serialize, parse } from 'pg-protocol';
import { decodeStartupPacket, encodeCancelRequest, encodeStartupMessage, startupPacketLength, StartupPacketError } from './startup.js';
import { encodeErrorResponse, encodeNegotiateProtocolVersion, encodeNotice, encodeReadyForQuery } from './encode.js';
import { ProxyError } from './sqlstate.js';

describe('startup packets', () => {
  test('StartupMessage from pg-protocol', () => {
    const b = serialize.startup({ user: 'alice', database: 'db', application_name: 'x' });
    expect(startupPacketLength(b)).toBe(b.length);
    const p = decodeStartupPacket(b);
    expect(p.kind).toBe('startup');
    if (p.kind !== 'startup') return;
    expect([p.major, p.minor]).toEqual([3, 0]);
    expect(p.params.get('user')).toBe('alice');
    expect(p.params.get('database')).toBe('db');
    expect(encodeStartupMessage(p.params).equals(b)).toBe(true);
  });
  test('SSLRequest, GSSENCRequest, CancelRequest', () => {
    expect(decodeStartupPacket(serialize.requestSsl())).toEqual({ kind: 'ssl' });
    const g = Buffer.alloc(8);
    g.writeInt32BE(8, 0);
    g.writeInt32BE(80877104, 4);
    expect(decodeStartupPacket(g)).toEqual({ kind: 'gssenc' });
    expect(decodeStartupPacket(encodeCancelRequest(1234, -5))).toEqual({ kind: 'cancel', pid: 1234, secret: -5 });
    expect(decodeStartupPacket(serialize.cancel(99, 7))).toEqual({ kind: 'cancel', pid: 99, secret: 7 });
  });
  test('newer minor version is accepted (to be negotiated), other majors are left for the server to refuse', () => {
    const b = serialize.startup({ user: 'u', _pq_x: 'y' });
    b.writeInt32BE((3 << 16) | 2, 4);
    const p = decodeStartupPacket(b);
    expect(p.kind === 'startup' && p.minor).toBe(2);
    b.writeInt32BE(2 << 16, 4);
    expect(decodeStartupPacket(b)).toEqual({ kind: 'refused', reason: 'unsupported frontend protocol 2.0' });
  });
  test('_pq_ options are set apart from parameters', () => {
    const p = decodeStartupPacket(serialize.startup({ user: 'u', '_pq_.a': '1', database: 'd' } as unknown as Record<string, string>));
    expect(p).toEqual({ kind: 'startup', major: 3, minor: 0, params: new Map([['user', 'u'], ['database', 'd'], ['client_encoding', 'UTF8']]), pqOptions: ['_pq_.a'] });
  });
  test('a second SSLRequest or GSSENCRequest is read as a protocol version, as PostgreSQL does', () => {
    const ssl = serialize.requestSsl();
    expect(decodeStartupPacket(ssl, true)).toEqual({ kind: 'refused', reason: 'unsupported frontend protocol 1234.5679' });
    const g = Buffer.alloc(8);
    g.writeInt32BE(8, 0);
    g.writeInt32BE(80877104, 4);
    expect(decodeStartupPacket(g, false, true)).toEqual({ kind: 'refused', reason: 'unsupported frontend protocol 1234.5680' });
  });
  test('bad lengths and layouts', () => {
    const neg = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 3, 0, 0]);
    expect(() => startupPacketLength(neg)).toThrow(StartupPacketError);
    const huge = Buffer.from([0x7f, 0, 0, 0]);
    expect(() => startupPacketLength(huge)).toThrow(/invalid length/);
    // Terminate before any StartupMessage: its type byte makes an impossible length
    expect(() => startupPacketLength(Buffer.from([0x58, 0, 0, 0, 4]))).toThrow(/invalid length/);
    expect(startupPacketLength(Buffer.from([0, 0]))).toBe(-1);
    // the limit is on the bytes after the length word, as in PostgreSQL
    expect(startupPacketLength(Buffer.from([0, 0, 0x27, 0x14]))).toBe(10_004);
    expect(() => startupPacketLength(Buffer.from([0, 0, 0x27, 0x15]))).toThrow(/invalid length/);
    const noUser = serialize.startup({ database: 'x' } as unknown as Record<string, string>);
    expect(decodeStartupPacket(noUser)).toMatchObject({ kind: 'startup', params: new Map([['database', 'x'], ['client_encoding', 'UTF8']]) });
    // a last byte that is not the terminator: the server's loop stops on it (a name without a value)
    // exactly at the last byte, so it accepts the packet; so do we
    const lastByte = Buffer.from(serialize.startup({ user: 'u' }));
    lastByte[lastByte.length - 1] = 0x41;
    expect(decodeStartupPacket(lastByte)).toMatchObject({ kind: 'startup', params: new Map([['user', 'u'], ['client_encoding', 'UTF8']]) });
    // no terminator at all: refused
    const unterminated = Buffer.from(serialize.startup({ user: 'u' }).subarray(0, -1));
    unterminated.writeInt32BE(unterminated.length, 0);
    expect(decodeStartupPacket(unterminated)).toEqual({ kind: 'refused', reason: 'invalid startup packet layout: expected terminator as last byte' });
    const shortCancel = Buffer.from([0, 0, 0, 12, 0x04, 0xd2, 0x16, 0x2e, 0, 0, 0, 1]);
    expect(() => decodeStartupPacket(shortCancel)).toThrow(StartupPacketError);
  });
});

describe('encoders round-trip through pg-protocol', () => {
  function parseAll(b: Buffer): unknown[] {
    const out: unknown[] = [];
    const stream = new PassThrough();
    void parse(stream, (m) => out.push(m));
    stream.end(b);
    return out;
  }
  test('ErrorResponse, NoticeResponse, ReadyForQuery, NegotiateProtocolVersion', async () => {
    const err = encodeErrorResponse(new ProxyError('55P03', 'writes to public.x are held', 'ERROR', 'detail here', 'retry'));
    const all = Buffer.concat([err, encodeNotice('hello'), encodeReadyForQuery('T'), encodeNegotiateProtocolVersion(0, ['_pq_.x'])]);
    const msgs = parseAll(all);
    await new Promise((r) => setTimeout(r, 10));
    expect(msgs[0]).toMatchObject({ name: 'error', severity: 'ERROR', code: '55P03', message: 'writes to public.x are held', detail: 'detail here', hint: 'retry' });
    expect(msgs[1]).toMatchObject({ name: 'notice', message: 'hello' });
    expect(msgs[2]).toMatchObject({ name: 'readyForQuery', status: 'T' });
    // pg-protocol does not know 'v'; check the bytes.
    const v = encodeNegotiateProtocolVersion(0, ['_pq_.x']);
    expect(v[0]).toBe(0x76);
    expect(v.readInt32BE(1)).toBe(v.length - 1);
    expect(v.readInt32BE(5)).toBe(196608);
    expect(v.readInt32BE(9)).toBe(1);
    expect(v.toString('utf8', 13, v.length - 1)).toBe('_pq_.x');
  });
});
