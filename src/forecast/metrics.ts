/**
 * Forecast accuracy metrics, defined exactly as in shared/data/series/README.md so the backtest
 * compares with its reference table.
 */
import { argMin, windowSums } from './series-math.js';

/** Mean absolute error over the steps where both values are known. */
export function meanAbsoluteError(forecast: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < Math.min(forecast.length, actual.length); i++) {
    const e = (forecast[i] as number) - (actual[i] as number);
    if (Number.isFinite(e)) {
      sum += Math.abs(e);
      count += 1;
    }
  }
  return count > 0 ? sum / count : NaN;
}

/** In-sample MAE of the seasonal naive rule with lag `period` over `training`: the MASE scale. */
export function seasonalNaiveScale(training: ArrayLike<number>, period: number): number {
  let sum = 0;
  let count = 0;
  for (let i = period; i < training.length; i++) {
    const e = (training[i] as number) - (training[i - period] as number);
    if (Number.isFinite(e)) {
      sum += Math.abs(e);
      count += 1;
    }
  }
  return count > 0 ? sum / count : NaN;
}

/** Horizon MAE scaled by the in-sample daily seasonal-naive MAE; NaN when that scale is 0. */
export function mase(forecast: ArrayLike<number>, actual: ArrayLike<number>, training: ArrayLike<number>, period: number): number {
  const scale = seasonalNaiveScale(training, period);
  return scale > 0 ? meanAbsoluteError(forecast, actual) / scale : NaN;
}

/** Symmetric MAPE in percent (0..200); a step where both are 0 counts as a perfect 0. */
export function smape(forecast: ArrayLike<number>, actual: ArrayLike<number>): number {
  let sum = 0;
  let count = 0;
  for (let i = 0; i < Math.min(forecast.length, actual.length); i++) {
    const f = forecast[i] as number;
    const a = actual[i] as number;
    if (!Number.isFinite(f) || !Number.isFinite(a)) continue;
    const denom = Math.abs(f) + Math.abs(a);
    sum += denom > 0 ? (200 * Math.abs(f - a)) / denom : 0;
    count += 1;
  }
  return count > 0 ? sum / count : NaN;
}

export interface TroughResult {
  /** Start index (within the horizon) of the window with the lowest forecast sum. */
  chosen: number;
  /** Start index of the window with the lowest actual sum. */
  best: number;
  /** (actual(chosen) − actual(best)) / mean actual window sum, in percent. */
  excessPct: number;
  /** The chosen window is a truly quietest one (its actual sum equals the lowest). */
  hit: boolean;
}

/** Trough excess for K-step windows sliding over the horizon (what the planner lives on). */
export function trough(forecast: ArrayLike<number>, actual: ArrayLike<number>, windowSteps: number): TroughResult {
  const predicted = windowSums(forecast, windowSteps);
  const real = windowSums(actual, windowSteps);
  const chosen = argMin(predicted);
  const best = argMin(real);
  if (chosen < 0 || best < 0) return { chosen, best, excessPct: NaN, hit: false };
  let total = 0;
  for (const v of real) total += v;
  const meanWindow = total / real.length;
  const excess = (real[chosen] as number) - (real[best] as number);
  const excessPct = meanWindow > 0 ? (100 * excess) / meanWindow : 0;
  // Several windows can share the lowest actual sum (zero nights): any of them is a hit.
  const hit = excess <= 1e-9 * Math.max(1, Math.abs(meanWindow));
  return { chosen, best, excessPct, hit };
}
