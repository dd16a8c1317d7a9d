import { describe, expect, test } from 'vitest';
import { BypassLedger } from './bypass-ledger.js';

describe('BypassLedger', () => {
  const H = 10_000;

  test('rows the server shows after the proxy counted them are not bypass', () => {
    const l = new BypassLedger(H);
    l.wrote('p', 5, 0);
    l.observed('p', 5, 1500);
    expect(l.settle(1500 + H)).toEqual(new Map());
  });

  test('rows the server shows before another node flushed its count wait for it, within the horizon', () => {
    const l = new BypassLedger(H);
    l.observed('p', 7, 0);
    expect(l.settle(H - 1).get('p')).toBe(0);
    l.wrote('p', 7, H - 1);
    expect(l.settle(2 * H).get('p') ?? 0).toBe(0);
  });

  test('rows nothing proxied are bypass once the horizon has passed, reported once', () => {
    const l = new BypassLedger(H);
    l.observed('p', 3, 0);
    expect(l.settle(H / 2).get('p')).toBe(0);
    expect(l.settle(H).get('p')).toBe(3);
    expect(l.settle(H + 1).get('p') ?? 0).toBe(0);
  });

  test('a mix: proxied rows cancel what they cover, the rest is bypass', () => {
    const l = new BypassLedger(H);
    l.wrote('p', 4, 0);
    l.observed('p', 6, 100); // 4 proxied + 2 around the proxy
    l.wrote('q', 1, 100);
    expect(l.settle(100 + H)).toEqual(new Map([['p', 2], ['q', 0]]));
  });

  test('a proxied count nothing showed within the horizon is forgotten: it cannot hide a later bypass', () => {
    const l = new BypassLedger(H);
    l.wrote('p', 10, 0);
    l.settle(H);
    l.observed('p', 10, H + 1);
    expect(l.settle(2 * H + 1).get('p')).toBe(10);
  });

  test('partitions are independent', () => {
    const l = new BypassLedger(H);
    l.wrote('a', 5, 0);
    l.observed('b', 5, 0);
    expect(l.settle(H)).toEqual(new Map([['a', 0], ['b', 5]]));
  });
});
