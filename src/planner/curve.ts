/**
 * Integrals of a per-step rate curve over arbitrary [a, b) spans in O(1): the planner asks for
 * "writes inside this 120 ms window" or "load during this 40 min dump" millions of times.
 */

export interface StepCurve {
  startMs: number;
  stepMs: number;
  /** Amount per step (writes per step). */
  values: ArrayLike<number>;
}

export class Cumulative {
  readonly startMs: number;
  readonly stepMs: number;
  readonly endMs: number;
  /** prefix[i] = sum of values[0..i); non-finite values count as 0 (a gap predicts nothing). */
  private readonly prefix: Float64Array;

  constructor(curve: StepCurve) {
    this.startMs = curve.startMs;
    this.stepMs = curve.stepMs;
    const n = curve.values.length;
    this.endMs = curve.startMs + n * curve.stepMs;
    this.prefix = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) {
      const v = curve.values[i] as number;
      this.prefix[i + 1] = (this.prefix[i] as number) + (Number.isFinite(v) && v > 0 ? v : 0);
    }
  }

  /** Amount from the curve's start up to t; the rate is uniform inside a step, zero outside the curve. */
  at(t: number): number {
    const x = (t - this.startMs) / this.stepMs;
    const n = this.prefix.length - 1;
    if (x <= 0) return 0;
    if (x >= n) return this.prefix[n] as number;
    const i = Math.floor(x);
    const lo = this.prefix[i] as number;
    return lo + ((this.prefix[i + 1] as number) - lo) * (x - i);
  }

  /** Amount inside [a, b). */
  between(a: number, b: number): number {
    return b > a ? this.at(b) - this.at(a) : 0;
  }

  covers(a: number, b: number): boolean {
    return a >= this.startMs && b <= this.endMs;
  }
}

/** Sum several curves onto one grid (e.g. all partitions of a server into the server's load). */
export function sumOnGrid(curves: readonly Cumulative[], startMs: number, stepMs: number, steps: number): Cumulative {
  const values = new Float64Array(steps);
  for (const c of curves) {
    let prev = c.at(startMs);
    for (let i = 0; i < steps; i++) {
      const next = c.at(startMs + (i + 1) * stepMs);
      values[i] = (values[i] as number) + next - prev;
      prev = next;
    }
  }
  return new Cumulative({ startMs, stepMs, values });
}
