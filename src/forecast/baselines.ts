/** Baselines the production model must beat: seasonal naive (daily, weekly) and the flat mean. */
import { DAY_MS, WEEK_MS, finiteMean, quantile, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

/**
 * Repeat the last full period: the forecast for step h is the value one period (or, across a gap,
 * several periods) before. Null when the history is shorter than one period.
 */
export function seasonalNaive(history: Series, opts: ForecastOptions, periodSteps: number, model = 'seasonal-naive'): Forecast | null {
  const { values } = history;
  const n = values.length;
  if (periodSteps < 1 || n < periodSteps) return null;
  const fallback = finiteMean(values, n - periodSteps, n);
  const mean = new Float64Array(opts.horizonSteps);
  for (let h = 0; h < opts.horizonSteps; h++) {
    // The same phase in the last period, walking further back over gaps.
    let i = n - periodSteps + (h % periodSteps);
    while (i >= 0 && !Number.isFinite(values[i])) i -= periodSteps;
    mean[h] = i >= 0 ? (values[i] as number) : Number.isFinite(fallback) ? fallback : 0;
  }
  return withUpper(history, mean, residualQuantile(values, periodSteps, opts.quantile), model);
}

export function seasonalNaiveDaily(history: Series, opts: ForecastOptions): Forecast | null {
  return seasonalNaive(history, opts, stepsPer(DAY_MS, history.stepMs), 'seasonal-naive-daily');
}

export function seasonalNaiveWeekly(history: Series, opts: ForecastOptions): Forecast | null {
  return seasonalNaive(history, opts, stepsPer(WEEK_MS, history.stepMs), 'seasonal-naive-weekly');
}

/** The mean of the whole history (0 with none); the last resort for a few hours of history. */
export function flatMean(history: Series, opts: ForecastOptions): Forecast {
  const level = finiteMean(history.values);
  const mean = new Float64Array(opts.horizonSteps).fill(Number.isFinite(level) ? level : 0);
  return withUpper(history, mean, residualQuantile(history.values, 0, opts.quantile), 'flat-mean');
}

/**
 * Quantile q of the errors the naive rule would have made in the history (lag `lag`; lag 0 means
 * deviations from the mean), used as the margin from mean to upper quantile.
 */
function residualQuantile(values: Float64Array, lag: number, q: number): number {
  const errors: number[] = [];
  const level = finiteMean(values);
  for (let i = lag; i < values.length; i++) {
    const e = lag > 0 ? (values[i] as number) - (values[i - lag] as number) : (values[i] as number) - level;
    if (Number.isFinite(e)) errors.push(e);
  }
  const v = quantile(errors, q);
  return Number.isFinite(v) ? Math.max(0, v) : 0;
}

export function withUpper(history: Series, mean: Float64Array, margin: number, model: string): Forecast {
  const upper = new Float64Array(mean.length);
  for (let h = 0; h < mean.length; h++) upper[h] = (mean[h] as number) + margin;
  return { startMs: history.startMs + history.values.length * history.stepMs, stepMs: history.stepMs, mean, upper, model };
}
