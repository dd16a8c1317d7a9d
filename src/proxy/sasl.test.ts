import { describe, expect, test } from 'vitest';
import { Backend } from '../protocol/codes.js';
import { encodeMessage, encodeReadyForQuery } from '../protocol/encode.js';
import { PlainClientSaslOffer } from './sasl.js';

const sasl = (...names: string[]): Buffer => {
  const code = Buffer.alloc(4);
  code.writeInt32BE(10, 0);
  return encodeMessage(Backend.Authentication, Buffer.concat([code, ...names.map((n) => Buffer.from(`${n}\0`)), Buffer.from([0])]));
};
const param = encodeMessage(Backend.ParameterStatus, Buffer.from('a\0b\0'));

describe('PlainClientSaslOffer', () => {
  test('drops SCRAM-SHA-256-PLUS from the offer at every split of the stream, and passes the rest byte for byte', () => {
    const stream = Buffer.concat([sasl('SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256'), param, encodeReadyForQuery('I'), Buffer.from('after ready, unread')]);
    const want = Buffer.concat([sasl('SCRAM-SHA-256'), param, encodeReadyForQuery('I'), Buffer.from('after ready, unread')]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const f = new PlainClientSaslOffer();
      const got = Buffer.concat([f.feed(stream.subarray(0, cut)), f.feed(stream.subarray(cut))]);
      expect(got.equals(want), `cut at ${cut}`).toBe(true);
    }
  });

  test('an offer without PLUS, and other authentication requests, pass unchanged', () => {
    const md5 = encodeMessage(Backend.Authentication, Buffer.from([0, 0, 0, 5, 1, 2, 3, 4]));
    const stream = Buffer.concat([md5, sasl('SCRAM-SHA-256')]);
    expect(new PlainClientSaslOffer().feed(stream).equals(stream)).toBe(true);
  });

  test('after the first ReadyForQuery it steps aside: a later PLUS offer is not touched', () => {
    const f = new PlainClientSaslOffer();
    f.feed(encodeReadyForQuery('I'));
    const later = sasl('SCRAM-SHA-256-PLUS');
    expect(f.feed(later)).toBe(later);
  });
});
