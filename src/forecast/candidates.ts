/**
 * The candidate models of the combination (combine.ts), each in two forms: `rolling`, the
 * forecasts it would have made from several consecutive daily origins (fitted once on the history
 * before the first origin, its state then rolled forward over each day by the model's own update
 * rule: rolling origin without re-estimation, which costs one fit instead of one per origin; the
 * profile model, which has no such rule, is refit every few days instead, and MSTL re-estimates
 * its components cheaply at each origin, mstl-model.ts rollMstl), and `final`, a fit on the whole
 * history (MSTL's rolls its validation fit to the end where it can).
 */
import { cloneDoubleSeasonal, doubleSeasonalMean, filterDoubleSeasonal, fitDoubleSeasonal } from './double-seasonal.js';
import { cloneState, filter, fitHoltWinters, holtWintersMean } from './holt-winters.js';
import { fitMstl, mstlMean, rollMstl, type MstlFit } from './mstl-model.js';
import { fitProfile, profileMean, profileModelName, type ProfileFit, type ProfileModelOptions } from './profile-model.js';

export interface CandidateContext {
  /** History at the candidate's resolution; NaN marks gaps. */
  values: Float64Array;
  /** Gross-outlier mask (0 = ignore for levels), same length. */
  keep: Float64Array;
  /** Steps per day at this resolution. */
  m: number;
  startMs: number;
  stepMs: number;
  /** The profile model's period detection found a weekly pattern. */
  weekly: boolean;
  profileOpts: ProfileModelOptions;
  /** The profile fit on values[0, cut) when the caller already has it. */
  profileAtCut?: ProfileFit;
}

export interface Candidate {
  name: string;
  /**
   * Forecasts of days [cut + k·m, cut + (k+1)·m) for k < days, one after another; null: cannot,
   * or `inRace` (given to a candidate whose days come dear, see `prunable`) said after some day
   * that the forecast so far already ranks it out.
   */
  rolling(ctx: CandidateContext, cut: number, days: number, inRace?: (forecast: Float64Array, daysDone: number) => boolean): Float64Array | null;
  /** Fit on all of ctx.values and forecast `steps` steps after it, with the model's name. */
  final(ctx: CandidateContext, steps: number): { mean: Float64Array; model: string } | null;
  /**
   * Finest steps per day its final fit runs at natively; a finer history (5-minute steps) is
   * fitted on hourly sums and spread back by the recent within-hour shares (combine.ts).
   */
  finalStepsPerDay: number;
  /** Its rolling() calls inRace after each day: each later day costs a good part of a fit. */
  prunable?: boolean;
}

/** screened() per values array (the candidates of one forecast share it), with the mask it used. */
const screenedCache = new WeakMap<Float64Array, { keep: Float64Array; out: Float64Array }>();

/**
 * The values with gross outliers as gaps: one spike must not steer a model without weights. Built
 * once per history and mask, in a plain loop: a mapped Float64Array.from per candidate call was
 * a tenth of the fit time of bench/forecast-speed.ts.
 */
function screened(ctx: CandidateContext): Float64Array {
  const hit = screenedCache.get(ctx.values);
  if (hit !== undefined && hit.keep === ctx.keep) return hit.out;
  const { values, keep } = ctx;
  const out = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = (keep[i] as number) > 0 ? (values[i] as number) : NaN;
  screenedCache.set(values, { keep, out });
  return out;
}

/** MSTL's weekly component rests on this many days (more old weeks blur a drifting shape). */
const MSTL_DAYS = 56;
/**
 * Days of history the later validation origins re-estimate MSTL's daily component and level on
 * (mstl-model.ts rollMstl, which also re-estimates the weekly one over the whole span): two weeks
 * hold the 11 days its seasonal smooth spans at the series end. With only the level rolled
 * forward, MSTL was judged with a shape up to a week old while Holt-Winters rolls its seasonal
 * state by its own filter and the profile model is refit: biased against it where the shape
 * drifts (Taylor, backtest bench: 0.158 against mstl-ets 0.141). A full refit at every origin
 * removes the bias (0.138) at seven fits' cost; one fit and six rolls get 0.138 for about three.
 */
const MSTL_TAIL_DAYS = 14;

/**
 * Forecasts of the validation days from fresh fits: rolling origin with re-estimation, a fit on the
 * history up to day k for k = 0, everyDays, 2·everyDays, ..., each forecasting the days up to the
 * next fit (the profile model; every candidate with CombinationOptions.reestimate, everyDays 1).
 */
export function refitRolling(c: Pick<Candidate, 'final'>, ctx: CandidateContext, cut: number, days: number, everyDays = 1): Float64Array | null {
  const out = new Float64Array(days * ctx.m);
  const { profileAtCut: _fit, ...rest } = ctx;
  for (let k = 0; k < days; k += everyDays) {
    const end = cut + k * ctx.m;
    const span = Math.min(everyDays, days - k);
    const f = c.final({ ...rest, values: ctx.values.subarray(0, end), keep: ctx.keep.subarray(0, end) }, span * ctx.m);
    if (f === null) return null;
    out.set(f.mean, k * ctx.m);
  }
  return out;
}

/**
 * Refit every PROFILE_REFIT_DAYS validation days. Rolled with its level alone from one fit, its
 * day k was judged with a profile k days old (its recency half-life is 4 days) while Holt-Winters
 * rolls its seasonal state forward by its own filter: the choice was biased against it, and a
 * first-day weight made up for that only in part (CombinationOptions.firstDayWeight). A profile
 * fit at hourly steps costs about 0.5 ms: a refit every day added 3.7 ms a partition to
 * bench/forecast-speed.ts (base 9); every third day keeps most of the gain (backtest, wider set:
 * the same series met and missed) at a third of the cost. MSTL, five times dearer a fit, keeps the
 * cheaper rolling: refit daily it won Taylor back (0.167 → 0.138) but tripled the fit time.
 */
const PROFILE_REFIT_DAYS = 3;

const profile: Candidate = {
  name: 'profile',
  finalStepsPerDay: 48,
  rolling(ctx, cut, days) {
    // The caller's fit at the cut is the first day's: one fit fewer.
    const first = ctx.profileAtCut;
    const from = first === undefined ? 0 : 1;
    const rest = days > from ? refitRolling(profile, ctx, cut + from * ctx.m, days - from, PROFILE_REFIT_DAYS) : new Float64Array(0);
    if (rest === null) return null;
    const out = new Float64Array(days * ctx.m);
    if (first !== undefined) out.set(profileMean(first, cut, ctx.m));
    out.set(rest, from * ctx.m);
    return out;
  },
  final(ctx, steps) {
    const fit = fitProfile({ startMs: ctx.startMs, stepMs: ctx.stepMs, values: ctx.values }, ctx.profileOpts);
    return { mean: profileMean(fit, ctx.values.length, steps), model: profileModelName(fit) };
  },
};

/**
 * The fit each history's validation started from, per values array. When the final fit runs at
 * the validation's resolution (hourly histories, and 5-minute ones, whose MSTL runs on hourly
 * sums), it rolls that fit to the end instead of fitting afresh: the same backtest (BOS 0.905 →
 * 0.913, the rest within ±0.002) for 1.5 s less CPU in bench/forecast-speed.ts (8.2–8.7 → 6.8–6.9 s).
 */
const validationFits = new WeakMap<Float64Array, { fit: MstlFit; from: number; cut: number; weekly: boolean }>();

const mstl: Candidate = {
  name: 'mstl',
  finalStepsPerDay: 48,
  prunable: true,
  rolling(ctx, cut, days, inRace) {
    const from = Math.max(0, cut - (MSTL_DAYS - days) * ctx.m);
    validationFits.delete(ctx.values);
    const fit = fitMstl(ctx.values.subarray(from, cut), ctx.m, ctx.weekly, ctx.keep.subarray(from, cut));
    if (fit === null) return null;
    validationFits.set(ctx.values, { fit, from, cut, weekly: ctx.weekly });
    const out = new Float64Array(days * ctx.m);
    out.set(mstlMean(fit, ctx.m));
    for (let k = 1; k < days; k++) {
      if (inRace !== undefined && !inRace(out, k)) return null;
      const end = cut + k * ctx.m;
      const day = rollMstl(fit, ctx.values.subarray(from, end), k * ctx.m, MSTL_TAIL_DAYS, ctx.keep.subarray(from, end));
      if (day === null) return null;
      out.set(mstlMean(day, ctx.m), k * ctx.m);
    }
    return out;
  },
  final(ctx, steps) {
    const n = ctx.values.length;
    const v = validationFits.get(ctx.values);
    const fit = v !== undefined && v.fit.weeklySteps > 0 === ctx.weekly
      ? rollMstl(v.fit, ctx.values.subarray(v.from), n - v.cut, MSTL_TAIL_DAYS, ctx.keep.subarray(v.from))
      : fitMstl(ctx.values.subarray(Math.max(0, n - MSTL_DAYS * ctx.m)), ctx.m, ctx.weekly, ctx.keep.subarray(Math.max(0, n - MSTL_DAYS * ctx.m)));
    return fit === null ? null : { mean: mstlMean(fit, steps), model: fit.weeklySteps > 0 ? 'mstl-daily-weekly' : 'mstl-daily' };
  },
};

function holtWinters(name: string, periodDays: number): Candidate {
  return {
    name,
    finalStepsPerDay: 48,
    rolling(ctx, cut, days) {
      const values = screened(ctx);
      const state = fitHoltWinters(values.subarray(0, cut), periodDays * ctx.m);
      if (state === null) return null;
      const out = new Float64Array(days * ctx.m);
      for (let k = 0; k < days; k++) {
        out.set(holtWintersMean(cloneState(state), ctx.m), k * ctx.m);
        filter(state, values, cut + k * ctx.m, cut + (k + 1) * ctx.m);
      }
      return out;
    },
    final(ctx, steps) {
      const state = fitHoltWinters(screened(ctx), periodDays * ctx.m);
      return state === null ? null : { mean: holtWintersMean(state, steps), model: name };
    },
  };
}

/** Double-seasonal Holt-Winters (double-seasonal.ts), rolled forward by its own filter like the single ones. */
const doubleSeasonal: Candidate = {
  name: 'holt-winters-double',
  finalStepsPerDay: 48,
  rolling(ctx, cut, days) {
    const values = screened(ctx);
    const state = fitDoubleSeasonal(values.subarray(0, cut), ctx.m);
    if (state === null) return null;
    const out = new Float64Array(days * ctx.m);
    for (let k = 0; k < days; k++) {
      out.set(doubleSeasonalMean(cloneDoubleSeasonal(state), ctx.m), k * ctx.m);
      filterDoubleSeasonal(state, values, cut + (k + 1) * ctx.m);
    }
    return out;
  },
  final(ctx, steps) {
    const state = fitDoubleSeasonal(screened(ctx), ctx.m);
    return state === null ? null : { mean: doubleSeasonalMean(state, steps), model: 'holt-winters-double' };
  },
};

/** The same hour a week before (walking further back over gaps). */
function weeklyNaive(values: Float64Array, end: number, m: number, steps: number): Float64Array | null {
  const W = 7 * m;
  if (end < W) return null;
  const out = new Float64Array(steps);
  for (let h = 0; h < steps; h++) {
    let i = end - W + (h % W);
    while (i >= 0 && !Number.isFinite(values[i])) i -= W;
    out[h] = i >= 0 ? (values[i] as number) : 0;
  }
  return out;
}

/**
 * Final fit at half-hourly steps at most, like the others: at 5-minute steps it needed the gross-
 * outlier screen of the whole fine history, 13 % of bench/forecast-speed.ts (node --cpu-prof), and
 * one week-old 5-minute count is a noisier guess of each step than its hour spread by the shares of
 * the last two weeks. Hourly and half-hourly histories are unchanged.
 */
const naiveWeekly: Candidate = {
  name: 'seasonal-naive-weekly',
  finalStepsPerDay: 48,
  rolling(ctx, cut, days) {
    const values = screened(ctx);
    const out = new Float64Array(days * ctx.m);
    for (let k = 0; k < days; k++) {
      const day = weeklyNaive(values, cut + k * ctx.m, ctx.m, ctx.m);
      if (day === null) return null;
      out.set(day, k * ctx.m);
    }
    return out;
  },
  final(ctx, steps) {
    const mean = weeklyNaive(screened(ctx), ctx.values.length, ctx.m, steps);
    return mean === null ? null : { mean, model: 'seasonal-naive-weekly' };
  },
};

export const CANDIDATES: readonly Candidate[] = [profile, mstl, holtWinters('holt-winters-daily', 1), holtWinters('holt-winters-weekly', 7), doubleSeasonal, naiveWeekly];
