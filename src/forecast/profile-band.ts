/**
 * The profile model's upper band, from the errors its day-ahead forecasts made over the whole
 * history: forecast.ts uses it for the profile model's own forecast, and combine.ts as a floor
 * under the band of the combined forecast (whose own errors span one week).
 */
import type { ProfileFit } from './profile-model.js';
import { quantile } from './series-math.js';
import type { Series } from './types.js';

/** Samples per slot of the day below which the upper quantile pools all slots. */
const MIN_SLOT_SAMPLES = 20;

/**
 * Upper quantile: the forecast plus the q-quantile of the errors a day-ahead forecast of this fit
 * would have made in the history (the level taken from the day before, so level drift is in the
 * errors, not just the noise around the fit). Per slot of the day when every slot has enough
 * samples, since quiet hours are usually also the calm ones; pooled otherwise.
 */
export function profileUpperBand(history: Series, fit: ProfileFit, mean: Float64Array, q: number): Float64Array {
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
