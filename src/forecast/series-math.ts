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
  let count = 0;
  const finite = new Float64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    if (Number.isFinite(v)) finite[count++] = v;
  }
  if (count === 0) return NaN;
  const pos = Math.min(Math.max(q, 0), 1) * (count - 1);
  const lo = Math.floor(pos);
  // Selection, not sorting: this runs on every fit (bisquare median, error quantiles), O(n) matters.
  const a = selectInPlace(finite, count, lo);
  if (pos === lo) return a;
  let b = Infinity;
  for (let i = lo + 1; i < count; i++) b = Math.min(b, finite[i] as number);
  return a + (b - a) * (pos - lo);
}

/**
 * The k-th smallest of values[0..count) (Hoare's selection); reorders them so that everything
 * after position k is >= it.
 */
function selectInPlace(values: Float64Array, count: number, k: number): number {
  let left = 0;
  let right = count - 1;
  while (left < right) {
    const pivot = values[(left + right) >> 1] as number;
    let i = left;
    let j = right;
    while (i <= j) {
      while ((values[i] as number) < pivot) i++;
      while ((values[j] as number) > pivot) j--;
      if (i <= j) {
        const t = values[i] as number;
        values[i] = values[j] as number;
        values[j] = t;
        i++;
        j--;
      }
    }
    if (k <= j) right = j;
    else if (k >= i) left = i;
    else break;
  }
  return values[k] as number;
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
