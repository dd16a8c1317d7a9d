/**
 * The methods every backtest table shows: the production method, the baselines it must beat
 * (seasonal naive, daily and weekly) and the established methods it is measured against, each
 * computed here with the same protocol: additive Holt-Winters with a daily and with a weekly
 * period, and MSTL + ETS (R's stlf: MSTL decomposition, each seasonal component repeated from its
 * last period, simple exponential smoothing on the adjusted series).
 */
import { seasonalNaiveDaily, seasonalNaiveWeekly, withUpper } from './baselines.js';
import type { BacktestMethod } from './backtest.js';
import { forecast } from './forecast.js';
import { fitHoltWinters, holtWintersMean } from './holt-winters.js';
import { fitMstl, mstlMean } from './mstl-model.js';
import { DAY_MS, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

function holtWintersMethod(periodDays: number, model: string) {
  return (history: Series, opts: ForecastOptions): Forecast | null => {
    const m = stepsPer(DAY_MS, history.stepMs);
    const state = m >= 2 ? fitHoltWinters(history.values, periodDays * m) : null;
    return state === null ? null : withUpper(history, holtWintersMean(state, opts.horizonSteps), 0, model);
  };
}

function mstlEts(history: Series, opts: ForecastOptions): Forecast | null {
  const m = stepsPer(DAY_MS, history.stepMs);
  const fit = m >= 2 ? fitMstl(history.values, m, true) : null;
  return fit === null ? null : withUpper(history, mstlMean(fit, opts.horizonSteps), 0, 'mstl-ets');
}

/** The references of the backtest table (no production code path depends on them). */
export const REFERENCE_METHOD_NAMES = ['seasonal-naive-daily', 'seasonal-naive-weekly', 'holt-winters-daily', 'holt-winters-weekly', 'mstl-ets'] as const;

export function defaultBacktestMethods(): BacktestMethod[] {
  return [
    { name: 'quietcut', run: (history, opts) => forecast(history, opts) },
    { name: 'seasonal-naive-daily', run: seasonalNaiveDaily },
    { name: 'seasonal-naive-weekly', run: seasonalNaiveWeekly },
    { name: 'holt-winters-daily', run: holtWintersMethod(1, 'holt-winters-daily') },
    { name: 'holt-winters-weekly', run: holtWintersMethod(7, 'holt-winters-weekly') },
    { name: 'mstl-ets', run: mstlEts },
  ];
}
