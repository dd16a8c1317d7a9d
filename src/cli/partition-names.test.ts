import { describe, expect, test } from 'vitest';
import { resolveName, resolveNames, UnknownNameError } from './partition-names.js';

const leaves = [
  { name: 'public.orders_eu', root: 'public.orders' },
  { name: 'public.orders_us', root: 'public.orders' },
  { name: 'sales.orders_eu', root: 'sales.orders' },
  { name: 'public.events_2026_11', root: 'public.events' },
];

describe('partition names', () => {
  test('with and without schema', () => {
    expect(resolveName('public.orders_us', leaves)).toEqual(['public.orders_us']);
    expect(resolveName('orders_us', leaves)).toEqual(['public.orders_us']);
    expect(resolveName('events_2026_11', leaves)).toEqual(['public.events_2026_11']);
  });
  test('a table stands for its partitions', () => {
    expect(resolveName('public.orders', leaves)).toEqual(['public.orders_eu', 'public.orders_us']);
    expect(resolveName('events', leaves)).toEqual(['public.events_2026_11']);
    expect(() => resolveName('events', leaves, { tables: false })).toThrow(UnknownNameError);
  });
  test('an ambiguous bare name lists the candidates', () => {
    expect(() => resolveName('orders_eu', leaves)).toThrow('did you mean public.orders_eu or sales.orders_eu?');
  });
  test('a typo gets a suggestion, nonsense gets none', () => {
    expect(() => resolveName('public.ordres_eu', leaves)).toThrow('no managed partition or partitioned table named public.ordres_eu; did you mean public.orders_eu?');
    expect(() => resolveName('ordrs_us', leaves)).toThrow('did you mean orders_us?');
    const e = (() => {
      try {
        resolveName('zzzzzzzzzzzz', leaves);
      } catch (err) {
        return err as UnknownNameError;
      }
      return null;
    })();
    expect(e?.suggestion).toBeNull();
  });
  test('several names, no duplicates', () => {
    expect(resolveNames(['orders_us', 'public.orders'], leaves)).toEqual(['public.orders_us', 'public.orders_eu']);
  });
});
