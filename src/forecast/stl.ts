/**
 * STL (Cleveland, Cleveland, McRae & Terpenning 1990): seasonal-trend decomposition by loess, a
 * port of the reference Fortran (netlib `stl`, which R's stats::stl runs), and MSTL on top of it
 * (Bandara, Hyndman & Bergmeir 2021, as R forecast::mstl does it) for several periods.
 *
 * Why a port rather than a variant: the backtest references (R stlf, mstl + ARIMA) run exactly this
 * algorithm, so matching its defaults (window lengths, jumps, degrees) is what lets the figures
 * compare. Loess here is on integer positions, so everything works on Float64Array work buffers.
 */

export interface StlOptions {
  period: number;
  /** Seasonal smoothing span in periods (odd, >= 3): how fast the seasonal shape may change. */
  seasonalWindow: number;
  /** Trend span in steps; R's default when omitted. */
  trendWindow?: number;
  /** Low-pass span in steps; the next odd number above the period when omitted. */
  lowPassWindow?: number;
  seasonalDegree?: 0 | 1;
  trendDegree?: 0 | 1;
  innerIterations?: number;
  /** Robustness iterations (bisquare weights); 0 = not robust, R's default. */
  outerIterations?: number;
}

export interface StlResult {
  seasonal: Float64Array;
  trend: Float64Array;
  /** Robustness weights of the last outer iteration (all 1 when not robust). */
  weights: Float64Array;
}

function nextOdd(x: number): number {
  const r = Math.round(x);
  return r % 2 === 0 ? r + 1 : r;
}

/**
 * Tricube weights of windows fitted without robustness weights, kept by the window's shape (its
 * ends relative to xs, and h): away from the series ends every fit of one smooth has the same
 * shape, and the cycle-subseries of a long period (a weekly one has 7 or 8 points per slot) repeat
 * the same few shapes slot after slot, so the weights and their moments are computed once rather
 * than per fit. Direct-mapped: a shape evicts whichever shared its slot. Module scratch is safe:
 * JavaScript is single-threaded and loess does not re-enter itself.
 */
interface TricubeEntry {
  left: number;
  right: number;
  h: number;
  /** Weights cover positions xs + first .. xs + first + count − 1. */
  first: number;
  count: number;
  w: Float64Array;
  wd: Float64Array;
  s0: number;
  s1: number;
  s2: number;
}
const TRICUBE_SLOTS = 32;
const tricubes: TricubeEntry[] = Array.from({ length: TRICUBE_SLOTS }, () => ({ left: NaN, right: NaN, h: NaN, first: 0, count: 0, w: new Float64Array(64), wd: new Float64Array(64), s0: 0, s1: 0, s2: 0 }));

/**
 * Local weighted fit (tricube weights, degree 0 or 1) of y[nleft..nright] (1-based positions, as in
 * the Fortran stlest) at position xs; NaN when every weight is 0. One pass with running sums rather
 * than the Fortran's normalise-then-adjust passes over a weight buffer: the same value, and this is
 * where STL spends nearly all its time.
 */
function loessAt(y: Float64Array, yOffset: number, n: number, len: number, degree: number, xs: number, nleft: number, nright: number, rw: Float64Array | null, rwOffset: number, rwStride: number): number {
  const range = n - 1;
  let h = Math.max(xs - nleft, nright - xs);
  if (len > n) h += Math.floor((len - n) / 2);
  const h9 = 0.999 * h;
  const h1 = 0.001 * h;
  const invH = h > 0 ? 1 / h : 0;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let sy = 0;
  let sjy = 0;
  if (rw === null) {
    // The positions with a positive weight are a contiguous run around xs; cache their weights
    // (and weight × offset) by the window's shape. Same sums in the same order as below.
    const left = nleft - xs;
    const right = nright - xs;
    const t = tricubes[((left * 7 + right * 3 + h) >>> 0) % TRICUBE_SLOTS] as TricubeEntry;
    if (t.left !== left || t.right !== right || t.h !== h) {
      const size = nright - nleft + 1;
      if (t.w.length < size) {
        t.w = new Float64Array(2 * size);
        t.wd = new Float64Array(2 * size);
      }
      t.left = left;
      t.right = right;
      t.h = h;
      t.first = 0;
      t.s0 = 0;
      t.s1 = 0;
      t.s2 = 0;
      let k = 0;
      for (let j = nleft; j <= nright; j++) {
        const r = j > xs ? j - xs : xs - j;
        if (r > h9) continue;
        if (k === 0) t.first = j - xs;
        let wj: number;
        if (r <= h1) wj = 1;
        else {
          const u = r * invH;
          const v = 1 - u * u * u;
          wj = v * v * v;
        }
        const d = j - xs;
        t.w[k] = wj;
        t.wd[k] = wj * d;
        k += 1;
        t.s0 += wj;
        t.s1 += wj * d;
        t.s2 += wj * d * d;
      }
      t.count = k;
    }
    s0 = t.s0;
    s1 = t.s1;
    s2 = t.s2;
    const w = t.w;
    const wd = t.wd;
    const count = t.count;
    const base = yOffset + xs + t.first - 1;
    if (degree === 0) {
      for (let k = 0; k < count; k++) sy += (w[k] as number) * (y[base + k] as number);
    } else {
      for (let k = 0; k < count; k++) {
        const yj = y[base + k] as number;
        sy += (w[k] as number) * yj;
        sjy += (wd[k] as number) * yj;
      }
    }
  } else {
    for (let j = nleft; j <= nright; j++) {
      const r = j > xs ? j - xs : xs - j;
      if (r > h9) continue;
      let wj: number;
      if (r <= h1) wj = 1;
      else {
        const u = r * invH;
        const v = 1 - u * u * u;
        wj = v * v * v;
      }
      wj *= rw[rwOffset + (j - 1) * rwStride] as number;
      const yj = y[yOffset + j - 1] as number;
      // Positions relative to xs keep the sums well conditioned.
      const d = j - xs;
      s0 += wj;
      s1 += wj * d;
      s2 += wj * d * d;
      sy += wj * yj;
      sjy += wj * d * yj;
    }
  }
  if (!(s0 > 0)) return NaN;
  const meanY = sy / s0;
  if (h > 0 && degree > 0) {
    const meanD = s1 / s0;
    const c = s2 / s0 - meanD * meanD;
    if (Math.sqrt(c) > 0.001 * range) {
      // Fortran: w_j ← w_j (1 + b (j − ȷ̄)) with b = (xs − ȷ̄) / c; in offsets from xs, xs − ȷ̄ = −meanD.
      const b = -meanD / c;
      return meanY + b * (sjy / s0 - meanD * meanY);
    }
  }
  return meanY;
}
/**
 * Loess smooth of y (n values from `yOffset`, stride 1 in `y`, robustness weights at
 * rw[rwOffset + i*rwStride]) into out[outOffset + i*outStride], fitting every `jump`-th point and
 * interpolating linearly in between (the STL speed-up).
 */
function loess(y: Float64Array, yOffset: number, n: number, len: number, degree: number, jump: number, rw: Float64Array | null, rwOffset: number, rwStride: number, out: Float64Array, outOffset: number, outStride: number): void {
  // No closures in here: this runs thousands of times per fit, and a closure per call (plus the
  // name wrapper tsx adds to each) cost a quarter of the STL time.
  if (n < 2) {
    out[outOffset] = y[yOffset] as number;
    return;
  }
  const step = Math.min(jump, n - 1);
  let nleft = 1;
  let nright = n;
  if (len >= n) {
    nleft = 1;
    nright = n;
    for (let i = 1; i <= n; i += step) loessInto(y, yOffset, n, len, degree, i, nleft, nright, rw, rwOffset, rwStride, out, outOffset + (i - 1) * outStride);
  } else if (step === 1) {
    const half = (len + 1) >> 1;
    nleft = 1;
    nright = len;
    for (let i = 1; i <= n; i++) {
      if (i > half && nright !== n) {
        nleft += 1;
        nright += 1;
      }
      loessInto(y, yOffset, n, len, degree, i, nleft, nright, rw, rwOffset, rwStride, out, outOffset + (i - 1) * outStride);
    }
  } else {
    const half = (len + 1) >> 1;
    for (let i = 1; i <= n; i += step) {
      if (i < half) {
        nleft = 1;
        nright = len;
      } else if (i >= n - half + 1) {
        nleft = n - len + 1;
        nright = n;
      } else {
        nleft = i - half + 1;
        nright = len + i - half;
      }
      loessInto(y, yOffset, n, len, degree, i, nleft, nright, rw, rwOffset, rwStride, out, outOffset + (i - 1) * outStride);
    }
  }
  if (step !== 1) {
    for (let i = 1; i <= n - step; i += step) {
      const a = out[outOffset + (i - 1) * outStride] as number;
      const delta = ((out[outOffset + (i + step - 1) * outStride] as number) - a) / step;
      for (let j = i + 1; j < i + step; j++) out[outOffset + (j - 1) * outStride] = a + delta * (j - i);
    }
    const k = Math.floor((n - 1) / step) * step + 1;
    if (k !== n) {
      loessInto(y, yOffset, n, len, degree, n, nleft, nright, rw, rwOffset, rwStride, out, outOffset + (n - 1) * outStride);
      if (k !== n - 1) {
        const a = out[outOffset + (k - 1) * outStride] as number;
        const delta = ((out[outOffset + (n - 1) * outStride] as number) - a) / (n - k);
        for (let j = k + 1; j < n; j++) out[outOffset + (j - 1) * outStride] = a + delta * (j - k);
      }
    }
  }
}

/** One loess fit at position i written to out[at]; y[i] itself where every weight is 0 (stless). */
function loessInto(y: Float64Array, yOffset: number, n: number, len: number, degree: number, i: number, nleft: number, nright: number, rw: Float64Array | null, rwOffset: number, rwStride: number, out: Float64Array, at: number): void {
  const v = loessAt(y, yOffset, n, len, degree, i, nleft, nright, rw, rwOffset, rwStride);
  out[at] = Number.isNaN(v) ? (y[yOffset + i - 1] as number) : v;
}

/** Moving average of width `len` over x[0..n) into out[0..n-len+1). */
function movingAverage(x: Float64Array, n: number, len: number, out: Float64Array): void {
  let sum = 0;
  for (let i = 0; i < len; i++) sum += x[i] as number;
  out[0] = sum / len;
  for (let i = len, k = 1; i < n; i++, k++) {
    sum += (x[i] as number) - (x[i - len] as number);
    out[k] = sum / len;
  }
}

/**
 * Decompose y (no gaps: fill them first) into seasonal + trend + remainder. Defaults are R's
 * stats::stl: not robust (2 inner iterations), degree 0 seasonal, degree 1 trend and low-pass,
 * jumps of a tenth of each window.
 */
export function stl(y: Float64Array, opts: StlOptions): StlResult {
  const n = y.length;
  const np = Math.max(2, opts.period);
  const ns = Math.max(3, nextOdd(opts.seasonalWindow));
  const isdeg = opts.seasonalDegree ?? 0;
  const itdeg = opts.trendDegree ?? 1;
  const nt = Math.max(3, nextOdd(opts.trendWindow ?? Math.ceil((1.5 * np) / (1 - 1.5 / ns))));
  const nl = Math.max(3, nextOdd(opts.lowPassWindow ?? np));
  const nsjump = Math.ceil(ns / 10);
  const ntjump = Math.ceil(nt / 10);
  const nljump = Math.ceil(nl / 10);
  const outer = opts.outerIterations ?? 0;
  const inner = opts.innerIterations ?? (outer > 0 ? 1 : 2);

  const seasonal = new Float64Array(n);
  const trend = new Float64Array(n);
  const rw = new Float64Array(n).fill(1);
  const detrended = new Float64Array(n);
  // Cycle-subseries smooths, extended by one period at each end.
  const cycle = new Float64Array(n + 2 * np);
  const ma1 = new Float64Array(n + 2 * np);
  const ma2 = new Float64Array(n + 2 * np);
  const lowPass = new Float64Array(n);
  const sub = new Float64Array(Math.ceil(n / np) + 2);
  const subW = new Float64Array(Math.ceil(n / np) + 2);

  let useRw = false;
  for (let k = 0; ; k++) {
    for (let it = 0; it < inner; it++) {
      for (let i = 0; i < n; i++) detrended[i] = (y[i] as number) - (trend[i] as number);
      // Cycle-subseries smoothing: each slot of the period across periods, extrapolated one
      // period back and forward, written into cycle[slot + np*(m)] for m = 0..k+1.
      for (let j = 0; j < np; j++) {
        const kk = Math.floor((n - 1 - j) / np) + 1;
        if (kk < 1) continue;
        for (let i = 0; i < kk; i++) {
          sub[i] = detrended[i * np + j] as number;
          subW[i] = rw[i * np + j] as number;
        }
        const rwArg = useRw ? subW : null;
        // Smooth into cycle at positions j + np*(1..kk).
        loess(sub, 0, kk, ns, isdeg, nsjump, rwArg, 0, 1, cycle, j + np, np);
        const nright = Math.min(ns, kk);
        const before = loessAt(sub, 0, kk, ns, isdeg, 0, 1, nright, rwArg, 0, 1);
        cycle[j] = Number.isNaN(before) ? (cycle[j + np] as number) : before;
        const nleft = Math.max(1, kk - ns + 1);
        const after = loessAt(sub, 0, kk, ns, isdeg, kk + 1, nleft, kk, rwArg, 0, 1);
        cycle[j + (kk + 1) * np] = Number.isNaN(after) ? (cycle[j + kk * np] as number) : after;
      }
      // Low-pass of the cycle smooths: moving averages np, np, 3, then loess.
      const total = n + 2 * np;
      movingAverage(cycle, total, np, ma1);
      movingAverage(ma1, total - np + 1, np, ma2);
      movingAverage(ma2, total - 2 * np + 2, 3, ma1);
      loess(ma1, 0, n, nl, itdeg, nljump, null, 0, 1, lowPass, 0, 1);
      for (let i = 0; i < n; i++) seasonal[i] = (cycle[np + i] as number) - (lowPass[i] as number);
      for (let i = 0; i < n; i++) detrended[i] = (y[i] as number) - (seasonal[i] as number);
      loess(detrended, 0, n, nt, itdeg, ntjump, useRw ? rw : null, 0, 1, trend, 0, 1);
    }
    if (k >= outer) break;
    robustnessWeights(y, seasonal, trend, rw);
    useRw = true;
  }
  return { seasonal, trend, weights: rw };
}

/** Bisquare weights at 6 × the median absolute remainder (stlrwt). */
function robustnessWeights(y: Float64Array, seasonal: Float64Array, trend: Float64Array, rw: Float64Array): void {
  const n = y.length;
  const r = new Float64Array(n);
  for (let i = 0; i < n; i++) r[i] = Math.abs((y[i] as number) - (seasonal[i] as number) - (trend[i] as number));
  const sorted = Float64Array.from(r).sort();
  const mid1 = sorted[Math.floor((n - 1) / 2)] as number;
  const mid2 = sorted[Math.floor(n / 2)] as number;
  const cmad = 3 * (mid1 + mid2);
  for (let i = 0; i < n; i++) {
    const v = r[i] as number;
    if (v <= 0.001 * cmad) rw[i] = 1;
    else if (v <= 0.999 * cmad) rw[i] = (1 - (v / cmad) ** 2) ** 2;
    else rw[i] = 0;
  }
}

export interface MstlResult {
  periods: number[];
  /** One seasonal component per period, in the order of `periods`. */
  seasonals: Float64Array[];
  trend: Float64Array;
  remainder: Float64Array;
}

/**
 * MSTL: STL for each period in turn (shortest first), each on the series with the other seasonal
 * components removed, `iterations` rounds. Seasonal windows default to R's 7 + 4·i (11, 15, ...).
 * Periods that do not fit twice into the series are dropped, as R does.
 */
export function mstl(y: Float64Array, periods: number[], opts: { iterations?: number; seasonalWindows?: number[]; outerIterations?: number } = {}): MstlResult {
  const n = y.length;
  const kept = periods.filter((p) => p >= 2 && p < n / 2).sort((a, b) => a - b);
  const seasonals = kept.map(() => new Float64Array(n));
  const deseasonalised = Float64Array.from(y);
  let trend: Float64Array = new Float64Array(n);
  if (kept.length === 0) {
    // No seasonality: the trend is a loess smooth (R uses supsmu; a loess of a tenth keeps it simple).
    const len = nextOdd(Math.max(3, n / 10));
    loess(deseasonalised, 0, n, len, 1, Math.ceil(len / 10), null, 0, 1, trend, 0, 1);
  }
  const iterations = opts.iterations ?? 2;
  for (let it = 0; it < iterations && kept.length > 0; it++) {
    kept.forEach((period, k) => {
      const s = seasonals[k] as Float64Array;
      for (let i = 0; i < n; i++) deseasonalised[i] = (deseasonalised[i] as number) + (s[i] as number);
      const outerIterations = opts.outerIterations ?? 0;
      const fit = stl(deseasonalised, { period, seasonalWindow: opts.seasonalWindows?.[k] ?? 7 + 4 * (k + 1), outerIterations });
      s.set(fit.seasonal);
      for (let i = 0; i < n; i++) deseasonalised[i] = (deseasonalised[i] as number) - (s[i] as number);
      trend = fit.trend;
    });
  }
  const remainder = new Float64Array(n);
  for (let i = 0; i < n; i++) remainder[i] = (deseasonalised[i] as number) - (trend[i] as number);
  return { periods: kept, seasonals, trend, remainder };
}
