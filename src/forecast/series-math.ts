/** Small numeric helpers over Float64Array series. NaN marks a gap everywhere in this folder. */

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

/** Steps in one period of `periodMs`, or 0 when the step does not divide the period evenly. */
export function stepsPer(periodMs: number, stepMs: number): number {
  const steps = periodMs / stepMs;
  return Number.isInteger(steps) && steps >= 1 ? steps : 0;
}

export function finiteMean(values: ArrayLike<number>, from = 0, to = values.length): number {
  let sum = 0;
  let count = 0;
  for (let i = Math.max(0, from); i < Math.min(to, values.length); i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) {
      sum += v;
      count += 1;
    }
  }
  return count > 0 ? sum / count : NaN;
}

export function countFinite(values: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < values.length; i++) if (Number.isFinite(values[i])) count += 1;
  return count;
}

/** Quantile (linear interpolation, type 7) of the finite values; NaN when there are none. */
export function quantile(values: ArrayLike<number>, q: number): number {
  const sorted: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) sorted.push(v);
  }
  if (sorted.length === 0) return NaN;
  sorted.sort((a, b) => a - b);
  const pos = Math.min(Math.max(q, 0), 1) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  const a = sorted[lo] as number;
  const b = sorted[hi] as number;
  return a + (b - a) * (pos - lo);
}

export function median(values: ArrayLike<number>): number {
  return quantile(values, 0.5);
}

/** Sums of every run of `k` consecutive values (a sliding window), NaN counted as 0. */
export function windowSums(values: ArrayLike<number>, k: number): Float64Array {
  const n = values.length;
  if (k < 1 || k > n) return new Float64Array(0);
  const out = new Float64Array(n - k + 1);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const v = values[i] as number;
    sum += Number.isFinite(v) ? v : 0;
    if (i >= k) {
      const old = values[i - k] as number;
      sum -= Number.isFinite(old) ? old : 0;
    }
    if (i >= k - 1) out[i - k + 1] = sum;
  }
  return out;
}

/** Index of the smallest value (the first one on ties). */
export function argMin(values: ArrayLike<number>): number {
  let best = -1;
  let bestValue = Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (v < bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}
