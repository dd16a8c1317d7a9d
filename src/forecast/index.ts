/**
 * Forecast: pure functions from a partition's write-rate history to its predicted curve, the
 * baselines it is measured against, and the backtest harness that measures it.
 */
export type { Forecast, ForecastOptions, Series } from './types.js';
export { forecast, forecastProfile, profileModelName } from './forecast.js';
export { fitProfile, hasDailyProfile, hasWeeklyProfile, profileMean, DEFAULT_PROFILE_OPTIONS, type ProfileFit, type ProfileModelOptions } from './profile-model.js';
export { flatMean, seasonalNaive, seasonalNaiveDaily, seasonalNaiveWeekly } from './baselines.js';
export { backtest, backtestPlan, type BacktestMethod, type BacktestOptions, type BacktestRow, type ForecastMethod } from './backtest.js';
export { defaultBacktestMethods } from './methods.js';
export { mase, meanAbsoluteError, seasonalNaiveScale, smape, trough, type TroughResult } from './metrics.js';
export { aggregateSeries, parseSeriesCsv, SeriesCsvError } from './csv.js';
export { forecastByChoice, CHOICE_MIN_DAYS, DEFAULT_MODEL_CHOICE_OPTIONS, type ModelChoiceOptions } from './model-choice.js';
export { fitMstl, mstlMean, type MstlFit } from './mstl-model.js';
export { mstl, stl, type MstlResult, type StlOptions, type StlResult } from './stl.js';
