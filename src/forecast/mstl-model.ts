/**
 * The MSTL candidate: MSTL decomposition (daily and, with two weeks or more, weekly period) and a
 * simple-exponential-smoothing level on the seasonally adjusted series, as R's stlf does it.
 *
 *   forecast[h] = level + daily[last day, slot of h] + weekly[last week, slot of h]
 *
 * Unlike stlf, the daily component comes from the last day rather than the last week: STL lets the
 * daily shape drift, and the latest shape is the better guess (Taylor backtest: MASE 0.147 → 0.140).
 * Where it wins: smooth series whose shape drifts (electricity demand); on noisy counts with sharp
 * daily edges the profile model wins, and `forecast` chooses between them by holdout.
 */
import { screenGrossOutliers } from './profile-model.js';
import { mstl, stl } from './stl.js';

export interface MstlFit {
  dailySteps: number;
  /** 0 without a weekly component. */
  weeklySteps: number;
  /** Seasonal over the last day (daily) and the last week (weekly), each ending at the history end. */
  lastDaily: Float64Array;
  lastWeekly: Float64Array;
  /** SES smoothing constant fitted on the adjusted series, and the level at the history end. */
  alpha: number;
  level: number;
}

/**
 * Gaps and gross outliers replaced by linear interpolation between their known neighbours: STL has
 * no weights in its non-robust form, and the robust form costs 15 refits.
 */
function cleaned(y: Float64Array, period: number): Float64Array | null {
  const n = y.length;
  const keep = new Float64Array(n);
  screenGrossOutliers(y, keep, period);
  const out = new Float64Array(n);
  let prev = -1;
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(y[i]) || (keep[i] as number) <= 0) continue;
    out[i] = y[i] as number;
    if (prev < 0) out.fill(y[i] as number, 0, i);
    else if (prev < i - 1) {
      const a = y[prev] as number;
      const slope = ((y[i] as number) - a) / (i - prev);
      for (let j = prev + 1; j < i; j++) out[j] = a + slope * (j - prev);
    }
    prev = i;
  }
  if (prev < 0) return null;
  out.fill(y[prev] as number, prev + 1);
  return out;
}

/** Alpha values tried (log-spaced, as a one-dimensional optimiser would visit them, plus 1). */
const ALPHAS = Array.from({ length: 30 }, (_, k) => Math.min(1, 0.01 * 1.18 ** k)).concat([1]);

/** SES by least one-step squared error, the criterion ETS(A,N,N) maximises. */
function fitLevel(x: Float64Array): { alpha: number; level: number } {
  let best = { alpha: 1, sse: Infinity, level: x[x.length - 1] as number };
  for (const alpha of ALPHAS) {
    let l = x[0] as number;
    let sse = 0;
    for (let i = 1; i < x.length; i++) {
      const e = (x[i] as number) - l;
      sse += e * e;
      l += alpha * e;
    }
    if (sse < best.sse) best = { alpha, sse, level: l };
  }
  return best;
}

/**
 * Null when the history is too short for even the daily period (two days) or has no values.
 * `withWeekly`: fit the weekly period too when there are more than two weeks of history.
 */
export function fitMstl(values: Float64Array, dailySteps: number, withWeekly = true): MstlFit | null {
  const n = values.length;
  const m = dailySteps;
  if (m < 2 || n <= 2 * m) return null;
  const y = cleaned(values, m);
  if (y === null) return null;
  const W = withWeekly && n > 14 * m ? 7 * m : 0;
  const d = mstl(y, W > 0 ? [m, W] : [m]);
  const daily = d.seasonals[0] as Float64Array;
  const weekly = W > 0 ? (d.seasonals[1] as Float64Array) : new Float64Array(n);
  const adjusted = new Float64Array(n);
  for (let i = 0; i < n; i++) adjusted[i] = (y[i] as number) - (daily[i] as number) - (weekly[i] as number);
  const { alpha, level } = fitLevel(adjusted);
  return { dailySteps: m, weeklySteps: W, lastDaily: daily.slice(n - m), lastWeekly: W > 0 ? weekly.slice(n - W) : new Float64Array(0), alpha, level };
}

/** Seasonal part of the forecast for `steps` steps after the history (no level, not clipped). */
export function mstlSeasonal(fit: MstlFit, steps: number): Float64Array {
  const out = new Float64Array(steps);
  for (let h = 0; h < steps; h++) {
    const weekly = fit.weeklySteps > 0 ? (fit.lastWeekly[h % fit.weeklySteps] as number) : 0;
    out[h] = (fit.lastDaily[h % fit.dailySteps] as number) + weekly;
  }
  return out;
}

/** Mean forecast, clipped at 0 (write counts). */
export function mstlMean(fit: MstlFit, horizonSteps: number): Float64Array {
  const mean = mstlSeasonal(fit, horizonSteps);
  for (let h = 0; h < horizonSteps; h++) mean[h] = Math.max(0, fit.level + (mean[h] as number));
  return mean;
}

/**
 * The fit rolled to a later origin: the history now ends `end` (> the fit's end) and
 * tail = values[end - tail.length, end). Re-estimates what drifts fastest, the daily component
 * and the level, by one STL of the daily period on the recent tail with the weekly component held
 * at the fit's last week; the weekly component (slow, 15 weeks of smoothing) is kept. About a
 * twelfth of a full fit's cost.
 */
export function refitMstlDaily(fit: MstlFit, tail: Float64Array, stepsSinceFit: number): MstlFit | null {
  const m = fit.dailySteps;
  const W = fit.weeklySteps;
  const n = tail.length;
  if (n <= 2 * m) return null;
  const y = cleaned(tail, m);
  if (y === null) return null;
  // tail[i] sits at (stepsSinceFit - n + i) steps after the fit's end.
  const weeklyAt = (i: number): number => (W > 0 ? (fit.lastWeekly[(((stepsSinceFit - n + i) % W) + W) % W] as number) : 0);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = (y[i] as number) - weeklyAt(i);
  const d = stl(x, { period: m, seasonalWindow: 11 });
  const adjusted = new Float64Array(n);
  for (let i = 0; i < n; i++) adjusted[i] = (x[i] as number) - (d.seasonal[i] as number);
  const { alpha, level } = fitLevel(adjusted);
  // lastWeekly re-phased so that it again starts at the new end.
  const lastWeekly = new Float64Array(W);
  for (let j = 0; j < W; j++) lastWeekly[j] = fit.lastWeekly[(stepsSinceFit + j) % W] as number;
  return { dailySteps: m, weeklySteps: W, lastDaily: d.seasonal.slice(n - m), lastWeekly, alpha, level };
}
