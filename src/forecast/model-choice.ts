/**
 * The production choice (`quietcut`) between the profile model and the MSTL model, by a holdout on
 * the last week of the history: each is fitted on the history minus that week and judged by its
 * mean absolute error over it (its first day, which replays the real task, weighted half). The
 * profile model wins on noisy counts with sharp, steady daily edges (flight banks), MSTL on smooth
 * series whose daily shape drifts (electricity demand): backtest (README protocol) Taylor MASE
 * 0.222 → 0.140, flights US and ORD unchanged (0.644, 0.485).
 *
 * Cost: the holdout runs on hourly sums and MSTL's forecast on half-hourly sums (STL costs several
 * times the profile model per step), spread back over finer steps by each step's share of its
 * block over the last two weeks. Which periods MSTL fits is the profile model's period detection.
 */
import { withUpper } from './baselines.js';
import { fitMstl, mstlMean, mstlSeasonal } from './mstl-model.js';
import { fitProfile, hasDailyProfile, hasWeeklyProfile, screenGrossOutliers, profileMean, DEFAULT_PROFILE_OPTIONS, type ProfileFit, type ProfileModelOptions } from './profile-model.js';
import { DAY_MS, countFinite, quantile, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

/** Days held out to choose between models: a week, so every weekday is judged once. */
const HOLDOUT_DAYS = 7;
/** History for the choice: the holdout plus the two weeks MSTL needs for its weekly period. */
export const CHOICE_MIN_DAYS = HOLDOUT_DAYS + 14;
/** Days of fine history whose within-block shares spread a block forecast over its steps. */
const SHARE_DAYS = 14;

export interface ModelChoiceOptions {
  /** Days of history the final MSTL fit uses (the most recent ones). */
  mstlDays: number;
  /** Days of history before the holdout that the judged MSTL fit uses. */
  holdoutMstlDays: number;
  /** At most this many steps per day in the holdout comparison (finer histories are summed). */
  choiceStepsPerDay: number;
  /** The same for the final MSTL fit. */
  finalStepsPerDay: number;
  /** MSTL must beat the profile model's holdout error by this factor (1 = plain comparison). */
  margin: number;
  /** Weight of the holdout's first day in its score (0 = the week's plain mean). */
  firstDayWeight: number;
}

/**
 * Backtest on the README series: MSTL on fewer than ~6 weeks loses accuracy on Taylor (its weekly
 * component rests on too few weeks), and the choice made on hourly sums picked the same model at
 * every origin as on half-hourly ones for half the cost; the final fit on hourly sums cost Taylor
 * 0.140 → 0.145, so it stays half-hourly. A margin other than 1 bought nothing. Weighting the
 * holdout's first day by half kept Taylor at 0.140 and brought flights US back to the profile
 * model's 0.644 (0.663 with the plain week: one origin went to MSTL); synthetic 5-minute load
 * barely moved (relative MAE 0.048 either way).
 */
export const DEFAULT_MODEL_CHOICE_OPTIONS: ModelChoiceOptions = { mstlDays: 56, holdoutMstlDays: 49, choiceStepsPerDay: 24, finalStepsPerDay: 48, margin: 1, firstDayWeight: 0.5 };

/**
 * The MSTL forecast when the history allows the choice (three weeks, half of it known, a daily
 * period that survives the profile model's period detection) and MSTL wins the holdout; null when
 * the profile model should forecast.
 */
export function forecastByChoice(history: Series, opts: ForecastOptions, profileOpts: ProfileModelOptions = DEFAULT_PROFILE_OPTIONS, choiceOpts: ModelChoiceOptions = DEFAULT_MODEL_CHOICE_OPTIONS): Forecast | null {
  const m = stepsPer(DAY_MS, history.stepMs);
  const n = history.values.length;
  if (m < 2 || n < CHOICE_MIN_DAYS * m || countFinite(history.values) < CHOICE_MIN_DAYS * m * 0.5) return null;
  return chooseModel(history, opts, m, profileOpts, choiceOpts);
}

/** `values` summed in blocks of `factor` steps aligned to the end (a leading remainder is dropped). */
function coarsen(values: Float64Array, factor: number): Float64Array {
  if (factor === 1) return values;
  const blocks = Math.floor(values.length / factor);
  const offset = values.length - blocks * factor;
  const out = new Float64Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let sum = 0;
    let count = 0;
    for (let i = offset + b * factor; i < offset + (b + 1) * factor; i++) {
      const v = values[i] as number;
      if (Number.isFinite(v)) {
        sum += v;
        count += 1;
      }
    }
    // A block more than half missing is a gap; otherwise its missing steps count at its mean.
    out[b] = 2 * count >= factor ? (sum * factor) / count : NaN;
  }
  return out;
}

/**
 * Share of each step of the day in its block (over the last SHARE_DAYS days), indexed by distance
 * from the history end modulo the day, so shares[h % m] applies to forecast step h.
 */
function blockShares(values: Float64Array, factor: number, m: number): Float64Array {
  const n = values.length;
  const num = new Float64Array(m);
  const den = new Float64Array(m);
  for (let end = n; end - factor >= Math.max(0, n - SHARE_DAYS * m); end -= factor) {
    let sum = 0;
    let complete = true;
    for (let i = end - factor; i < end; i++) {
      const v = values[i] as number;
      if (Number.isFinite(v)) sum += v;
      else complete = false;
    }
    if (!complete) continue;
    for (let i = end - factor; i < end; i++) {
      const slot = (((i - n) % m) + m) % m;
      num[slot] = (num[slot] as number) + (values[i] as number);
      den[slot] = (den[slot] as number) + sum;
    }
  }
  const shares = new Float64Array(m);
  for (let s = 0; s < m; s++) shares[s] = (den[s] as number) > 0 ? (num[s] as number) / (den[s] as number) : 1 / factor;
  return shares;
}

/** A block-level forecast (aligned to the history end) spread over fine steps by the shares. */
function refine(coarse: Float64Array, factor: number, shares: Float64Array, horizonSteps: number): Float64Array {
  if (factor === 1) return coarse.slice(0, horizonSteps);
  const m = shares.length;
  const out = new Float64Array(horizonSteps);
  for (let h = 0; h < horizonSteps; h++) out[h] = (coarse[Math.floor(h / factor)] as number) * (shares[h % m] as number);
  return out;
}

/**
 * Holdout errors of a model fitted on the history minus its last HOLDOUT_DAYS days: its seasonal
 * part is frozen at the cut, and its own level rule is re-run each held-out day on the data before
 * that day. One fit per model rather than one per day (a week of refits would cost 7 fits); both
 * models get the same handicap of a seasonal shape up to a week old.
 */
function holdoutErrors(values: Float64Array, levelValues: Float64Array, m: number, seasonal: Float64Array, startLevel: (adjusted: number[]) => number, nextLevel: (level: number, adjusted: number[], from: number) => number, adjustedTail: number[]): Float64Array {
  const n = values.length;
  const cut = n - HOLDOUT_DAYS * m;
  const errors = new Float64Array(HOLDOUT_DAYS * m);
  const adjusted = adjustedTail.slice();
  let level = startLevel(adjusted);
  for (let day = 0; day < HOLDOUT_DAYS; day++) {
    const from = adjusted.length;
    for (let t = day * m; t < (day + 1) * m; t++) {
      const actual = values[cut + t] as number;
      errors[t] = actual - Math.max(0, level + (seasonal[t] as number));
      adjusted.push((levelValues[cut + t] as number) - (seasonal[t] as number));
    }
    level = nextLevel(level, adjusted, from);
  }
  return errors;
}

/**
 * Holdout score: the mean absolute error over the week, blended with that of its first day, which
 * is the real task replayed (the same weekday and time of day as the forecast, one day ahead).
 */
function score(errors: Float64Array, m: number, firstDayWeight: number): number {
  const week = meanAbs(errors);
  return firstDayWeight > 0 ? (1 - firstDayWeight) * week + firstDayWeight * meanAbs(errors.subarray(0, m)) : week;
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

/** Mean of the finite values among the last `steps` of `values`. */
function lastMean(values: number[], steps: number): number {
  let sum = 0;
  let count = 0;
  for (let i = Math.max(0, values.length - steps); i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      sum += v;
      count += 1;
    }
  }
  return count > 0 ? sum / count : 0;
}

/**
 * The automatic choice between the profile model and the MSTL model: each is fitted on the history
 * minus its last week and judged by its mean absolute error over that week (only training data).
 * Returns the MSTL forecast when it wins, null when the profile model wins (the caller fits it).
 * The profile model's level rule is approximated here by the plain mean of the last day; the MSTL
 * model's is its exponential smoothing.
 */
export function chooseModel(history: Series, opts: ForecastOptions, m: number, profileOpts: ProfileModelOptions, choiceOpts: ModelChoiceOptions = DEFAULT_MODEL_CHOICE_OPTIONS): Forecast | null {
  // The holdout: both models at the choice resolution.
  const factor = blockFactor(m, choiceOpts.choiceStepsPerDay);
  const mc = m / factor;
  const values = coarsen(history.values, factor);
  const nc = values.length;
  const cut = nc - HOLDOUT_DAYS * mc;
  const training = values.subarray(0, cut);
  const stepMs = history.stepMs * factor;
  const startMs = history.startMs + (history.values.length - nc * factor) * history.stepMs;

  const profileFit = fitProfile({ startMs, stepMs, values: training }, profileOpts);
  // Period detection is the profile model's: no daily pattern above its noise leaves nothing for
  // MSTL to add (the profile model then forecasts a flat level), and MSTL fits the weekly period
  // only where the profile model found one.
  if (!hasDailyProfile(profileFit) && !hasWeeklyProfile(profileFit)) return null;
  const weekly = hasWeeklyProfile(profileFit);
  // Unclipped profile seasonal over the holdout: the mean at level 0 would be clipped at 0.
  const profileSeasonal = new Float64Array(HOLDOUT_DAYS * mc);
  const big = 1e12;
  const shifted: ProfileFit = { ...profileFit, forecastLevel: big };
  const raised = profileMean(shifted, cut, HOLDOUT_DAYS * mc);
  for (let t = 0; t < raised.length; t++) profileSeasonal[t] = (raised[t] as number) - big;
  // Gross outliers are gaps for the judging: one spike in the holdout week would otherwise lift
  // the plain-mean level rule standing in for the profile model's robust one, and flip the choice.
  const keep = new Float64Array(nc);
  screenGrossOutliers(values, keep, mc);
  const judged = Float64Array.from(values, (v, i) => ((keep[i] as number) > 0 ? v : NaN));
  const profileTail: number[] = [];
  for (let i = Math.max(0, cut - mc); i < cut; i++) profileTail.push((keep[i] as number) > 0 ? (profileFit.level[i] as number) + (profileFit.residuals[i] as number) : NaN);
  const profileErrors = holdoutErrors(values, judged, mc, profileSeasonal, (a) => lastMean(a, mc), (_l, a) => lastMean(a, mc), profileTail);
  const profileErr = score(profileErrors, mc, choiceOpts.firstDayWeight);

  const mstlFit = fitMstl(training.subarray(Math.max(0, cut - choiceOpts.holdoutMstlDays * mc)), mc, weekly);
  if (mstlFit === null) return null;
  const alpha = mstlFit.alpha;
  const mstlErrors = holdoutErrors(values, judged, mc, mstlSeasonal(mstlFit, HOLDOUT_DAYS * mc), () => mstlFit.level, (level, a, from) => {
    let l = level;
    for (let i = from; i < a.length; i++) if (Number.isFinite(a[i])) l += alpha * ((a[i] as number) - l);
    return l;
  }, []);
  if (!(score(mstlErrors, mc, choiceOpts.firstDayWeight) < choiceOpts.margin * profileErr)) return null;

  // The forecast: MSTL refitted on the whole (recent) history at the final resolution.
  const finalFactor = blockFactor(m, choiceOpts.finalStepsPerDay);
  const mf = m / finalFactor;
  const finalValues = coarsen(history.values, finalFactor);
  const fit = fitMstl(finalValues.subarray(Math.max(0, finalValues.length - Math.max(CHOICE_MIN_DAYS - HOLDOUT_DAYS, Math.round(choiceOpts.mstlDays)) * mf)), mf, weekly);
  if (fit === null) return null;
  const coarseSteps = Math.ceil(opts.horizonSteps / finalFactor);
  const mean = refine(mstlMean(fit, coarseSteps), finalFactor, finalFactor > 1 ? blockShares(history.values, finalFactor, m) : new Float64Array(0), opts.horizonSteps);
  // Upper quantile from the holdout errors, which are true out-of-sample errors a day or more
  // ahead, each block's error spread over its fine steps by their shares.
  const shares = factor > 1 ? blockShares(history.values, factor, m) : new Float64Array(0);
  const errors = factor > 1 ? Float64Array.from(mstlErrors, (e, t) => e * (shares[(t * factor) % m] as number)) : mstlErrors;
  const q = quantile(errors, opts.quantile);
  const margin = Number.isFinite(q) ? Math.max(0, q) : 0;
  return withUpper(history, mean, margin, fit.weeklySteps > 0 ? 'mstl-daily-weekly' : 'mstl-daily');
}

/** The smallest divisor of the day's steps that brings them to `maxPerDay` or fewer. */
function blockFactor(m: number, maxPerDay: number): number {
  let factor = 1;
  while (m / factor > maxPerDay || m % factor !== 0) factor += 1;
  return factor;
}
