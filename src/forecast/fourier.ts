/**
 * Fourier-terms regression: daily and weekly harmonics by least squares on the recent weeks, as
 * in R's `fourier()` + regression (without the ARIMA errors, whose gain a day ahead is small and
 * whose fit costs seconds). The level comes from the last day's deseasonalised mean, like the
 * profile model's, so a shift of the level is followed at once. A candidate of the combination.
 */
import { solve, Matrix } from 'ml-matrix';
import { DAY_MS, WEEK_MS } from './series-math.js';

/** 1970-01-05 was a Monday: the weekly phase counts from Monday 00:00. */
const MONDAY_MS = 4 * DAY_MS;

export interface FourierOptions {
  dailyHarmonics: number;
  weeklyHarmonics: number;
  /** Recent days the regression is fitted on. */
  fitDays: number;
}

export const DEFAULT_FOURIER_OPTIONS: FourierOptions = { dailyHarmonics: 8, weeklyHarmonics: 4, fitDays: 21 };

export interface FourierFit {
  startMs: number;
  stepMs: number;
  /** Coefficients of the harmonics (no intercept). */
  coef: Float64Array;
  dailyHarmonics: number;
  weeklyHarmonics: number;
}

/** Harmonics k = 1..count of angle a into out[at..], by the angle-addition recurrence (two trig calls). */
function harmonics(a: number, count: number, out: Float64Array, at: number): number {
  const s1 = Math.sin(a);
  const c1 = Math.cos(a);
  let s = s1;
  let c = c1;
  let j = at;
  for (let k = 1; k <= count; k++) {
    out[j++] = s;
    out[j++] = c;
    const next = s * c1 + c * s1;
    c = c * c1 - s * s1;
    s = next;
  }
  return j;
}

function features(ms: number, dailyH: number, weeklyH: number, out: Float64Array): void {
  const d = (2 * Math.PI * (((ms % DAY_MS) + DAY_MS) % DAY_MS)) / DAY_MS;
  const w = (2 * Math.PI * ((((ms - MONDAY_MS) % WEEK_MS) + WEEK_MS) % WEEK_MS)) / WEEK_MS;
  harmonics(w, weeklyH, out, harmonics(d, dailyH, out, 0));
}

/** Fit on values (step 0 at startMs); null without enough known values for the terms. */
export function fitFourier(values: Float64Array, startMs: number, stepMs: number, opts: FourierOptions = DEFAULT_FOURIER_OPTIONS): FourierFit | null {
  const m = Math.round(DAY_MS / stepMs);
  const dailyH = Math.max(1, Math.min(opts.dailyHarmonics, Math.floor((m - 1) / 2)));
  const weeklyH = values.length >= 14 * m ? opts.weeklyHarmonics : 0;
  const p = 2 * (dailyH + weeklyH) + 1;
  const from = Math.max(0, values.length - opts.fitDays * m);
  const xtx = new Float64Array(p * p);
  const xty = new Float64Array(p);
  const x = new Float64Array(p);
  let known = 0;
  for (let i = from; i < values.length; i++) {
    const y = values[i] as number;
    if (!Number.isFinite(y)) continue;
    known += 1;
    features(startMs + i * stepMs, dailyH, weeklyH, x);
    x[p - 1] = 1;
    for (let a = 0; a < p; a++) {
      const xa = x[a] as number;
      xty[a] = (xty[a] as number) + xa * y;
      for (let b = a; b < p; b++) xtx[a * p + b] = (xtx[a * p + b] as number) + xa * (x[b] as number);
    }
  }
  if (known < 2 * p) return null;
  const rows: number[][] = [];
  for (let a = 0; a < p; a++) {
    const row: number[] = [];
    // A tiny ridge keeps the system solvable when a harmonic is aliased by gaps.
    for (let b = 0; b < p; b++) row.push((a <= b ? (xtx[a * p + b] as number) : (xtx[b * p + a] as number)) + (a === b ? 1e-9 * known : 0));
    rows.push(row);
  }
  const beta = solve(new Matrix(rows), Matrix.columnVector(Array.from(xty))).to1DArray();
  return { startMs, stepMs, coef: Float64Array.from(beta.slice(0, p - 1)), dailyHarmonics: dailyH, weeklyHarmonics: weeklyH };
}

/** The harmonic part at steps [from, to) of the fit's grid (no level). */
export function fourierSeasonal(fit: FourierFit, from: number, to: number): Float64Array {
  const p = fit.coef.length;
  const x = new Float64Array(p);
  const out = new Float64Array(Math.max(0, to - from));
  for (let i = from; i < to; i++) {
    features(fit.startMs + i * fit.stepMs, fit.dailyHarmonics, fit.weeklyHarmonics, x);
    let s = 0;
    for (let j = 0; j < p; j++) s += (x[j] as number) * (fit.coef[j] as number);
    out[i - from] = s;
  }
  return out;
}
