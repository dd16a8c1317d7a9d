import { describe, expect, it } from 'vitest';
import { cloneDoubleSeasonal, doubleSeasonalMean, filterDoubleSeasonal, fitDoubleSeasonal } from './double-seasonal.js';

const m = 24;
/** Daily shape plus a weekend drop: what neither single-period Holt-Winters holds alone. */
const truth = (i: number): number => 100 + 30 * Math.sin((2 * Math.PI * i) / m) + (Math.floor(i / m) % 7 >= 5 ? -40 : 0);

describe('double-seasonal Holt-Winters', () => {
  it('learns the daily shape and the weekday effect and forecasts both', () => {
    const values = Float64Array.from({ length: 5 * 7 * m }, (_, i) => truth(i));
    const state = fitDoubleSeasonal(values, m);
    expect(state).not.toBeNull();
    const mean = doubleSeasonalMean(state!, 7 * m);
    for (let h = 0; h < 7 * m; h++) expect(mean[h]).toBeCloseTo(truth(values.length + h), 0);
  });

  it('skips gaps, clips at zero, and refuses fewer than three weeks', () => {
    expect(fitDoubleSeasonal(new Float64Array(3 * 7 * m - 1).fill(1), m)).toBeNull();
    expect(fitDoubleSeasonal(new Float64Array(3 * 7 * m).fill(NaN), m)).toBeNull();
    const values = Float64Array.from({ length: 4 * 7 * m }, (_, i) => (i % 97 === 0 ? NaN : truth(i) - 100));
    const state = fitDoubleSeasonal(values, m)!;
    const mean = doubleSeasonalMean(state, 2 * m);
    expect(Math.min(...mean)).toBe(0);
    expect(mean.every(Number.isFinite)).toBe(true);
  });

  it('rolls forward by its filter: a fit then filtered equals its forecasts from the same state', () => {
    const values = Float64Array.from({ length: 5 * 7 * m }, (_, i) => truth(i) + (i % 5) - 2);
    const cut = 4 * 7 * m;
    const state = fitDoubleSeasonal(values.subarray(0, cut), m)!;
    const before = cloneDoubleSeasonal(state);
    filterDoubleSeasonal(state, values, cut + m);
    expect(state.next).toBe(cut + m);
    // The clone is untouched by the filter run on the original.
    expect(before.next).toBe(cut);
    expect(doubleSeasonalMean(before, 2 * m).subarray(m)).not.toEqual(doubleSeasonalMean(state, m));
  });
});
