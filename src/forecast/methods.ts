/** The methods every backtest table shows: the production method and the baselines. */
import { seasonalNaiveDaily, seasonalNaiveWeekly } from './baselines.js';
import type { BacktestMethod } from './backtest.js';
import { forecast } from './forecast.js';

export function defaultBacktestMethods(): BacktestMethod[] {
  return [
    { name: 'quietcut', run: (history, opts) => forecast(history, opts) },
    { name: 'seasonal-naive-daily', run: seasonalNaiveDaily },
    { name: 'seasonal-naive-weekly', run: seasonalNaiveWeekly },
  ];
}
