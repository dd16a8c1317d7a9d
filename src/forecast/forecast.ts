/**
 * The production forecast (named `quietcut` in backtests): with three weeks of history, the
 * candidate or combination of candidates that wins rolling-origin validation over the last week
 * (combine.ts); else the profile model when there are two days of history or more, else seasonal
 * naive on one day, else the flat mean. The model actually used is reported in `Forecast.model`.
 */
import { flatMean, seasonalNaive } from './baselines.js';
import { forecastCombined, DEFAULT_COMBINATION_OPTIONS, type CombinationOptions } from './combine.js';
import { fitProfile, profileMean, profileModelName, DEFAULT_PROFILE_OPTIONS, type ProfileFit, type ProfileModelOptions } from './profile-model.js';
import { DAY_MS, countFinite, quantile, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

/** Days of history the profile model needs: two samples of every slot of the day. */
const PROFILE_MIN_DAYS = 2;
/** Samples per slot of the day below which the upper quantile pools all slots. */
const MIN_SLOT_SAMPLES = 20;

export function forecast(history: Series, opts: ForecastOptions, profileOpts: ProfileModelOptions = DEFAULT_PROFILE_OPTIONS, comboOpts: CombinationOptions = DEFAULT_COMBINATION_OPTIONS): Forecast {
  validateOptions(opts);
  return forecastCombined(history, opts, profileOpts, comboOpts) ?? forecastProfile(history, opts, profileOpts);
}

/** The forecast without the MSTL alternative: the profile model and its fallbacks. */
export function forecastProfile(history: Series, opts: ForecastOptions, profileOpts: ProfileModelOptions = DEFAULT_PROFILE_OPTIONS): Forecast {
  validateOptions(opts);
  const m = stepsPer(DAY_MS, history.stepMs);
  const n = history.values.length;
  const known = countFinite(history.values);
  if (m >= 2 && n >= PROFILE_MIN_DAYS * m && known >= PROFILE_MIN_DAYS * m * 0.5) {
    const fit = fitProfile(history, profileOpts);
    const mean = profileMean(fit, n, opts.horizonSteps);
    const upper = upperBand(history, fit, mean, opts.quantile);
    return { startMs: history.startMs + n * history.stepMs, stepMs: history.stepMs, mean, upper, model: profileModelName(fit) };
  }
  if (m >= 2 && n >= m && known >= m / 2) {
    const naive = seasonalNaive(history, opts, m, 'seasonal-naive');
    if (naive !== null) return naive;
  }
  return flatMean(history, opts);
}

function validateOptions(opts: ForecastOptions): void {
  if (!Number.isInteger(opts.horizonSteps) || opts.horizonSteps < 0) throw new RangeError(`horizonSteps must be a whole number >= 0, got ${opts.horizonSteps}`);
  if (!(opts.quantile > 0 && opts.quantile < 1)) throw new RangeError(`quantile must be in (0, 1), got ${opts.quantile}`);
}

/**
 * Upper quantile: the forecast plus the q-quantile of the errors a day-ahead forecast of this fit
 * would have made in the history (the level taken from the day before, so level drift is in the
 * errors, not just the noise around the fit). Per slot of the day when every slot has enough
 * samples, since quiet hours are usually also the calm ones; pooled otherwise.
 */
function upperBand(history: Series, fit: ProfileFit, mean: Float64Array, q: number): Float64Array {
  const n = history.values.length;
  const m = fit.dailySteps;
  const deseasonalised = new Float64Array(n);
  // y − seasonal = level + residual; NaN at gaps.
  for (let i = 0; i < n; i++) deseasonalised[i] = (fit.level[i] as number) + (fit.residuals[i] as number);
  // Errors slot-major in one typed array: one block per day gives each slot at most one error per
  // block, so slot s holds errors[s * blocks .. s * blocks + counts[s]).
  const blocks = Math.max(0, Math.floor(n / m) - 1);
  const errors = new Float64Array(m * blocks);
  const counts = new Int32Array(m);
  // Blocks of one day aligned to the end of the history, each forecast from the block before it.
  for (let end = n; end - 2 * m >= 0; end -= m) {
    let sum = 0;
    let count = 0;
    for (let i = end - 2 * m; i < end - m; i++) {
      const v = deseasonalised[i] as number;
      if (Number.isFinite(v) && (fit.weights[i] as number) > 0) {
        sum += v;
        count += 1;
      }
    }
    if (count === 0) continue;
    const level = sum / count;
    // Slot by distance from the history end, so slot s of the errors lines up with horizon step s.
    for (let i = end - m, slot = 0; i < end; i++, slot++) {
      const e = (deseasonalised[i] as number) - level;
      if (!Number.isFinite(e)) continue;
      errors[slot * blocks + (counts[slot] as number)] = e;
      counts[slot] = (counts[slot] as number) + 1;
    }
  }
  const margins = new Float64Array(m);
  if (counts.every((c) => c >= MIN_SLOT_SAMPLES)) {
    for (let s = 0; s < m; s++) margins[s] = Math.max(0, quantile(errors.subarray(s * blocks, s * blocks + (counts[s] as number)), q));
  } else {
    const pooled: number[] = [];
    for (let s = 0; s < m; s++) for (let k = 0; k < (counts[s] as number); k++) pooled.push(errors[s * blocks + k] as number);
    const pooledQuantile = quantile(pooled, q);
    margins.fill(Number.isFinite(pooledQuantile) ? Math.max(0, pooledQuantile) : 0);
  }
  const upper = new Float64Array(mean.length);
  for (let h = 0; h < mean.length; h++) upper[h] = (mean[h] as number) + (margins[h % m] as number);
  return upper;
}
