import { describe, expect, it } from 'vitest';
import { artifactName, dumpPattern, isRunId, newRunId, parseTableName, quoteTable, runIdTime, safeSegment } from './names.js';

describe('names', () => {
  it('quotes identifiers, doubling embedded quotes', () => {
    expect(quoteTable({ schema: 'public', name: 'Orders' })).toBe('"public"."Orders"');
    expect(quoteTable({ schema: 'a"b', name: 'x.y' })).toBe('"a""b"."x.y"');
    // pattern characters stay inside the quotes, where pg_dump takes them literally
    expect(dumpPattern({ schema: 's', name: 'ev*_2026?.$|' })).toBe('"s"."ev*_2026?.$|"');
  });

  it('artifact names are filesystem-safe and injective', () => {
    expect(artifactName({ schema: 'public', name: 'events_2026_11' })).toBe('public.events_2026_11.dump');
    expect(artifactName({ schema: 'sales', name: 'ledger.q1' })).toBe('sales.ledger%2Eq1.dump');
    expect(artifactName({ schema: 'a.b', name: 'c' })).not.toBe(artifactName({ schema: 'a', name: 'b.c' }));
    expect(safeSegment('../x/y')).toBe('%2E%2E%2Fx%2Fy');
    expect(safeSegment('größe')).toBe('gr%C3%B6%C3%9Fe');
    expect(safeSegment('a%2E')).toBe('a%252E');
    const long = artifactName({ schema: 'ä'.repeat(31), name: 'ö'.repeat(31) });
    expect(long.length).toBeLessThanOrEqual(200);
    expect(long).toMatch(/^[A-Za-z0-9_%.-]+~[0-9a-f]{16}\.dump$/);
    expect(long).not.toBe(artifactName({ schema: 'ä'.repeat(31), name: 'ö'.repeat(30) + 'ü' }));
  });

  it('run ids sort by time and carry their start time', () => {
    const a = newRunId(new Date('2026-11-24T08:15:00.123Z'), '1a2b');
    expect(a).toBe('20261124T081500Z-1a2b');
    expect(isRunId(a)).toBe(true);
    expect(runIdTime(a)?.toISOString()).toBe('2026-11-24T08:15:00.000Z');
    const b = newRunId(new Date('2026-11-24T08:15:01Z'));
    expect([b, a].sort()).toEqual([a, b]);
    expect(isRunId('../20261124T081500Z-1a2b')).toBe(false);
    expect(runIdTime('nope')).toBeNull();
    expect(() => newRunId(new Date(), 'XYZ1')).toThrow(/hex/);
  });

  it('parses schema.name with quotes', () => {
    expect(parseTableName('public.orders_eu')).toEqual({ schema: 'public', name: 'orders_eu' });
    expect(parseTableName('orders_eu')).toEqual({ schema: 'public', name: 'orders_eu' });
    expect(parseTableName('"odd.schema"."Na""me"')).toEqual({ schema: 'odd.schema', name: 'Na"me' });
    expect(() => parseTableName('a.b.c')).toThrow();
    expect(() => parseTableName('a.')).toThrow();
    expect(() => parseTableName('"a')).toThrow();
  });
});
