import { describe, expect, test } from 'vitest';
import { toSeries } from './history.js';

describe('toSeries', () => {
  test('no rows: no series', () => {
    expect(toSeries([], 60_000)).toBeNull();
  });

  test('zero-fills the steps between the first and last bucket', () => {
    const step = 300_000;
    const s = toSeries(
      [
        { slot: '10', v: '4' },
        { slot: '13', v: '2' },
        { slot: '14', v: '1' },
      ],
      step,
    );
    expect(s?.startMs).toBe(10 * step);
    expect(s?.stepMs).toBe(step);
    expect([...(s?.values ?? [])]).toEqual([4, 0, 0, 2, 1]);
  });

  test('one bucket: a one-step series', () => {
    const s = toSeries([{ slot: '28000000', v: '7' }], 60_000);
    expect(s?.startMs).toBe(28_000_000 * 60_000);
    expect([...(s?.values ?? [])]).toEqual([7]);
  });
});
