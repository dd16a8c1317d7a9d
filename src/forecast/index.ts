/**
 * Forecast: pure functions from a partition's write-rate history to its predicted curve, the
 * baselines it is measured against, and the backtest harness that measures it.
 */
export { SPREAD_LEVELS, type Forecast, type ForecastOptions, type Series } from './types.js';
export { forecast, forecastProfile } from './forecast.js';
export { fitProfile, profileModelName, hasDailyProfile, hasWeeklyProfile, profileMean, DEFAULT_PROFILE_OPTIONS, type ProfileFit, type ProfileModelOptions } from './profile-model.js';
export { flatMean, seasonalNaive, seasonalNaiveDaily, seasonalNaiveWeekly } from './baselines.js';
export { backtest, backtestPlan, type BacktestMethod, type BacktestOptions, type BacktestRow, type ForecastMethod } from './backtest.js';
export { defaultBacktestMethods } from './methods.js';
export { mase, meanAbsoluteError, seasonalNaiveScale, smape, trough, type TroughResult } from './metrics.js';
export { aggregateSeries, parseSeriesCsv, SeriesCsvError } from './csv.js';
export { forecastCombined, combineSteps, slotErrorLevels, slotQuantiles, validateOptions, COMBINATION_MIN_DAYS, DEFAULT_COMBINATION_OPTIONS, type CombinationOptions, type ValidatedOption } from './combine.js';
export { CANDIDATES, type Candidate, type CandidateContext } from './candidates.js';
export { fitHoltWinters, holtWintersMean, type HoltWintersState } from './holt-winters.js';
export { fitDoubleSeasonal, doubleSeasonalMean, type DoubleSeasonalState } from './double-seasonal.js';
export { fitMstl, mstlMean, type MstlFit } from './mstl-model.js';
export { mstl, stl, type MstlResult, type StlOptions, type StlResult } from './stl.js';
