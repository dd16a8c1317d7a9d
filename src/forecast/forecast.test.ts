import { describe, expect, it } from 'vitest';
import { seasonalNaive } from './baselines.js';
import { forecast } from './forecast.js';
import { fitProfile, hasWeeklyProfile } from './profile-model.js';
import type { Series } from './types.js';

const HOUR_MS = 3_600_000;
/** Monday 2024-01-01 00:00 UTC, so weekday 0 of the synthetic series is a Monday. */
const MONDAY = Date.UTC(2024, 0, 1);

function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Standard normal noise (Box–Muller) from a seeded generator, so every run sees the same data. */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** Hourly truth: level 100 (+ trend), daily sine of amplitude 40, weekend −30 when `weekly`. */
function truth(i: number, opts: { weekly?: boolean; trendPerStep?: number } = {}): number {
  const hour = i % 24;
  const weekday = Math.floor(i / 24) % 7;
  const weekend = opts.weekly === true && weekday >= 5 ? -30 : 0;
  return 100 + (opts.trendPerStep ?? 0) * i + 40 * Math.sin((2 * Math.PI * (hour - 6)) / 24) + weekend;
}

function makeSeries(length: number, value: (i: number) => number, stepMs = HOUR_MS): Series {
  return { startMs: MONDAY, stepMs, values: Float64Array.from({ length }, (_, i) => value(i)) };
}

function meanAbsDiff(a: ArrayLike<number>, b: (h: number) => number): number {
  let sum = 0;
  for (let h = 0; h < a.length; h++) sum += Math.abs((a[h] as number) - b(h));
  return sum / a.length;
}

const opts = { horizonSteps: 24, quantile: 0.9 };

describe('forecast on synthetic series', () => {
  it('recovers daily and weekly seasonality under noise', () => {
    const random = rng(1);
    const n = 28 * 24;
    const history = makeSeries(n, (i) => truth(i, { weekly: true }) + 5 * gaussian(random));
    // Forecast a Saturday (weekday 5 of week 5) and a Monday.
    const errors: number[] = [];
    for (const cut of [n - 2 * 24, n]) {
      const f = forecast({ ...history, values: history.values.subarray(0, cut) }, opts);
      // Four weeks allow the validated choice: any candidate or combination may win on a smooth
      // sine, but it must meet the accuracy below, which needs the weekly period.
      expect(f.startMs).toBe(MONDAY + cut * HOUR_MS);
      errors.push(meanAbsDiff(f.mean, (h) => truth(cut + h, { weekly: true })));
    }
    // Noise sd 5: weekly seasonal naive is off by about 5.6 on average (√2 · 5 · 0.8). The weekend
    // rests on ~3 effective weeks (14-day half-life), so its day is the harder one.
    expect(Math.max(...errors)).toBeLessThan(5);
    expect((errors[0]! + errors[1]!) / 2).toBeLessThan(3.5);
  });

  it('detects the absence of a weekly pattern', () => {
    const random = rng(2);
    const history = makeSeries(28 * 24, (i) => truth(i) + 5 * gaussian(random));
    const f = forecast(history, opts);
    expect(meanAbsDiff(f.mean, (h) => truth(28 * 24 + h))).toBeLessThan(3);
    // The daily profile is the sine: peak at 12:00, trough at 00:00, amplitude 40.
    const fit = fitProfile(history);
    expect(hasWeeklyProfile(fit)).toBe(false);
    // Each slot averages about 8 effective days (4-day half-life) of noise sd 5: sd ≈ 1.8.
    expect(Math.abs((fit.daily[12] as number) - 40)).toBeLessThan(5);
    expect(Math.abs((fit.daily[0] as number) + 40)).toBeLessThan(5);
  });

  it('reports no seasonality on white noise', () => {
    const random = rng(3);
    const f = forecast(makeSeries(21 * 24, () => 50 + 5 * gaussian(random)), opts);
    expect(f.model).toBe('flat-level');
    expect(meanAbsDiff(f.mean, () => 50)).toBeLessThan(2);
  });

  it('follows a trend (as a level that moves with it)', () => {
    const random = rng(4);
    const trendPerStep = 0.05; // +34 over 4 weeks
    const n = 28 * 24;
    const f = forecast(makeSeries(n, (i) => truth(i, { trendPerStep }) + 3 * gaussian(random)), opts);
    // The level is the last day's mean: it lags the trend by about a day, 1.2 here.
    expect(meanAbsDiff(f.mean, (h) => truth(n + h, { trendPerStep }))).toBeLessThan(3);
  });

  it('an upper quantile that covers about 90 % of next days', () => {
    const random = rng(5);
    const n = 42 * 24;
    const series = makeSeries(n, (i) => truth(i, { weekly: true }) + 8 * gaussian(random));
    let covered = 0;
    let total = 0;
    for (let cut = 35 * 24; cut < n; cut += 24) {
      const f = forecast({ ...series, values: series.values.subarray(0, cut) }, opts);
      for (let h = 0; h < 24; h++) {
        expect(f.upper[h]).toBeGreaterThanOrEqual(f.mean[h] as number);
        if ((series.values[cut + h] as number) <= (f.upper[h] as number)) covered += 1;
        total += 1;
      }
    }
    expect(covered / total).toBeGreaterThan(0.8);
    expect(covered / total).toBeLessThan(0.97);
  });
});

describe('forecast on awkward histories', () => {
  it('copes with gaps and zero nights', () => {
    const random = rng(6);
    const n = 21 * 24;
    const value = (i: number): number => Math.max(0, truth(i) - 60);
    const history = makeSeries(n, (i) => (random() < 0.2 ? NaN : value(i)));
    // A whole missing day too.
    history.values.fill(NaN, 10 * 24, 11 * 24);
    const f = forecast(history, opts);
    expect(f.mean.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(meanAbsDiff(f.mean, (h) => value(n + h))).toBeLessThan(2);
    // Night hours (truth 0) are forecast as (nearly) 0.
    expect(f.mean[0]).toBeLessThan(2);
  });

  it('one spike barely moves next week', () => {
    const random = rng(7);
    const n = 28 * 24;
    const clean = makeSeries(n, (i) => truth(i, { weekly: true }) + 3 * gaussian(random));
    const spiked = { ...clean, values: Float64Array.from(clean.values) };
    // A spike 50 times the level a week before the forecast day, at 10:00.
    spiked.values[n - 7 * 24 + 10] = 5000;
    const a = forecast(clean, opts);
    const b = forecast(spiked, opts);
    for (let h = 0; h < 24; h++) expect(Math.abs((b.mean[h] as number) - (a.mean[h] as number))).toBeLessThan(2);
  });

  it('a spike in the last hour does not lift the level', () => {
    const n = 14 * 24;
    const clean = makeSeries(n, (i) => truth(i));
    const spiked = { ...clean, values: Float64Array.from(clean.values) };
    spiked.values[n - 1] = 10_000;
    const b = forecast(spiked, opts);
    expect(meanAbsDiff(b.mean, (h) => truth(n + h))).toBeLessThan(1);
  });

  it('moves to a new level after a level shift', () => {
    const random = rng(8);
    const n = 28 * 24;
    const shiftAt = n - 3 * 24;
    const value = (i: number): number => truth(i) + (i >= shiftAt ? 80 : 0);
    const f = forecast(makeSeries(n, (i) => value(i) + 3 * gaussian(random)), opts);
    expect(meanAbsDiff(f.mean, (h) => value(n + h))).toBeLessThan(10);
  });

  it('falls back on short histories and says which model it used', () => {
    const series = makeSeries(40, (i) => truth(i));
    const f6h = forecast({ ...series, values: series.values.subarray(0, 6) }, opts);
    expect(f6h.model).toBe('flat-mean');
    const mean6 = Array.from(series.values.subarray(0, 6)).reduce((a, b) => a + b, 0) / 6;
    expect(f6h.mean[0]).toBeCloseTo(mean6, 10);
    const f30h = forecast({ ...series, values: series.values.subarray(0, 30) }, opts);
    expect(f30h.model).toBe('seasonal-naive');
    // Yesterday at the same hour: history index 30 − 24 + h.
    expect(f30h.mean[0]).toBe(series.values[6]);
    expect(forecast(makeSeries(3 * 24, (i) => truth(i)), opts).model).toBe('daily-profile');
    expect(forecast(makeSeries(0, () => 0), opts)).toMatchObject({ model: 'flat-mean', mean: new Float64Array(24) });
  });

  it('a constant series forecasts the constant with no spread', () => {
    for (const length of [5, 30, 21 * 24]) {
      const f = forecast(makeSeries(length, () => 7), opts);
      for (let h = 0; h < 24; h++) {
        expect(f.mean[h]).toBeCloseTo(7, 9);
        expect(f.upper[h]).toBeCloseTo(7, 9);
      }
    }
  });

  it('works at 5-minute steps and rejects bad options', () => {
    const random = rng(9);
    const perDay = 288;
    const f = forecast(makeSeries(15 * perDay, (i) => truth(i / 12) + 3 * gaussian(random), 300_000), { horizonSteps: perDay, quantile: 0.9 });
    expect(f.mean.length).toBe(perDay);
    expect(meanAbsDiff(f.mean, (h) => truth((15 * perDay + h) / 12))).toBeLessThan(2);
    expect(() => forecast(makeSeries(10, () => 1), { horizonSteps: -1, quantile: 0.9 })).toThrow(RangeError);
    expect(() => forecast(makeSeries(10, () => 1), { horizonSteps: 1, quantile: 1 })).toThrow(RangeError);
  });

  it('seasonal naive walks back over gaps', () => {
    const s: Series = { startMs: 0, stepMs: 1, values: Float64Array.from([1, 2, 3, NaN]) };
    expect(Array.from(seasonalNaive(s, { horizonSteps: 3, quantile: 0.9 }, 2)?.mean ?? [])).toEqual([3, 2, 3]);
    expect(seasonalNaive(s, opts, 5)).toBeNull();
  });
});
