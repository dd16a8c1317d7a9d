import { describe, expect, it } from 'vitest';
import { parseDate, parseTimestamp, parseTimestamptz, roundTimestamp, TS_NOEND } from './datetime.js';
import { codecFor, parseBool, TypeOid } from './key-codec.js';
import { compareNumeric, decodeNumericBinary, parseNumeric, roundNumeric } from './numeric.js';

const US = 1_000_000n;
const H = 3600n * US;
const D = 24n * H;

describe('numeric', () => {
  it('parses and compares exactly, with NaN above Infinity', () => {
    const n = (s: string) => parseNumeric(s)!;
    expect(compareNumeric(n('1.50'), n('1.5'))).toBe(0);
    expect(compareNumeric(n('-1.5'), n('-1.49'))).toBe(-1);
    expect(compareNumeric(n('1e3'), n('999.999'))).toBe(1);
    expect(compareNumeric(n('Infinity'), n('1e1000'))).toBe(1);
    expect(compareNumeric(n('NaN'), n('Infinity'))).toBe(1);
    expect(compareNumeric(n('-Infinity'), n('-1e1000'))).toBe(-1);
    expect(parseNumeric('1_000')).toBeUndefined();
  });

  it('rounds half away from zero to the typmod scale', () => {
    expect(roundNumeric(parseNumeric('9.995')!, 2)).toEqual(parseNumeric('10.00'));
    expect(compareNumeric(roundNumeric(parseNumeric('-9.995')!, 2), parseNumeric('-10')!)).toBe(0);
    expect(compareNumeric(roundNumeric(parseNumeric('9.994')!, 2), parseNumeric('9.99')!)).toBe(0);
  });

  it('decodes the binary form', () => {
    // 12345.678: ndigits 3, weight 1, sign +, dscale 3, digits 1 2345 6780
    const b = Buffer.from([0, 3, 0, 1, 0, 0, 0, 3, 0, 1, 0x09, 0x29, 0x1a, 0x7c]);
    expect(compareNumeric(decodeNumericBinary(b)!, parseNumeric('12345.678')!)).toBe(0);
    // -0.0012: ndigits 1, weight -1, sign -, dscale 4, digit 12
    const c = Buffer.from([0, 1, 0xff, 0xff, 0x40, 0, 0, 4, 0, 12]);
    expect(compareNumeric(decodeNumericBinary(c)!, parseNumeric('-0.0012')!)).toBe(0);
    expect(decodeNumericBinary(Buffer.from([0, 0, 0, 0, 0xc0, 0, 0, 0]))).toEqual({ kind: 'nan' });
    expect(decodeNumericBinary(Buffer.from([0, 1, 0, 0]))).toBeUndefined();
  });
});

describe('date and time', () => {
  it('parses ISO dates and the special values', () => {
    expect(parseDate('2000-01-01')).toBe(0);
    expect(parseDate('2000-03-01')).toBe(60);
    expect(parseDate('1999-12-31')).toBe(-1);
    expect(parseDate('2023-02-29')).toBeUndefined();
    expect(parseDate('01/02/2026')).toBeUndefined(); // DateStyle-dependent
    expect(parseDate('infinity')).toBe(0x7fffffff);
    expect(parseDate('today')).toBeUndefined();
  });

  it('parses timestamps, ignoring a zone as timestamp_in does', () => {
    expect(parseTimestamp('2000-01-02 00:00:01.5')).toBe(D + US + 500_000n);
    expect(parseTimestamp('2000-01-01T10:00:00+05')).toBe(10n * H);
    expect(parseTimestamp('2000-01-01 24:00')).toBe(D);
    expect(parseTimestamp('2000-01-01 10:00:00.1234567')).toBeUndefined();
    expect(parseTimestamp('infinity')).toBe(TS_NOEND);
  });

  it('parses timestamptz: exact with an offset or a UTC session, a ±16h span otherwise', () => {
    expect(parseTimestamptz('2000-01-01 10:00:00+05:30', undefined)).toEqual({ lo: 4n * H + 30n * 60n * US, hi: 4n * H + 30n * 60n * US });
    expect(parseTimestamptz('2000-01-01 10:00Z', undefined)).toEqual({ lo: 10n * H, hi: 10n * H });
    expect(parseTimestamptz('2000-01-01 10:00 UTC', undefined)).toEqual({ lo: 10n * H, hi: 10n * H });
    expect(parseTimestamptz('2000-01-01 10:00', 0)).toEqual({ lo: 10n * H, hi: 10n * H });
    expect(parseTimestamptz('2000-01-01 10:00', undefined)).toEqual({ lo: -6n * H, hi: 26n * H });
    expect(parseTimestamptz('2000-01-01 10:00 Europe/Paris', 0)).toEqual({ lo: -6n * H, hi: 26n * H });
  });

  it('rounds to the timestamp(p) precision like AdjustTimestampForTypmod', () => {
    expect(roundTimestamp(1_500_000n, 0)).toBe(2_000_000n);
    expect(roundTimestamp(-1_500_000n, 0)).toBe(-2_000_000n);
    expect(roundTimestamp(1_449_999n, 1)).toBe(1_400_000n);
    expect(roundTimestamp(1_449_999n, -1)).toBe(1_449_999n);
  });
});

describe('key codecs', () => {
  const ctx = { sessionOffsetSec: 0 };
  it('decodes binary parameters of every supported type', () => {
    const int = codecFor(TypeOid.int4)!;
    expect(int.fromBinary(Buffer.from([0xff, 0xff, 0xff, 0xfe]), TypeOid.int4)).toBe(-2n);
    expect(int.fromBinary(Buffer.from([0x80, 0]), TypeOid.int2)).toBe(-32768n);
    expect(int.fromBinary(Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]), TypeOid.int8)).toBe(1n << 32n);
    expect(int.fromBinary(Buffer.from([0, 0, 1]), TypeOid.int4)).toBeUndefined();
    expect(codecFor(TypeOid.bool)!.fromBinary(Buffer.from([1]), TypeOid.bool)).toBe(true);
    const u = Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex');
    expect(codecFor(TypeOid.uuid)!.fromBinary(u, TypeOid.uuid)).toEqual(u);
    expect(codecFor(TypeOid.date)!.fromBinary(Buffer.from([0xff, 0xff, 0xff, 0xff]), TypeOid.date)).toBe(-1);
    const ts = Buffer.alloc(8);
    ts.writeBigInt64BE(D);
    expect(codecFor(TypeOid.timestamptz)!.fromBinary(ts, TypeOid.timestamptz)).toBe(D);
    expect(codecFor(TypeOid.timestamp)!.fromBinary(ts, TypeOid.timestamptz)).toBeUndefined(); // needs the session zone
    expect(codecFor(TypeOid.text)!.fromBinary(Buffer.from('é'), TypeOid.text)).toEqual(Buffer.from('é'));
  });

  it('reads text forms like the input functions', () => {
    expect(codecFor(TypeOid.int2)!.fromText(' -32768 ', ctx)).toEqual({ kind: 'point', value: -32768n });
    expect(codecFor(TypeOid.int2)!.fromText('32768', ctx)).toBeUndefined();
    expect(codecFor(TypeOid.int4)!.fromText('0x10', ctx)).toBeUndefined();
    expect(codecFor(TypeOid.uuid)!.fromText('{A0EEBC99-9C0B4EF8-BB6D6BB9-BD380A11}', ctx)).toEqual({ kind: 'point', value: Buffer.from('a0eebc999c0b4ef8bb6d6bb9bd380a11', 'hex') });
    expect(parseBool('t')).toBe(true);
    expect(parseBool(' OFF ')).toBe(false);
    expect(parseBool('o')).toBeUndefined();
    expect(parseBool('ye')).toBe(true);
  });

  it('applies varchar(n) trailing-space truncation on insert', () => {
    const t = codecFor(TypeOid.varchar)!;
    expect(t.forInsert(Buffer.from('ab   '), 4 + 3)).toEqual(Buffer.from('ab '));
    expect(t.forInsert(Buffer.from('abcd'), 4 + 3)).toBeUndefined();
    expect(t.forInsert(Buffer.from('ab'), -1)).toEqual(Buffer.from('ab'));
  });
});
