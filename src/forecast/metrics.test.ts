import { describe, expect, it } from 'vitest';
import { mase, meanAbsoluteError, seasonalNaiveScale, smape, trough } from './metrics.js';
import { quantile, windowSums } from './series-math.js';

describe('metrics on hand-computed examples', () => {
  it('MAE skips gaps', () => {
    expect(meanAbsoluteError([1, 2, 3], [2, NaN, 1])).toBe(1.5);
  });

  it('MASE scales by the in-sample seasonal-naive MAE', () => {
    // Period 2: |3-1|, |4-2|, |7-3| → scale (2 + 2 + 4) / 3 = 8/3; horizon MAE (1 + 3) / 2 = 2.
    const training = [1, 2, 3, 4, 7];
    expect(seasonalNaiveScale(training, 2)).toBeCloseTo(8 / 3, 12);
    expect(mase([5, 5], [4, 8], training, 2)).toBeCloseTo(2 / (8 / 3), 12);
    expect(mase([1], [1], [3, 3, 3], 1)).toBeNaN();
  });

  it('sMAPE is 200|f−a|/(|f|+|a|) averaged, with 0/0 counted as 0', () => {
    // 200·1/3, 200·2/2, 0 → (66.67 + 200 + 0) / 3.
    expect(smape([1, 0, 0], [2, 2, 0])).toBeCloseTo((200 / 3 + 200) / 3, 10);
  });

  it('trough excess and hit', () => {
    const actual = [5, 1, 1, 5, 3, 3];
    // K = 2 actual sums: 6, 2, 6, 8, 6 (mean 5.6); best = index 1.
    const exact = trough([9, 0, 0, 9, 9, 9], actual, 2);
    expect(exact).toEqual({ chosen: 1, best: 1, excessPct: 0, hit: true });
    // Forecast says the last window (actual 6): excess (6 − 2) / 5.6.
    const wrong = trough([9, 9, 9, 9, 0, 0], actual, 2);
    expect(wrong.chosen).toBe(4);
    expect(wrong.excessPct).toBeCloseTo((100 * 4) / 5.6, 10);
    expect(wrong.hit).toBe(false);
  });

  it('a tie in the actual minimum counts as a hit (zero nights)', () => {
    const r = trough([5, 5, 1, 0], [0, 0, 0, 0], 2);
    expect(r.hit).toBe(true);
    expect(r.excessPct).toBe(0);
  });

  it('window sums and quantiles', () => {
    expect(Array.from(windowSums([1, 2, 3, 4], 2))).toEqual([3, 5, 7]);
    expect(quantile([4, 1, 3, 2, NaN], 0.5)).toBe(2.5);
    expect(quantile([10, 0], 0.9)).toBe(9);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
