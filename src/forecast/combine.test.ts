import { describe, expect, it } from 'vitest';
import { CANDIDATES, refitRolling, type Candidate } from './candidates.js';
import { DEFAULT_COMBINATION_OPTIONS, combineSteps, slotErrorLevels, slotQuantiles, validateOptions } from './combine.js';
import { forecast, forecastProfile } from './forecast.js';
import { DEFAULT_PROFILE_OPTIONS, screenGrossOutliers } from './profile-model.js';
import { mstl } from './stl.js';
import { SPREAD_LEVELS, type Series } from './types.js';

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
  it('leans on a model that tracks a drifting daily shape (MSTL or double-seasonal Holt-Winters), and beats the profile model there', () => {
    const random = rng(11);
    const n = 42 * 24;
    // Peak hour moving 6 minutes later each day: the profile model's averaged profile lags it.
    const truth = (i: number): number => 100 + 40 * Math.sin((2 * Math.PI * (i - (i / 24) * 0.1)) / 24) + (Math.floor(i / 24) % 7 >= 5 ? -20 : 0);
    const history: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => truth(i) + random() - 0.5) };
    const chosen = forecast(history, opts);
    expect(chosen.model).toMatch(/mstl-daily-weekly|holt-winters-double/);
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
    // The batch hour is forecast, not screened away as an outlier.
    expect(f.mean[2]).toBeGreaterThan(400);
    expect(meanAbsDiff(f.mean, (h) => truth(n + h))).toBeLessThan(5);
  });

  it('fits no weekly period where the profile model detects none, and no seasonality on noise', () => {
    const random = rng(13);
    const n = 28 * 24;
    const truth = (i: number): number => 100 + 40 * Math.sin((2 * Math.PI * (i - (i / 24) * 0.1)) / 24);
    const history: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => truth(i) + random() - 0.5) };
    const f = forecast(history, opts);
    expect(f.model).not.toMatch(/mstl-daily-weekly|profile-daily-weekly/);
    expect(meanAbsDiff(f.mean, (h) => truth(n + h))).toBeLessThan(2);
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
    const a = forecast(spiked, opts);
    const b = forecast(clean, opts);
    // The same two leading members; a third within noise of another may swap (the refit profile
    // model sees the spike in its history, screened, and scores a hair differently).
    const lead = (model: string): string[] => model.replace(/^[^(]*\(|\)$/g, '').split(', ').slice(0, 2);
    expect(lead(a.model)).toEqual(lead(b.model));
    expect(meanAbsDiff(a.mean, (h) => b.mean[h] as number)).toBeLessThan(0.5);
  });
});

/** A candidate that only exists to be validated (its forecasts are given). */
const named = (name: string): Candidate => ({ name, finalStepsPerDay: 24, rolling: () => null, final: () => null });

describe('forecast combination', () => {
  const m = 24;
  const days = 7;
  const truth = Float64Array.from({ length: days * m }, (_, t) => 100 + 50 * Math.sin((2 * Math.PI * t) / m));

  it('combines two candidates with independent errors, and the combination validates better than either', () => {
    const random = rng(21);
    const a = truth.map((v) => v + 20 * (random() - 0.5));
    const b = truth.map((v) => v + 20 * (random() - 0.5));
    const c = truth.map((v) => v + 60 * (random() - 0.5));
    const options = validateOptions([{ candidate: named('a'), validation: a }, { candidate: named('b'), validation: b }, { candidate: named('c'), validation: c }], truth, m, { firstDayWeight: 0.5, top: 3, singleMargin: 1 });
    const best = options[0]!;
    expect(best.kind).not.toBe('single');
    const single = (n: string): number => options.find((o) => o.kind === 'single' && o.members[0]!.name === n)!.score;
    expect(best.score).toBeLessThan(Math.min(single('a'), single('b')));
    // The weights follow the validation errors: the noisiest candidate counts least.
    const weighted = options.find((o) => o.kind === 'weighted-mean')!;
    const wc = weighted.weights[weighted.members.findIndex((x) => x.name === 'c')]!;
    expect(wc).toBeLessThan(Math.min(...weighted.weights.filter((w) => w !== wc)));
    expect(weighted.weights.reduce((s, w) => s + w, 0)).toBeCloseTo(1, 12);
  });

  it('keeps a clearly dominant candidate alone rather than diluting it', () => {
    const random = rng(22);
    const good = truth.map((v) => v + 2 * (random() - 0.5));
    const bad1 = truth.map((v) => v + 80 * (random() - 0.5));
    const bad2 = truth.map((v, t) => v + 30 + 10 * Math.sin(t));
    const options = validateOptions([{ candidate: named('bad1'), validation: bad1 }, { candidate: named('good'), validation: good }, { candidate: named('bad2'), validation: bad2 }], truth, m, { firstDayWeight: 0.5, top: 3, singleMargin: 1 });
    expect(options[0]!.kind).toBe('single');
    expect(options[0]!.members[0]!.name).toBe('good');
  });

  it('a single model needs the margin to beat a combination', () => {
    const random = rng(23);
    const a = truth.map((v) => v + 20 * (random() - 0.5));
    const b = truth.map((v) => v + 21 * (random() - 0.5));
    const sets = [{ candidate: named('a'), validation: a }, { candidate: named('b'), validation: b }];
    // Margin 0: never a single model, whatever the scores.
    expect(validateOptions(sets, truth, m, { firstDayWeight: 0.5, top: 3, singleMargin: 0 })[0]!.kind).not.toBe('single');
  });

  it('median and weighted mean per step', () => {
    const f = [Float64Array.of(1, 10), Float64Array.of(2, 30), Float64Array.of(9, 20)];
    expect(Array.from(combineSteps('median', f, [1 / 3, 1 / 3, 1 / 3]))).toEqual([2, 20]);
    expect(Array.from(combineSteps('weighted-mean', f, [0.5, 0.5, 0]))).toEqual([1.5, 20]);
  });
});

describe('prediction intervals', () => {
  it('per slot of the day: narrow where validation errors were small, wide where they were large', () => {
    const random = rng(31);
    const m = 24;
    // Errors of sd 1 at night (slots 0-5), sd 20 by day.
    const errors = Float64Array.from({ length: 7 * m }, (_, t) => ((t % m) < 6 ? 1 : 20) * (random() - 0.5) * 3.4);
    const band = slotQuantiles(errors, m, 0.9, 1);
    for (let s = 0; s < m; s++) {
      expect(band.upper[s]).toBeGreaterThanOrEqual(0);
      expect(band.lower[s]).toBeLessThanOrEqual(0);
    }
    expect(band.upper[2]! * 5).toBeLessThan(band.upper[14]!);
    expect(-band.lower[2]! * 5).toBeLessThan(-band.lower[14]!);
  });

  it('a forecast band (lower <= mean <= upper) that covers most next days and is tighter on calm nights', () => {
    const random = rng(32);
    const n = 49 * 24;
    // Busy, noisy days; quiet, calm nights.
    const truth = (i: number): number => (i % 24 >= 8 && i % 24 < 20 ? 200 : 10);
    const noise = (i: number): number => (i % 24 >= 8 && i % 24 < 20 ? 30 : 1);
    const series: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => Math.max(0, truth(i) + noise(i) * (random() + random() - 1) * 2)) };
    let covered = 0;
    let total = 0;
    let nightWidth = 0;
    let dayWidth = 0;
    for (let cut = 42 * 24; cut < n; cut += 24) {
      const f = forecast({ ...series, values: series.values.subarray(0, cut) }, opts);
      expect(f.lower).toBeDefined();
      for (let h = 0; h < 24; h++) {
        expect(f.lower![h]).toBeLessThanOrEqual(f.mean[h]! + 1e-9);
        expect(f.upper[h]).toBeGreaterThanOrEqual(f.mean[h]! - 1e-9);
        const actual = series.values[cut + h]!;
        if (actual >= f.lower![h]! && actual <= f.upper[h]!) covered += 1;
        total += 1;
        if (h === 3) nightWidth += f.upper[h]! - f.lower![h]!;
        if (h === 14) dayWidth += f.upper[h]! - f.lower![h]!;
      }
    }
    // An 80 % central band (quantiles 0.1 and 0.9) from a week of errors: roughly 80 %.
    expect(covered / total).toBeGreaterThan(0.65);
    expect(covered / total).toBeLessThan(0.97);
    expect(nightWidth * 5).toBeLessThan(dayWidth);
  });

  it('error levels per slot: the quantiles of the pooled errors, NaN where a slot has none', () => {
    const m = 4;
    // Three days; slot 1 errs by 10, 20, 30 and slot 3 has no finite error at all.
    const errors = Float64Array.from([0, 10, 0, NaN, 0, 20, 0, NaN, 0, 30, 0, NaN]);
    const [lo, mid, hi] = slotErrorLevels(errors, m, [0, 0.5, 1], 0) as [Float64Array, Float64Array, Float64Array];
    expect([lo[1], mid[1], hi[1]]).toEqual([10, 20, 30]);
    expect([lo[0], hi[0]]).toEqual([0, 0]);
    expect(Number.isNaN(mid[3]!)).toBe(true);
    // With one neighbour each side, slot 0 pools slots 3, 0 and 1 (circularly): 0, 10, 20, 30.
    const pooled = slotErrorLevels(errors, m, [1], 1)[0]!;
    expect(pooled[0]).toBe(30);
    expect(pooled[2]).toBe(30);
  });

  it('the spread of a forecast: one curve per level, in order, never below zero, with the band inside its range', () => {
    const random = rng(33);
    const n = 42 * 24;
    const truth = (i: number): number => (i % 24 >= 8 && i % 24 < 20 ? 200 : 10);
    const series: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: n }, (_, i) => Math.max(0, truth(i) + (i % 24 >= 8 && i % 24 < 20 ? 30 : 3) * (random() - 0.5) * 3)) };
    const f = forecast(series, opts);
    expect(f.spread).toHaveLength(SPREAD_LEVELS.length);
    let nightSpread = 0;
    let daySpread = 0;
    for (let h = 0; h < 24; h++) {
      const at = f.spread!.map((curve) => curve[h]!);
      for (let i = 1; i < at.length; i++) expect(at[i]).toBeGreaterThanOrEqual(at[i - 1]!);
      expect(at[0]).toBeGreaterThanOrEqual(0);
      // The 0.9 band lies between the outermost levels (1/18 and 17/18) or on them.
      expect(f.upper[h]).toBeLessThanOrEqual(at[at.length - 1]! + 1e-9);
      if (h === 3) nightSpread = at[at.length - 1]! - at[0]!;
      if (h === 14) daySpread = at[at.length - 1]! - at[0]!;
    }
    expect(nightSpread * 5).toBeLessThan(daySpread);
    // The profile path measures no validation errors, so gives no spread.
    expect(forecastProfile(series, opts).spread).toBeUndefined();
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

describe('refitRolling', () => {
  it('forecasts each validation day from a fit on the history up to that day', () => {
    const ends: number[] = [];
    const c = { final: (ctx: { values: Float64Array }, steps: number) => (ends.push(ctx.values.length), { mean: new Float64Array(steps).fill(ctx.values.length), model: 'x' }) };
    const values = new Float64Array(10 * 24);
    const ctx = { values, keep: new Float64Array(values.length).fill(1), m: 24, startMs: 0, stepMs: HOUR_MS, weekly: false, profileOpts: DEFAULT_PROFILE_OPTIONS };
    const out = refitRolling(c, ctx, 7 * 24, 3);
    expect(ends).toEqual([168, 192, 216]);
    expect(out?.[0]).toBe(168);
    expect(out?.[24]).toBe(192);
    expect(out?.[71]).toBe(216);
    expect(refitRolling({ final: () => null }, ctx, 7 * 24, 3)).toBeNull();
  });

  it('with everyDays, fits at every such day and forecasts the days up to the next fit', () => {
    const calls: [number, number][] = [];
    const c = { final: (ctx: { values: Float64Array }, steps: number) => (calls.push([ctx.values.length, steps]), { mean: Float64Array.from({ length: steps }, (_, h) => ctx.values.length + h), model: 'x' }) };
    const values = new Float64Array(14 * 24);
    const ctx = { values, keep: new Float64Array(values.length).fill(1), m: 24, startMs: 0, stepMs: HOUR_MS, weekly: false, profileOpts: DEFAULT_PROFILE_OPTIONS };
    const out = refitRolling(c, ctx, 7 * 24, 7, 3);
    expect(calls).toEqual([[168, 72], [240, 72], [312, 24]]);
    // Day 2 comes from the fit at day 0, two days ahead; day 3 from a fresh fit.
    expect(out?.[2 * 24]).toBe(168 + 48);
    expect(out?.[3 * 24]).toBe(240);
    expect(out?.[6 * 24 + 23]).toBe(312 + 23);
  });
});

describe('pruning a dear candidate during validation', () => {
  it('stops a prunable candidate once its first days rank it out, with the same forecast as without pruning', () => {
    const random = rng(41);
    const series: Series = { startMs: MONDAY, stepMs: HOUR_MS, values: Float64Array.from({ length: 35 * 24 }, (_, i) => 100 + 40 * Math.sin((2 * Math.PI * i) / 24) + 5 * random()) };
    // A model that forecasts 10x the load: it can never make the best three.
    const hopeless = (prunable: boolean, days: number[]): Candidate => ({
      name: 'hopeless',
      finalStepsPerDay: 48,
      prunable,
      rolling(ctx, cut, n, inRace) {
        const out = new Float64Array(n * ctx.m).fill(1000);
        for (let k = 1; k < n; k++) {
          if (inRace !== undefined && !inRace(out, k)) return null;
          days.push(k);
        }
        return out;
      },
      final: (_ctx, steps) => ({ mean: new Float64Array(steps).fill(1000), model: 'hopeless' }),
    });
    const pruned: number[] = [];
    const full: number[] = [];
    const others = CANDIDATES.filter((c) => c.name !== 'mstl');
    const a = forecast(series, opts, DEFAULT_PROFILE_OPTIONS, { ...DEFAULT_COMBINATION_OPTIONS, candidates: [hopeless(true, pruned), ...others] });
    const b = forecast(series, opts, DEFAULT_PROFILE_OPTIONS, { ...DEFAULT_COMBINATION_OPTIONS, candidates: [hopeless(false, full), ...others] });
    expect(full).toEqual([1, 2, 3, 4, 5, 6]);
    expect(pruned.length).toBeLessThan(full.length);
    expect(a.model).toBe(b.model);
    expect(a.model).not.toContain('hopeless');
    expect(Array.from(a.mean)).toEqual(Array.from(b.mean));
    expect(Array.from(a.upper)).toEqual(Array.from(b.upper));
  });
});
