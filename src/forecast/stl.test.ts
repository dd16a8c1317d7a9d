import { describe, expect, it } from 'vitest';
import { forecast } from './forecast.js';
import { fitMstl, mstlMean, rollMstl } from './mstl-model.js';
import { mstl, stl } from './stl.js';

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

const HOUR_MS = 3_600_000;

describe('STL and MSTL', () => {
  it('STL splits a sine plus a linear trend into its parts', () => {
    const n = 24 * 20;
    const y = Float64Array.from({ length: n }, (_, i) => 50 + 0.1 * i + 10 * Math.sin((2 * Math.PI * i) / 24));
    const { seasonal, trend } = stl(y, { period: 24, seasonalWindow: 11 });
    // Away from the ends, where loess extrapolates.
    for (let i = 48; i < n - 48; i++) {
      expect(Math.abs((seasonal[i] as number) - 10 * Math.sin((2 * Math.PI * i) / 24))).toBeLessThan(0.3);
      expect(Math.abs((trend[i] as number) - (50 + 0.1 * i))).toBeLessThan(0.3);
    }
  });

  it('MSTL separates a daily and a weekly pattern and drops periods that do not fit twice', () => {
    const random = rng(1);
    const n = 24 * 7 * 4;
    const weekly = (i: number): number => (Math.floor(i / 24) % 7 >= 5 ? -20 : 8);
    const y = Float64Array.from({ length: n }, (_, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 24) + weekly(i) + (random() - 0.5));
    const d = mstl(y, [24, 168, 24 * 30]);
    expect(d.periods).toEqual([24, 168]);
    const [daily, week] = d.seasonals as [Float64Array, Float64Array];
    // Saturday noon vs Wednesday noon of week 3: the weekly component holds the 28 difference
    // (a weekly STL smooths the step's edges, so only mid-day is checked).
    const sat = 2 * 168 + 5 * 24 + 12;
    const wed = 2 * 168 + 2 * 24 + 12;
    expect((week[wed] as number) - (week[sat] as number)).toBeGreaterThan(22);
    expect(Math.abs((daily[wed - 6] as number) - 30)).toBeLessThan(4); // 06:00, the sine's peak
  });

  it('the MSTL model forecasts a smooth series whose daily shape drifts, and survives gaps and a spike', () => {
    const n = 24 * 28;
    // Peak hour moving later by 2 minutes a day: a profile averaged over weeks lags it.
    const truth = (i: number): number => 100 + 30 * Math.sin((2 * Math.PI * (i - (i / 24) * (2 / 60))) / 24);
    const y = Float64Array.from({ length: n }, (_, i) => truth(i));
    y[n - 30] = NaN;
    y[n - 100] = 10_000;
    const fit = fitMstl(y, 24);
    expect(fit).not.toBeNull();
    const mean = mstlMean(fit!, 24);
    for (let h = 0; h < 24; h++) expect(Math.abs((mean[h] as number) - truth(n + h))).toBeLessThan(2);
    expect(fitMstl(new Float64Array(40), 24)).toBeNull();
  });

  it('rolled to a later origin, MSTL follows a changed daily shape and keeps the weekly one', () => {
    const random = rng(3);
    const n = 24 * 7 * 6;
    const later = 24 * 7;
    // The daily peak moves from 06:00 to 12:00 on the fit's last day; weekends are 20 lower throughout.
    const truth = (i: number): number => 100 + 30 * Math.sin((2 * Math.PI * (i - (i >= n - 24 ? 6 : 0))) / 24) + (Math.floor(i / 24) % 7 >= 5 ? -20 : 0);
    const y = Float64Array.from({ length: n + later }, (_, i) => truth(i) + (random() - 0.5));
    const fit = fitMstl(y.subarray(0, n), 24)!;
    const rolled = rollMstl(fit, y, later, 14);
    expect(rolled).not.toBeNull();
    const error = (mean: Float64Array, from: number): number => mean.reduce((s, v, h) => s + Math.abs(v - truth(from + h)), 0) / mean.length;
    const stale = mstlMean(fit, later + 168).subarray(later);
    // A week ahead, so the weekend is in it: the weekly component came through the roll.
    const fresh = mstlMean(rolled!, 168);
    expect(error(fresh, n + later)).toBeLessThan(0.25 * error(stale, n + later));
    expect(error(fresh, n + later)).toBeLessThan(4);
    expect(() => rollMstl(fit, y.subarray(24), later, 14)).toThrow(RangeError);
  });

  it('the model choice falls back to forecast() on short histories', () => {
    const series = { startMs: 0, stepMs: HOUR_MS, values: Float64Array.from({ length: 24 * 5 }, (_, i) => 10 + (i % 24)) };
    expect(forecast(series, { horizonSteps: 24, quantile: 0.9 }).model).toBe('daily-profile');
  });
});
