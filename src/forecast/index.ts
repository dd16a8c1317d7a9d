/**
 * Forecast: pure functions from a partition's write-rate history to its predicted curve.
 * Interim version: seasonal naive on the daily period with a flat-mean fallback; the backtested
 * model replaces it behind the same signature.
 */
import type { Forecast, ForecastOptions, Series } from './types.js';

export type { Forecast, ForecastOptions, Series } from './types.js';

const DAY_MS = 86_400_000;

export function forecast(history: Series, opts: ForecastOptions): Forecast {
  const { values, stepMs } = history;
  const n = values.length;
  const period = Math.round(DAY_MS / stepMs);
  const mean = new Float64Array(opts.horizonSteps);
  let sum = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isFinite(v)) {
      sum += v;
      count += 1;
    }
  }
  const flat = count > 0 ? sum / count : 0;
  const useDaily = n >= period && period > 1;
  for (let h = 0; h < opts.horizonSteps; h++) {
    let v = flat;
    if (useDaily) {
      const back = n - period + (h % period);
      const past = values[back];
      if (past !== undefined && Number.isFinite(past)) v = past;
    }
    mean[h] = Math.max(0, v);
  }
  return {
    startMs: history.startMs + n * stepMs,
    stepMs,
    mean,
    upper: Float64Array.from(mean),
    model: useDaily ? 'seasonal-naive' : 'flat-mean',
  };
}
