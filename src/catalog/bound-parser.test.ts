import { describe, expect, it } from 'vitest';
import { BoundParseError, parseBound, parseConstDefault } from './bound-parser.js';

describe('parseBound', () => {
  it('reads DEFAULT', () => {
    expect(parseBound('DEFAULT')).toEqual({ kind: 'default' });
  });

  it('reads range bounds with MINVALUE/MAXVALUE and quoted negative numbers', () => {
    expect(parseBound("FOR VALUES FROM (MINVALUE, MINVALUE) TO ('-5', 'it''s')")).toEqual({
      kind: 'range',
      from: [{ kind: 'minvalue' }, { kind: 'minvalue' }],
      to: [{ kind: 'value', text: '-5' }, { kind: 'value', text: "it's" }],
    });
    expect(parseBound("FOR VALUES FROM ('2026-10-01 00:00:00+00') TO (MAXVALUE)")).toEqual({
      kind: 'range',
      from: [{ kind: 'value', text: '2026-10-01 00:00:00+00' }],
      to: [{ kind: 'maxvalue' }],
    });
    expect(parseBound('FOR VALUES FROM (1.5) TO (100)')).toEqual({
      kind: 'range',
      from: [{ kind: 'value', text: '1.5' }],
      to: [{ kind: 'value', text: '100' }],
    });
  });

  it('reads list bounds with NULL, booleans and escapes', () => {
    expect(parseBound("FOR VALUES IN ('a', NULL, 'b''c', E'x\\\\y')")).toEqual({
      kind: 'list',
      values: [{ kind: 'value', text: 'a' }, { kind: 'null' }, { kind: 'value', text: "b'c" }, { kind: 'value', text: 'x\\y' }],
    });
    expect(parseBound('FOR VALUES IN (true)')).toEqual({ kind: 'list', values: [{ kind: 'value', text: 'true' }] });
  });

  it('reads hash bounds', () => {
    expect(parseBound('FOR VALUES WITH (modulus 8, remainder 3)')).toEqual({ kind: 'hash', modulus: 8, remainder: 3 });
  });

  it('rejects what it does not understand', () => {
    for (const bad of ['', 'FOR VALUES', "FOR VALUES IN ('a'", 'FOR VALUES WITH (modulus 2, remainder 2)', "FOR VALUES IN ('a') extra", 'FOR VALUES FROM (1)'])
      expect(() => parseBound(bad)).toThrow(BoundParseError);
  });
});

describe('parseConstDefault', () => {
  it('reads constants with or without a cast', () => {
    expect(parseConstDefault("'eu'::text")).toEqual({ text: 'eu' });
    expect(parseConstDefault("'-5'::integer")).toEqual({ text: '-5' });
    expect(parseConstDefault('42')).toEqual({ text: '42' });
    expect(parseConstDefault("'2020-01-01 08:00:00+00'::timestamp with time zone")).toEqual({ text: '2020-01-01 08:00:00+00' });
    expect(parseConstDefault('NULL::text')).toEqual({ text: null });
    expect(parseConstDefault("'x'::character varying(5)")).toEqual({ text: 'x' });
  });

  it('refuses expressions', () => {
    expect(parseConstDefault('now()')).toBeUndefined();
    expect(parseConstDefault("nextval('s'::regclass)")).toBeUndefined();
    expect(parseConstDefault("('a'::text || 'b'::text)")).toBeUndefined();
  });
});
