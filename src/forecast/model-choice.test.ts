import { describe, expect, it } from 'vitest';
import { forecast, forecastProfile } from './forecast.js';
import { screenGrossOutliers } from './profile-model.js';
import { mstl } from './stl.js';
import type { Series } from './types.js';

const HOUR_MS = 3_600_000;
const MONDAY = Date.UTC(2024, 0, 1);
const opts = { horizonSteps: 24, quantile: 0.9 };

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function meanAbsDiff(a: ArrayLike<number>, b: (h: number) => number): number {
  let sum = 0;
  for (let h = 0; h < a.length; h++) sum += Math.abs((a[h] as number) - b(h));
  return sum / a.length;
}

describe('quietcut model choice', () => {
  it('picks MSTL for a smooth series whose daily shape drifts, and beats the profile model there', () => {
    const random = rng(11);
    const n = 42 * 24;
    // Peak hour moving 6 minutes later each day: the profile model's averaged profile lags it.
    const truth = (i: number): number => 100 + 40 * Math.sin((2 * Math.PI * (i - (i / 24) * 0.1)) / 24) + (Math.floor(i / 24) % 7 >= 5 ? -20 : 0);
    const history: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => truth(i) + random() - 0.5) };
    const chosen = forecast(history, opts);
    expect(chosen.model).toBe('mstl-daily-weekly');
    const profile = forecastProfile(history, opts);
    expect(meanAbsDiff(chosen.mean, (h) => truth(n + h))).toBeLessThan(meanAbsDiff(profile.mean, (h) => truth(n + h)));
    for (let h = 0; h < 24; h++) expect(chosen.upper[h]).toBeGreaterThanOrEqual(chosen.mean[h] as number);
  });

  it('keeps the profile model for sharp daily edges (a one-hour nightly batch job)', () => {
    const random = rng(12);
    const n = 35 * 24;
    const truth = (i: number): number => (i % 24 === 2 ? 500 : i % 24 >= 9 && i % 24 < 17 ? 100 : 10);
    const history: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => truth(i) + 4 * (random() - 0.5)) };
    const f = forecast(history, opts);
    expect(f.model.startsWith('mstl')).toBe(false);
    // The batch hour is forecast, not screened away as an outlier.
    expect(f.mean[2]).toBeGreaterThan(400);
    expect(meanAbsDiff(f.mean, (h) => truth(n + h))).toBeLessThan(5);
  });

  it('lets MSTL fit only the periods the profile model detects', () => {
    const random = rng(13);
    const n = 28 * 24;
    const truth = (i: number): number => 100 + 40 * Math.sin((2 * Math.PI * (i - (i / 24) * 0.1)) / 24);
    const history: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => truth(i) + random() - 0.5) };
    expect(['daily-profile', 'mstl-daily']).toContain(forecast(history, opts).model);
    const noise: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, () => 50 + 10 * random()) };
    expect(forecast(noise, opts).model).toBe('flat-level');
  });

  it('refines a half-hourly MSTL forecast to 5-minute steps by each step\'s share of its block', () => {
    const random = rng(14);
    const perDay = 288;
    const n = 28 * perDay;
    // Smooth drifting daily shape, plus every day a 5-minute burst at 03:00 inside its half hour.
    const truth = (i: number): number => 50 + 20 * Math.sin((2 * Math.PI * (i - (i / perDay) * 1.2)) / perDay) + (i % perDay === 36 ? 60 : 0);
    const history: Series = { startMs: MONDAY, stepMs: 300_000, values: Float64Array.from({ length: n }, (_, i) => truth(i) + random() - 0.5) };
    const f = forecast(history, { horizonSteps: perDay, quantile: 0.9 });
    expect(f.mean.length).toBe(perDay);
    expect(f.mean[36]).toBeGreaterThan((f.mean[35] as number) + 40);
    expect(meanAbsDiff(f.mean, (h) => truth(n + h))).toBeLessThan(3);
  });

  it('one spike in the holdout week does not flip the choice', () => {
    const random = rng(15);
    const n = 28 * 24;
    const truth = (i: number): number => 100 + 40 * Math.sin((2 * Math.PI * (i - 6)) / 24) + (Math.floor(i / 24) % 7 >= 5 ? -30 : 0);
    const clean: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => truth(i) + 3 * (random() - 0.5)) };
    const spiked = { ...clean, values: Float64Array.from(clean.values) };
    spiked.values[n - 5 * 24 + 10] = 5000;
    expect(forecast(spiked, opts).model).toBe(forecast(clean, opts).model);
  });
});

describe('gross-outlier screen by time of day', () => {
  it('flags a one-off spike but keeps a spike that recurs every day at the same step', () => {
    const m = 24;
    const y = Float64Array.from({ length: 10 * m }, (_, i) => 10 + (i % 3) + (i % m === 2 ? 1000 : 0));
    y[5 * m + 12] = 1000;
    const byTime = new Float64Array(y.length);
    const byDay = new Float64Array(y.length);
    screenGrossOutliers(y, byTime);
    screenGrossOutliers(y, byDay, m);
    expect(byTime[5 * m + 2]).toBe(0);
    expect(byDay[5 * m + 2]).toBe(1);
    expect(byTime[5 * m + 12]).toBe(0);
    expect(byDay[5 * m + 12]).toBe(0);
  });
});

describe('loess weight cache', () => {
  it('gives the same decomposition whatever was smoothed before (no stale weights)', () => {
    const random = rng(16);
    const y = Float64Array.from({ length: 24 * 21 }, (_, i) => 100 + 30 * Math.sin((2 * Math.PI * i) / 24) + 5 * random());
    const first = mstl(y, [24, 168]);
    // A differently shaped smooth in between fills the cache with other windows.
    mstl(Float64Array.from({ length: 90 }, (_, i) => i % 7), [7]);
    const again = mstl(y, [24, 168]);
    expect(Array.from(again.trend)).toEqual(Array.from(first.trend));
    expect(Array.from(again.seasonals[0] as Float64Array)).toEqual(Array.from(first.seasonals[0] as Float64Array));
  });
});
