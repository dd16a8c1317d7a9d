/**
 * Rolling-origin backtest, with the protocol of shared/data/series/README.md: by default 10
 * origins spaced one day + 3 hours apart ending at the series end, a one-day horizon, the last
 * 8 weeks as training window, a fresh fit at every origin, 2-hour trough windows.
 */
import { mase, smape, trough } from './metrics.js';
import { DAY_MS, WEEK_MS, stepsPer } from './series-math.js';
import type { Forecast, ForecastOptions, Series } from './types.js';

const HOUR_MS = 3_600_000;

export type ForecastMethod = (history: Series, opts: ForecastOptions) => Forecast | null;

export interface BacktestMethod {
  name: string;
  /** Returns null when it cannot forecast from this history (e.g. shorter than its period). */
  run: ForecastMethod;
}

export interface BacktestOptions {
  horizonMs?: number;
  windowMs?: number;
  trainingMs?: number;
  origins?: number;
  originSpacingMs?: number;
  quantile?: number;
}

export interface BacktestRow {
  series: string;
  method: string;
  /** Origins this method produced a forecast for. */
  origins: number;
  mase: number;
  smape: number;
  troughExcessPct: number;
  troughHits: number;
  /** Mean fit + forecast time per origin. */
  fitMs: number;
}

interface Plan {
  horizonSteps: number;
  windowSteps: number;
  trainingSteps: number;
  dailySteps: number;
  origins: number[];
}

function toSteps(ms: number, stepMs: number, what: string): number {
  const steps = Math.round(ms / stepMs);
  if (steps < 1) throw new RangeError(`${what} (${ms} ms) is shorter than one step (${stepMs} ms)`);
  return steps;
}

/** Origin indexes (the first forecast step), latest first; each has a full horizon after it. */
export function backtestPlan(series: Series, opts: BacktestOptions = {}): Plan {
  const { stepMs } = series;
  const n = series.values.length;
  const dailySteps = stepsPer(DAY_MS, stepMs);
  if (dailySteps < 2) throw new RangeError(`step ${stepMs} ms does not divide a day into several steps`);
  const horizonSteps = toSteps(opts.horizonMs ?? DAY_MS, stepMs, 'horizon');
  const windowSteps = toSteps(opts.windowMs ?? 2 * HOUR_MS, stepMs, 'window');
  if (windowSteps > horizonSteps) throw new RangeError('the trough window is longer than the horizon');
  const trainingSteps = toSteps(opts.trainingMs ?? 8 * WEEK_MS, stepMs, 'training window');
  const spacing = toSteps(opts.originSpacingMs ?? DAY_MS + 3 * HOUR_MS, stepMs, 'origin spacing');
  const origins: number[] = [];
  // An origin needs one day of history at least, for the MASE scale.
  for (let k = 0, o = n - horizonSteps; k < (opts.origins ?? 10) && o >= 2 * dailySteps; k++, o -= spacing) origins.push(o);
  return { horizonSteps, windowSteps, trainingSteps, dailySteps, origins };
}

function mean(values: number[]): number {
  const finite = values.filter(Number.isFinite);
  return finite.length > 0 ? finite.reduce((a, b) => a + b, 0) / finite.length : NaN;
}

export function backtest(name: string, series: Series, methods: BacktestMethod[], opts: BacktestOptions = {}): BacktestRow[] {
  const plan = backtestPlan(series, opts);
  const forecastOpts: ForecastOptions = { horizonSteps: plan.horizonSteps, quantile: opts.quantile ?? 0.9 };
  return methods.map((method) => {
    const mases: number[] = [];
    const smapes: number[] = [];
    const excesses: number[] = [];
    let hits = 0;
    let elapsedMs = 0;
    for (const origin of plan.origins) {
      const from = Math.max(0, origin - plan.trainingSteps);
      const training = series.values.subarray(from, origin);
      const actual = series.values.subarray(origin, origin + plan.horizonSteps);
      const history: Series = { startMs: series.startMs + from * series.stepMs, stepMs: series.stepMs, values: training };
      const started = performance.now();
      const result = method.run(history, forecastOpts);
      elapsedMs += performance.now() - started;
      if (result === null) continue;
      mases.push(mase(result.mean, actual, training, plan.dailySteps));
      smapes.push(smape(result.mean, actual));
      const t = trough(result.mean, actual, plan.windowSteps);
      excesses.push(t.excessPct);
      if (t.hit) hits += 1;
    }
    return {
      series: name,
      method: method.name,
      origins: mases.length,
      mase: mean(mases),
      smape: mean(smapes),
      troughExcessPct: mean(excesses),
      troughHits: hits,
      fitMs: plan.origins.length > 0 ? elapsedMs / plan.origins.length : 0,
    };
  });
}
