/**
 * Additive Holt-Winters (level + one seasonal period, no trend: a day-ahead forecast of write load
 * gains nothing from extrapolating a slope, and a fitted trend is what makes statsmodels' variant
 * overshoot on the README series). Smoothing constants by least one-step squared error over a
 * small grid, as an optimiser would settle them; gaps are skipped (the state carries over).
 *
 *   level[t+1] = level[t] + α·e[t],  season[t+p] = season[t] + γ·(1 − α)·e[t],  e = y − level − season
 *
 * Used with a daily and with a weekly period, as a candidate of the combination (combine.ts) and as
 * a reference in the backtest bench.
 */

export interface HoltWintersState {
  period: number;
  alpha: number;
  gamma: number;
  level: number;
  /** Seasonal state for the next `period` steps: season[h % period] applies to step h after the state. */
  season: Float64Array;
}

const ALPHAS = [0.01, 0.03, 0.08, 0.15, 0.3, 0.5, 0.8];
const GAMMAS = [0.01, 0.05, 0.15, 0.35];

/** Initial state from the first two periods: level their mean, seasonal the mean deviation. */
function initial(values: Float64Array, period: number): { level: number; season: Float64Array } | null {
  const season = new Float64Array(period);
  const counts = new Float64Array(period);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < 2 * period && i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    sum += v;
    count += 1;
  }
  if (count === 0) return null;
  const level = sum / count;
  for (let i = 0; i < 2 * period && i < values.length; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    season[i % period] = (season[i % period] as number) + v - level;
    counts[i % period] = (counts[i % period] as number) + 1;
  }
  for (let s = 0; s < period; s++) season[s] = (counts[s] as number) > 0 ? (season[s] as number) / (counts[s] as number) : 0;
  return { level, season };
}

/**
 * Runs the filter over values[from, to) starting from `state` (which it updates in place, rotating
 * the seasonal ring so that season[0] is always the next step's). Returns the one-step SSE.
 */
export function filter(state: HoltWintersState, values: Float64Array, from: number, to: number): number {
  const { alpha, gamma, period, season } = state;
  let level = state.level;
  let sse = 0;
  // A ring buffer: `head` is the slot of the next step.
  const ring = season;
  let head = 0;
  for (let i = from; i < to; i++) {
    const s = ring[head] as number;
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      const e = v - level - s;
      sse += e * e;
      level += alpha * e;
      ring[head] = s + gamma * (1 - alpha) * e;
    }
    head = head + 1 === period ? 0 : head + 1;
  }
  state.level = level;
  if (head !== 0) {
    const rotated = Float64Array.from({ length: period }, (_, k) => ring[(head + k) % period] as number);
    season.set(rotated);
  }
  return sse;
}

/** Fit on values (two periods at least); null when too short or empty. */
export function fitHoltWinters(values: Float64Array, period: number): HoltWintersState | null {
  if (period < 2 || values.length < 3 * period) return null;
  const init = initial(values, period);
  if (init === null) return null;
  let best: HoltWintersState | null = null;
  let bestSse = Infinity;
  for (const alpha of ALPHAS) {
    for (const gamma of GAMMAS) {
      const state: HoltWintersState = { period, alpha, gamma, level: init.level, season: init.season.slice() };
      // The first two periods built the initial state: errors are judged after them.
      filter(state, values, 0, 2 * period);
      const sse = filter(state, values, 2 * period, values.length);
      if (sse < bestSse) [best, bestSse] = [state, sse];
    }
  }
  return best;
}

/** Mean forecast for `steps` steps after the state, clipped at 0 (write counts). */
export function holtWintersMean(state: HoltWintersState, steps: number): Float64Array {
  const out = new Float64Array(steps);
  for (let h = 0; h < steps; h++) out[h] = Math.max(0, state.level + (state.season[h % state.period] as number));
  return out;
}

export function cloneState(state: HoltWintersState): HoltWintersState {
  return { ...state, season: state.season.slice() };
}
