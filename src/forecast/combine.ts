/**
 * The production choice (`quietcut` in backtests): rolling-origin cross-validation of every
 * candidate (candidates.ts) over the last `cvDays` days, then the option with the lowest
 * validation error among each candidate alone and two combinations of the best few (their median,
 * and their mean weighted by inverse validation error). Combinations were more robust than any
 * single pick in the M4 competition (Makridakis et al. 2020), so a single model needs a clear lead
 * (singleMargin) to stand alone; that keeps a clearly dominant model where there is one.
 *
 * Prediction intervals per step come from the chosen option's validation errors: per time of day
 * (pooled with the neighbouring slots, so each quantile rests on 3 × cvDays errors), added to the
 * mean forecast. Quiet hours are usually also the calm ones, and the planner prefers a trough
 * whose upper quantile is low (a certain one) to a lower but uncertain one. The same errors at
 * SPREAD_LEVELS give the whole spread per step, which the live check weighs waiting with.
 *
 * Cost: validation runs on hourly sums of finer history, one fit per candidate (three for the
 * profile model, candidates.ts); the final fits of
 * the chosen candidates run at their own resolution (the profile model at full resolution, the
 * rest at half-hourly sums) and are spread back over the fine steps by recent within-block shares.
 */
import { CANDIDATES, refitRolling, type Candidate, type CandidateContext } from './candidates.js';
import { fitProfile, hasDailyProfile, hasWeeklyProfile, screenGrossOutliers, type ProfileModelOptions } from './profile-model.js';
import { blockFactor, blockShares, coarsen, refine } from './resolution.js';
import { DAY_MS, countFinite, median, quantile, stepsPer } from './series-math.js';
import { SPREAD_LEVELS, type Forecast, type ForecastOptions, type Series } from './types.js';

export interface CombinationOptions {
  /** Validation origins: one per day, the last `cvDays` days of the history. */
  cvDays: number;
  /**
   * Extra weight of the first validation day, the one every candidate forecasts from a fit that
   * just ended. It was 0.5 while the profile model, too, rolled its level alone over the later
   * days; refit at every origin now (candidates.ts), it needs no such help, and MSTL, still rolled,
   * is judged on the days as they come (0).
   */
  firstDayWeight: number;
  /** Candidates combined: the best `top` by validation error. */
  top: number;
  /** At most this many steps per day in validation (finer histories are summed). */
  choiceStepsPerDay: number;
  /**
   * A single candidate is chosen over the best combination only when its validation score is
   * below this fraction of the combination's (1: plain comparison; 0: always combine). Set with
   * the backtest bench (bench/forecast-backtest.ts), that is on the series it reports, so read it
   * as "combine unless one model is a few percent better", not as a measured optimum: with the
   * refit profile and firstDayWeight 0, 1 left ATL behind Holt-Winters daily and 0.97 did not.
   */
  singleMargin: number;
  /** Slots of the day on each side pooled into one slot's interval. */
  intervalNeighbours: number;
  /**
   * Refit every candidate at every validation origin instead of rolling one fit forward (the
   * profile model always is). More faithful, about cvDays times the cost: over the budget of
   * 1,000 partitions in 10 s, so off in production.
   */
  reestimate?: boolean;
  /** The candidates (default: all of candidates.ts). */
  candidates?: readonly Candidate[];
}

export const DEFAULT_COMBINATION_OPTIONS: CombinationOptions = { cvDays: 7, firstDayWeight: 0, top: 3, choiceStepsPerDay: 24, singleMargin: 0.97, intervalNeighbours: 1 };

/** Validation days plus the two weeks MSTL's weekly period and the weekly naive need before them. */
export const COMBINATION_MIN_DAYS = DEFAULT_COMBINATION_OPTIONS.cvDays + 14;

export interface ValidatedOption {
  /** 'single', 'median' or 'weighted-mean'. */
  kind: 'single' | 'median' | 'weighted-mean';
  members: readonly Candidate[];
  /** Weights of the members (sum 1); equal for median and single. */
  weights: readonly number[];
  /** Validation forecast (cvDays × steps per day, oldest day first) and its score. */
  validation: Float64Array;
  score: number;
}

/** Median (kind 'median') or weighted mean of the members' values at each step. */
export function combineSteps(kind: ValidatedOption['kind'], forecasts: readonly Float64Array[], weights: readonly number[]): Float64Array {
  const steps = Math.min(...forecasts.map((f) => f.length));
  const out = new Float64Array(steps);
  const column = new Float64Array(forecasts.length);
  for (let h = 0; h < steps; h++) {
    if (kind === 'median') {
      forecasts.forEach((f, i) => (column[i] = f[h] as number));
      out[h] = median(column);
    } else {
      let s = 0;
      forecasts.forEach((f, i) => (s += (weights[i] as number) * (f[h] as number)));
      out[h] = s;
    }
  }
  return out;
}

/** Mean absolute error over the whole validation, blended with that of its first day. */
export function validationScore(errors: Float64Array, m: number, firstDayWeight: number): number {
  const all = meanAbs(errors);
  const first = meanAbs(errors.subarray(0, m));
  return firstDayWeight > 0 ? (1 - firstDayWeight) * all + firstDayWeight * first : all;
}

function meanAbs(errors: Float64Array): number {
  let sum = 0;
  let count = 0;
  for (const e of errors) {
    if (Number.isFinite(e)) {
      sum += Math.abs(e);
      count += 1;
    }
  }
  return count > 0 ? sum / count : Infinity;
}

function errorsOf(validation: Float64Array, actual: Float64Array): Float64Array {
  return Float64Array.from(validation, (f, t) => (actual[t] as number) - f);
}

/**
 * Every option, scored: the candidates alone, and the median and inverse-error weighted mean of
 * the best `top` (when there are at least two). Sorted best first.
 */
export function validateOptions(singles: readonly { candidate: Candidate; validation: Float64Array }[], actual: Float64Array, m: number, opts: Pick<CombinationOptions, 'firstDayWeight' | 'top' | 'singleMargin'>): ValidatedOption[] {
  const scored: ValidatedOption[] = singles
    .map(({ candidate, validation }) => ({ kind: 'single' as const, members: [candidate], weights: [1], validation, score: validationScore(errorsOf(validation, actual), m, opts.firstDayWeight) }))
    .filter((o) => Number.isFinite(o.score))
    .sort((a, b) => a.score - b.score);
  const best = scored.slice(0, Math.max(2, opts.top));
  const options = [...scored];
  if (best.length >= 2) {
    const members = best.map((o) => o.members[0] as Candidate);
    const validations = best.map((o) => o.validation);
    // A perfect validation (score 0) would take all the weight; a floor keeps the others in.
    const floor = Math.max(1e-9, (best[0] as ValidatedOption).score * 1e-3);
    const inverse = best.map((o) => 1 / Math.max(floor, o.score));
    const total = inverse.reduce((a, b) => a + b, 0);
    const weights = inverse.map((w) => w / total);
    for (const kind of ['median', 'weighted-mean'] as const) {
      const validation = combineSteps(kind, validations, weights);
      options.push({ kind, members, weights: kind === 'median' ? members.map(() => 1 / members.length) : weights, validation, score: validationScore(errorsOf(validation, actual), m, opts.firstDayWeight) });
    }
  }
  // Singles compete with their score divided by the margin: a combination wins unless clearly beaten.
  const rank = (o: ValidatedOption): number => (o.kind === 'single' ? (opts.singleMargin > 0 ? o.score / opts.singleMargin : Infinity) : o.score);
  return options.sort((a, b) => rank(a) - rank(b));
}

/**
 * Per-slot error quantiles of a validation (cvDays × m errors, day-major): slot s pools slots
 * s − k .. s + k of every day (circularly). Returns, per level asked for, one quantile per slot
 * (NaN where a slot has no finite error).
 */
export function slotErrorLevels(errors: Float64Array, m: number, levels: readonly number[], neighbours: number): Float64Array[] {
  const days = Math.floor(errors.length / m);
  const out = levels.map(() => new Float64Array(m));
  const pool = new Float64Array(days * (2 * neighbours + 1));
  for (let s = 0; s < m; s++) {
    let count = 0;
    for (let d = -neighbours; d <= neighbours; d++) {
      const slot = (((s + d) % m) + m) % m;
      for (let k = 0; k < days; k++) pool[count++] = errors[k * m + slot] as number;
    }
    levels.forEach((q, i) => ((out[i] as Float64Array)[s] = quantile(pool.subarray(0, count), q)));
  }
  return out;
}

/** The band of slotErrorLevels at q and 1 − q: [lower, upper] per slot (lower <= 0 <= upper). */
export function slotQuantiles(errors: Float64Array, m: number, q: number, neighbours: number): { lower: Float64Array; upper: Float64Array } {
  const [hi, lo] = slotErrorLevels(errors, m, [q, 1 - q], neighbours) as [Float64Array, Float64Array];
  const upper = hi.map((v) => (Number.isFinite(v) ? Math.max(0, v) : 0));
  const lower = lo.map((v) => (Number.isFinite(v) ? Math.min(0, v) : 0));
  return { lower, upper };
}

/**
 * The score a candidate must beat to be among the best `top` singles, so in a combination or
 * chosen alone: the top-th best score already in (Infinity while fewer are in).
 */
function rankingBar(singles: readonly { validation: Float64Array }[], actual: Float64Array, m: number, opts: Pick<CombinationOptions, 'firstDayWeight' | 'top'>): number {
  const k = Math.max(2, opts.top);
  if (singles.length < k) return Infinity;
  const scores = singles.map((s) => validationScore(errorsOf(s.validation, actual), m, opts.firstDayWeight)).sort((a, b) => a - b);
  return scores[k - 1] as number;
}

/**
 * A lower bound on the validation score (firstDayWeight 0) of a forecast known for its first
 * `steps` steps: their absolute errors over all the validation's known steps, the others' being
 * >= 0. Above the ranking bar, the outcome is the same without the remaining days.
 */
function scoreAtLeast(forecast: Float64Array, actual: Float64Array, steps: number): number {
  let sum = 0;
  for (let t = 0; t < steps; t++) {
    const e = (actual[t] as number) - (forecast[t] as number);
    if (Number.isFinite(e)) sum += Math.abs(e);
  }
  const known = countFinite(actual);
  return known > 0 ? sum / known : 0;
}

interface Resolution {
  factor: number;
  ctx: CandidateContext;
}

function resolutionOf(history: Series, m: number, factor: number, weekly: boolean, profileOpts: ProfileModelOptions): Resolution {
  const values = coarsen(history.values, factor);
  const mc = m / factor;
  const keep = new Float64Array(values.length);
  screenGrossOutliers(values, keep, mc);
  const startMs = history.startMs + (history.values.length - values.length * factor) * history.stepMs;
  return { factor, ctx: { values, keep, m: mc, startMs, stepMs: history.stepMs * factor, weekly, profileOpts } };
}

/**
 * The combined forecast when the history allows validation (COMBINATION_MIN_DAYS, half of it
 * known, a daily or weekly pattern the profile model's period detection finds); null otherwise
 * (the caller falls back to the profile model alone).
 */
export function forecastCombined(history: Series, opts: ForecastOptions, profileOpts: ProfileModelOptions, combo: CombinationOptions = DEFAULT_COMBINATION_OPTIONS): Forecast | null {
  const m = stepsPer(DAY_MS, history.stepMs);
  const n = history.values.length;
  const minDays = combo.cvDays + 14;
  if (m < 2 || n < minDays * m || countFinite(history.values) < minDays * m * 0.5) return null;

  const coarse = resolutionOf(history, m, blockFactor(m, combo.choiceStepsPerDay), false, profileOpts);
  const { ctx } = coarse;
  const mc = ctx.m;
  const cut = ctx.values.length - combo.cvDays * mc;
  const profileAtCut = fitProfile({ startMs: ctx.startMs, stepMs: ctx.stepMs, values: ctx.values.subarray(0, cut) }, profileOpts);
  // No daily or weekly pattern above the noise: nothing for a seasonal model to add.
  if (!hasDailyProfile(profileAtCut) && !hasWeeklyProfile(profileAtCut)) return null;
  ctx.weekly = hasWeeklyProfile(profileAtCut);
  ctx.profileAtCut = profileAtCut;
  // Gross outliers are gaps for the judging: one spike in the validation days would flip the choice.
  const actual = Float64Array.from(ctx.values.subarray(cut), (v, t) => ((ctx.keep[cut + t] as number) > 0 ? v : NaN));

  const singles: { candidate: Candidate; validation: Float64Array }[] = [];
  const candidates = combo.candidates ?? CANDIDATES;
  // Prunable candidates go last, so that the others' scores can rank them out after a few days.
  const canPrune = (c: Candidate): boolean => c.prunable === true && combo.reestimate !== true && combo.firstDayWeight === 0;
  for (const candidate of [...candidates.filter((c) => !canPrune(c)), ...candidates.filter(canPrune)]) {
    let validation: Float64Array | null;
    if (combo.reestimate === true) validation = refitRolling(candidate, ctx, cut, combo.cvDays);
    else if (canPrune(candidate)) {
      const bar = rankingBar(singles, actual, mc, combo);
      validation = candidate.rolling(ctx, cut, combo.cvDays, (f, daysDone) => !(scoreAtLeast(f, actual, daysDone * mc) > bar));
    } else validation = candidate.rolling(ctx, cut, combo.cvDays);
    if (validation !== null) singles.push({ candidate, validation });
  }
  const chosen = validateOptions(singles, actual, mc, combo)[0];
  if (chosen === undefined) return null;

  // Final fits on the whole history, each at its own resolution, spread back to the fine steps.
  const resolutions = new Map<number, Resolution>([[coarse.factor, coarse]]);
  const finals: Float64Array[] = [];
  const names: string[] = [];
  for (const c of chosen.members) {
    // At 5-minute steps a fit at full (or half-hourly) resolution cost more than all the rest
    // together; hourly sums and the within-hour shares of the last two weeks keep the shape.
    const factor = c.finalStepsPerDay >= m ? 1 : blockFactor(m, combo.choiceStepsPerDay);
    let r = resolutions.get(factor);
    if (r === undefined) resolutions.set(factor, (r = resolutionOf(history, m, factor, ctx.weekly, profileOpts)));
    const f = c.final({ ...r.ctx, weekly: ctx.weekly }, Math.ceil(opts.horizonSteps / factor));
    if (f === null) return null;
    finals.push(refine(f.mean, factor, factor > 1 ? blockShares(history.values, factor, m) : new Float64Array(0), opts.horizonSteps));
    names.push(f.model);
  }
  const mean = chosen.kind === 'single' ? (finals[0] as Float64Array) : combineSteps(chosen.kind, finals, chosen.weights);

  // Intervals: validation errors per slot of the day, each block's error spread over its steps.
  const errors = errorsOf(chosen.validation, actual);
  const band = slotQuantiles(errors, mc, opts.quantile, combo.intervalNeighbours);
  const levels = slotErrorLevels(errors, mc, SPREAD_LEVELS, combo.intervalNeighbours);
  const shares = coarse.factor > 1 ? blockShares(history.values, coarse.factor, m) : null;
  const upper = new Float64Array(mean.length);
  const lower = new Float64Array(mean.length);
  const spread = SPREAD_LEVELS.map(() => new Float64Array(mean.length));
  for (let h = 0; h < mean.length; h++) {
    const slot = Math.floor(h / coarse.factor) % mc;
    const share = shares === null ? 1 : (shares[h % m] as number);
    const mh = mean[h] as number;
    upper[h] = mh + (band.upper[slot] as number) * share;
    lower[h] = Math.max(0, mh + (band.lower[slot] as number) * share);
    levels.forEach((l, i) => {
      const e = l[slot] as number;
      (spread[i] as Float64Array)[h] = Math.max(0, mh + (Number.isFinite(e) ? e : 0) * share);
    });
  }
  const model = chosen.kind === 'single' ? (names[0] as string) : `${chosen.kind}(${names.join(', ')})`;
  return { startMs: history.startMs + n * history.stepMs, stepMs: history.stepMs, mean, upper, lower, spread, model };
}
