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
  /** The daily component over the whole fitted history: where rollMstl's weekly re-estimate starts. */
  daily: Float64Array;
}

/**
 * Gaps and gross outliers replaced by linear interpolation between their known neighbours: STL has
 * no weights in its non-robust form, and the robust form costs 15 refits.
 */
function cleaned(y: Float64Array, period: number, mask?: Float64Array): Float64Array | null {
  const n = y.length;
  let keep = mask;
  if (keep === undefined) screenGrossOutliers(y, (keep = new Float64Array(n)), period);
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
 * `keep`: the caller's gross-outlier mask (0 = treat as a gap); screened here without it.
 */
export function fitMstl(values: Float64Array, dailySteps: number, withWeekly = true, keep?: Float64Array): MstlFit | null {
  const n = values.length;
  const m = dailySteps;
  if (m < 2 || n <= 2 * m) return null;
  const y = cleaned(values, m, keep);
  if (y === null) return null;
  const W = withWeekly && n > 14 * m ? 7 * m : 0;
  const d = mstl(y, W > 0 ? [m, W] : [m]);
  const daily = d.seasonals[0] as Float64Array;
  const weekly = W > 0 ? (d.seasonals[1] as Float64Array) : new Float64Array(n);
  const adjusted = new Float64Array(n);
  for (let i = 0; i < n; i++) adjusted[i] = (y[i] as number) - (daily[i] as number) - (weekly[i] as number);
  const { alpha, level } = fitLevel(adjusted);
  return { dailySteps: m, weeklySteps: W, lastDaily: daily.slice(n - m), lastWeekly: W > 0 ? weekly.slice(n - W) : new Float64Array(0), alpha, level, daily };
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
 * The fit rolled to a later origin without a full refit: `span` is the fit's history plus the
 * `stepsSinceFit` steps after it (keep: its outlier mask). What drifts fastest is re-estimated, in
 * MSTL's own order and with its windows: the weekly component by one STL pass over the span with
 * the fit's daily component taken out (extended by its last day), then the daily component and the
 * SES level by one STL of the daily period on the last `tailDays` days with that weekly component
 * taken out. About a third of a full fit's cost (a full fit runs both periods twice, two inner
 * passes each), and on the backtest series as accurate a day ahead as one.
 */
export function rollMstl(fit: MstlFit, span: Float64Array, stepsSinceFit: number, tailDays: number, keep?: Float64Array): MstlFit | null {
  const m = fit.dailySteps;
  const W = fit.weeklySteps;
  const n = span.length;
  const fitted = fit.daily.length;
  if (stepsSinceFit < 0 || n !== fitted + stepsSinceFit) throw new RangeError(`span of ${n} steps is not the fit's ${fitted} plus ${stepsSinceFit}`);
  const y = cleaned(span, m, keep);
  if (y === null) return null;
  // The fit's daily component, extended by its last day over the new steps.
  const daily = new Float64Array(n);
  daily.set(fit.daily);
  for (let i = fitted; i < n; i++) daily[i] = fit.lastDaily[(i - fitted) % m] as number;
  let weekly: Float64Array = new Float64Array(n);
  if (W > 0) {
    const x = new Float64Array(n);
    for (let i = 0; i < n; i++) x[i] = (y[i] as number) - (daily[i] as number);
    weekly = stl(x, { period: W, seasonalWindow: 15, innerIterations: 1 }).seasonal;
  }
  const from = Math.max(0, n - tailDays * m);
  const t = n - from;
  if (t <= 2 * m) return null;
  const x = new Float64Array(t);
  for (let i = 0; i < t; i++) x[i] = (y[from + i] as number) - (weekly[from + i] as number);
  const recent = stl(x, { period: m, seasonalWindow: 11 }).seasonal;
  const adjusted = new Float64Array(t);
  for (let i = 0; i < t; i++) adjusted[i] = (x[i] as number) - (recent[i] as number);
  const { alpha, level } = fitLevel(adjusted);
  daily.set(recent, from);
  return { dailySteps: m, weeklySteps: W, lastDaily: recent.slice(t - m), lastWeekly: W > 0 ? weekly.slice(n - W) : new Float64Array(0), alpha, level, daily };
}
