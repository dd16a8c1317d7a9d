/**
 * Working at a coarser step than the history's: model choice and the costlier models run on
 * hourly (or half-hourly) sums of 5-minute history, and their forecasts are spread back over the
 * fine steps by each step's share of its block in the recent weeks.
 */

/** Days of fine history whose within-block shares spread a block forecast over its steps. */
const SHARE_DAYS = 14;

/** The smallest divisor of the day's steps that brings them to `maxPerDay` or fewer. */
export function blockFactor(m: number, maxPerDay: number): number {
  let factor = 1;
  while (m / factor > maxPerDay || m % factor !== 0) factor += 1;
  return factor;
}

/** `values` summed in blocks of `factor` steps aligned to the end (a leading remainder is dropped). */
export function coarsen(values: Float64Array, factor: number): Float64Array {
  if (factor === 1) return values;
  const blocks = Math.floor(values.length / factor);
  const offset = values.length - blocks * factor;
  const out = new Float64Array(blocks);
  for (let b = 0; b < blocks; b++) {
    let sum = 0;
    let count = 0;
    for (let i = offset + b * factor; i < offset + (b + 1) * factor; i++) {
      const v = values[i] as number;
      if (Number.isFinite(v)) {
        sum += v;
        count += 1;
      }
    }
    // A block more than half missing is a gap; otherwise its missing steps count at its mean.
    out[b] = 2 * count >= factor ? (sum * factor) / count : NaN;
  }
  return out;
}

/**
 * Share of each step of the day in its block (over the last SHARE_DAYS days), indexed by distance
 * from the history end modulo the day, so shares[h % m] applies to forecast step h.
 */
export function blockShares(values: Float64Array, factor: number, m: number): Float64Array {
  const n = values.length;
  const num = new Float64Array(m);
  const den = new Float64Array(m);
  for (let end = n; end - factor >= Math.max(0, n - SHARE_DAYS * m); end -= factor) {
    let sum = 0;
    let complete = true;
    for (let i = end - factor; i < end; i++) {
      const v = values[i] as number;
      if (Number.isFinite(v)) sum += v;
      else complete = false;
    }
    if (!complete) continue;
    for (let i = end - factor; i < end; i++) {
      const slot = (((i - n) % m) + m) % m;
      num[slot] = (num[slot] as number) + (values[i] as number);
      den[slot] = (den[slot] as number) + sum;
    }
  }
  const shares = new Float64Array(m);
  for (let s = 0; s < m; s++) shares[s] = (den[s] as number) > 0 ? (num[s] as number) / (den[s] as number) : 1 / factor;
  return shares;
}

/** A block-level forecast (aligned to the history end) spread over fine steps by the shares. */
export function refine(coarse: Float64Array, factor: number, shares: Float64Array, horizonSteps: number): Float64Array {
  if (factor === 1) return coarse.slice(0, horizonSteps);
  const m = shares.length;
  const out = new Float64Array(horizonSteps);
  for (let h = 0; h < horizonSteps; h++) out[h] = (coarse[Math.floor(h / factor)] as number) * (shares[h % m] as number);
  return out;
}
