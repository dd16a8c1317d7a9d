/**
 * Experimental automatic choice between the profile model (production `quietcut`) and the MSTL
 * model, by a holdout on the last week of the history. Backtest (README protocol): Taylor MASE
 * 0.222 → 0.140, flights US 0.644 → 0.663, ORD unchanged; not production yet because it costs ~2×
 * the profile model at 5-minute steps (speed goal) and picks MSTL on some synthetic profile-shaped
 * series where the profile model is the truth.
 */
import { withUpper } from './baselines.js';
import { forecast } from './forecast.js';
import { fitMstl, mstlMean, mstlSeasonal } from './mstl-model.js';
import { fitProfile, profileMean, DEFAULT_PROFILE_OPTIONS, type ProfileFit, type ProfileModelOptions } from './profile-model.js';
import { DAY_MS, countFinite, quantile, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

/** Days held out to choose between models: a week, so every weekday is judged once. */
const HOLDOUT_DAYS = 7;
/** History for the choice: the holdout plus the two weeks MSTL needs for its weekly period. */
const SELECT_MIN_DAYS = HOLDOUT_DAYS + 14;
/**
 * Steps per day at which the choice and the MSTL model run; finer histories are summed to this
 * first. STL costs ~3 times the profile model per step, and 5-minute detail within half an hour is
 * carried over by the shares of each step in its block (measured over the last two weeks).
 */
const MAX_COARSE_STEPS_PER_DAY = 48;
const SHARE_DAYS = 14;
/** MSTL must beat the profile model's holdout error by this factor (1 = plain comparison). */
const MSTL_MARGIN = 1;

/** `forecast`, except that with three weeks of history MSTL replaces the profile model when it wins the holdout. */
export function forecastWithModelChoice(history: Series, opts: ForecastOptions, profileOpts: ProfileModelOptions = DEFAULT_PROFILE_OPTIONS): Forecast {
  const m = stepsPer(DAY_MS, history.stepMs);
  const n = history.values.length;
  if (m >= 2 && n >= SELECT_MIN_DAYS * m && countFinite(history.values) >= SELECT_MIN_DAYS * m * 0.5) {
    const chosen = chooseModel(history, opts, m, profileOpts);
    if (chosen !== null) return chosen;
  }
  return forecast(history, opts, profileOpts);
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
function holdoutErrors(values: Float64Array, m: number, seasonal: Float64Array, startLevel: (adjusted: number[]) => number, nextLevel: (level: number, adjusted: number[], from: number) => number, adjustedTail: number[]): Float64Array {
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
      adjusted.push(actual - (seasonal[t] as number));
    }
    level = nextLevel(level, adjusted, from);
  }
  return errors;
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
export function chooseModel(history: Series, opts: ForecastOptions, m: number, profileOpts: ProfileModelOptions): Forecast | null {
  let factor = 1;
  while (m / factor > MAX_COARSE_STEPS_PER_DAY || m % factor !== 0) factor += 1;
  const mc = m / factor;
  const values = coarsen(history.values, factor);
  const nc = values.length;
  const cut = nc - HOLDOUT_DAYS * mc;
  const training = values.subarray(0, cut);
  const stepMs = history.stepMs * factor;
  const startMs = history.startMs + (history.values.length - nc * factor) * history.stepMs;

  const mstlFit = fitMstl(training, mc);
  if (mstlFit === null) return null;
  const profileFit = fitProfile({ startMs, stepMs, values: training }, profileOpts);
  // Unclipped profile seasonal over the holdout: the mean at level 0 would be clipped at 0.
  const profileSeasonal = new Float64Array(HOLDOUT_DAYS * mc);
  const big = 1e12;
  const shifted: ProfileFit = { ...profileFit, forecastLevel: big };
  const raised = profileMean(shifted, cut, HOLDOUT_DAYS * mc);
  for (let t = 0; t < raised.length; t++) profileSeasonal[t] = (raised[t] as number) - big;
  const profileTail: number[] = [];
  for (let i = Math.max(0, cut - mc); i < cut; i++) profileTail.push((profileFit.level[i] as number) + (profileFit.residuals[i] as number));
  const profileErr = meanAbs(holdoutErrors(values, mc, profileSeasonal, (a) => lastMean(a, mc), (_l, a) => lastMean(a, mc), profileTail));

  const alpha = mstlFit.alpha;
  const mstlErrors = holdoutErrors(values, mc, mstlSeasonal(mstlFit, HOLDOUT_DAYS * mc), () => mstlFit.level, (level, a, from) => {
    let l = level;
    for (let i = from; i < a.length; i++) if (Number.isFinite(a[i])) l += alpha * ((a[i] as number) - l);
    return l;
  }, []);
  if (!(meanAbs(mstlErrors) < MSTL_MARGIN * profileErr)) return null;

  const fit = fitMstl(values, mc);
  if (fit === null) return null;
  const coarseSteps = Math.ceil(opts.horizonSteps / factor);
  const shares = factor > 1 ? blockShares(history.values, factor, m) : new Float64Array(0);
  const mean = refine(mstlMean(fit, coarseSteps), factor, shares, opts.horizonSteps);
  // Upper quantile from the holdout errors, which are true out-of-sample errors a day or more
  // ahead (at fine steps, of the refined holdout forecast would be better; the block error spread
  // by the shares is close enough for a margin).
  const errors = factor > 1 ? Float64Array.from(mstlErrors, (e, t) => e * (shares[(t * factor) % m] as number)) : mstlErrors;
  const q = quantile(errors, opts.quantile);
  const margin = Number.isFinite(q) ? Math.max(0, q) : 0;
  return withUpper(history, mean, margin, fit.weeklySteps > 0 ? 'mstl-daily-weekly' : 'mstl-daily');
}
