import { describe, expect, test } from 'vitest';
import { Backend } from '../protocol/codes.js';
import { decodeBackendKeyData } from '../protocol/decode.js';
import { encodeBackendKeyData, encodeMessage, encodeReadyForQuery } from '../protocol/encode.js';
import { workerOfSecret, workerSecret } from './cancel-key.js';
import { cancelKeyRule, ServerStartupRewriter } from './startup-rewrite.js';

const authOk = encodeMessage(Backend.Authentication, Buffer.from([0, 0, 0, 0]));
const param = encodeMessage(Backend.ParameterStatus, Buffer.from('server_version\x0015.0\0'));

describe('ServerStartupRewriter with the worker cancel key', () => {
  test('the client gets a key naming the worker at every split of the stream; the server key is kept; the rest passes byte for byte', () => {
    const server = { pid: 4242, secret: -0x12345679 };
    const after = Buffer.from('rows after ready, unread');
    const stream = Buffer.concat([authOk, param, encodeBackendKeyData(server.pid, server.secret), encodeReadyForQuery('I'), after]);
    const want = Buffer.concat([authOk, param, encodeBackendKeyData(server.pid, workerSecret(3, server.secret)), encodeReadyForQuery('I'), after]);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (let cut2 = cut; cut2 <= stream.length; cut2 += 7) {
        const seen: Array<{ pid: number; secret: number }> = [];
        const r = new ServerStartupRewriter([cancelKeyRule((pid, secret) => seen.push({ pid, secret }), (_pid, secret) => workerSecret(3, secret))]);
        const got = Buffer.concat([r.feed(stream.subarray(0, cut)), r.feed(stream.subarray(cut, cut2)), r.feed(stream.subarray(cut2))]);
        expect(got.equals(want), `cuts at ${cut}, ${cut2}`).toBe(true);
        expect(seen).toEqual([server]);
      }
    }
    expect(workerOfSecret(decodeBackendKeyData(want, authOk.length + param.length).secret)).toBe(3);
  });

  test('rules are tried in order and the first that rewrites wins; after ReadyForQuery nothing is touched', () => {
    const r = new ServerStartupRewriter([() => null, (type) => (type === Backend.ParameterStatus ? Buffer.from('X') : null), () => Buffer.from('never')]);
    expect(r.feed(Buffer.concat([param, encodeReadyForQuery('I')])).equals(Buffer.concat([Buffer.from('X'), encodeReadyForQuery('I')]))).toBe(true);
    expect(r.feed(param)).toBe(param);
  });
});
