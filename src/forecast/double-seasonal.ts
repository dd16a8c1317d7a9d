/**
 * Double-seasonal Holt-Winters (Taylor 2003, the model of R's dshw; additive, no trend): a level,
 * a daily and a weekly seasonal state, each updated by the one-step error.
 *
 *   e = y − level − daily[t mod m] − weekly[t mod 7m]
 *   level += α·e,  daily[t mod m] += δ·e,  weekly[t mod 7m] += ω·e
 *
 * Between Holt-Winters daily (which forgets weekdays) and weekly (which learns each hour of the
 * week from one sample a week): the daily state learns from every day, the weekly state only what
 * the weekdays add to it. Constants by least one-step squared error over a small grid, gaps skipped.
 */

export interface DoubleSeasonalState {
  dailySteps: number;
  alpha: number;
  delta: number;
  omega: number;
  level: number;
  /** Indexed by absolute step mod dailySteps, and mod 7 × dailySteps (step 0 = the history's first). */
  daily: Float64Array;
  weekly: Float64Array;
  /** Absolute index of the next step the state forecasts. */
  next: number;
}

/** 27 points: 64 (four values each) cost twice the fit time for no change in the backtest. */
const ALPHAS = [0.02, 0.1, 0.4];
const DELTAS = [0.02, 0.1, 0.3];
const OMEGAS = [0.02, 0.1, 0.3];
/** Weeks that build the initial state; errors are judged after them. */
const INIT_WEEKS = 2;

/** Level the mean of the first weeks; daily the mean deviation per slot of the day; weekly what is left per slot of the week. */
function initial(values: Float64Array, m: number): { level: number; daily: Float64Array; weekly: Float64Array } | null {
  const W = 7 * m;
  const span = Math.min(values.length, INIT_WEEKS * W);
  let sum = 0;
  let count = 0;
  for (let i = 0; i < span; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) [sum, count] = [sum + v, count + 1];
  }
  if (count === 0) return null;
  const level = sum / count;
  const slotMean = (period: number, minus: (i: number) => number): Float64Array => {
    const total = new Float64Array(period);
    const n = new Float64Array(period);
    for (let i = 0; i < span; i++) {
      const v = values[i] as number;
      if (!Number.isFinite(v)) continue;
      total[i % period] = (total[i % period] as number) + v - minus(i);
      n[i % period] = (n[i % period] as number) + 1;
    }
    return total.map((t, s) => ((n[s] as number) > 0 ? t / (n[s] as number) : 0));
  };
  const daily = slotMean(m, () => level);
  const weekly = slotMean(W, (i) => level + (daily[i % m] as number));
  return { level, daily, weekly };
}

/** Runs the filter over values[state.next, to), updating the state in place; returns the one-step SSE. */
export function filterDoubleSeasonal(state: DoubleSeasonalState, values: Float64Array, to: number): number {
  const { alpha, delta, omega, daily, weekly, dailySteps: m } = state;
  const W = 7 * m;
  let level = state.level;
  let sse = 0;
  for (let i = state.next; i < to; i++) {
    const v = values[i] as number;
    if (!Number.isFinite(v)) continue;
    const d = i % m;
    const w = i % W;
    const e = v - level - (daily[d] as number) - (weekly[w] as number);
    sse += e * e;
    level += alpha * e;
    daily[d] = (daily[d] as number) + delta * e;
    weekly[w] = (weekly[w] as number) + omega * e;
  }
  state.level = level;
  state.next = Math.max(state.next, to);
  return sse;
}

/** Fit on values (three weeks at least: two to start from, one to judge); null when too short or empty. */
export function fitDoubleSeasonal(values: Float64Array, dailySteps: number): DoubleSeasonalState | null {
  const W = 7 * dailySteps;
  if (dailySteps < 2 || values.length < (INIT_WEEKS + 1) * W) return null;
  const init = initial(values, dailySteps);
  if (init === null) return null;
  let best: DoubleSeasonalState | null = null;
  let bestSse = Infinity;
  for (const alpha of ALPHAS) {
    for (const delta of DELTAS) {
      for (const omega of OMEGAS) {
        const state: DoubleSeasonalState = { dailySteps, alpha, delta, omega, level: init.level, daily: init.daily.slice(), weekly: init.weekly.slice(), next: 0 };
        filterDoubleSeasonal(state, values, INIT_WEEKS * W);
        const sse = filterDoubleSeasonal(state, values, values.length);
        if (sse < bestSse) [best, bestSse] = [state, sse];
      }
    }
  }
  return best;
}

/** Mean forecast for `steps` steps after the state, clipped at 0 (write counts). */
export function doubleSeasonalMean(state: DoubleSeasonalState, steps: number): Float64Array {
  const m = state.dailySteps;
  const out = new Float64Array(steps);
  for (let h = 0; h < steps; h++) {
    const i = state.next + h;
    out[h] = Math.max(0, state.level + (state.daily[i % m] as number) + (state.weekly[i % (7 * m)] as number));
  }
  return out;
}

export function cloneDoubleSeasonal(state: DoubleSeasonalState): DoubleSeasonalState {
  return { ...state, daily: state.daily.slice(), weekly: state.weekly.slice() };
}
