/**
 * The production forecast (named `quietcut` in backtests): with three weeks of history, the
 * candidate or combination of candidates that wins rolling-origin validation over the last week
 * (combine.ts); else the profile model when there are two days of history or more, else seasonal
 * naive on one day, else the flat mean. The model actually used is reported in `Forecast.model`.
 */
import { flatMean, seasonalNaive } from './baselines.js';
import { forecastCombined, DEFAULT_COMBINATION_OPTIONS, type CombinationOptions } from './combine.js';
import { fitProfile, profileMean, profileModelName, DEFAULT_PROFILE_OPTIONS, type ProfileModelOptions } from './profile-model.js';
import { profileUpperBand } from './profile-band.js';
import { DAY_MS, countFinite, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

/** Days of history the profile model needs: two samples of every slot of the day. */
const PROFILE_MIN_DAYS = 2;

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
    const upper = profileUpperBand(history, fit, mean, opts.quantile);
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
