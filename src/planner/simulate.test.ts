import { describe, expect, it } from 'vitest';
import type { Forecast, ForecastOptions, Series } from '../forecast/types.js';
import { parseInterval } from './interval.js';
import { DEFAULT_SIMULATE_OPTIONS, alignSeries, simulate } from './simulate.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Daily curve: 100 writes/hour, except 10 at 04:00 (a trough the interval 01:00-07:00 contains). */
function daily(days: number, startMs = 0): Series {
  const values = new Float64Array(days * 24);
  for (let i = 0; i < values.length; i++) values[i] = i % 24 === 4 ? 10 : 100;
  return { startMs, stepMs: HOUR, values };
}

/** Seasonal naive on the day: exact for a series that repeats daily. */
function naive(history: Series, opts: ForecastOptions): Forecast {
  const n = history.values.length;
  const mean = Float64Array.from({ length: opts.horizonSteps }, (_, h) => history.values[n - 24 + (h % 24)] as number);
  return { startMs: history.startMs + n * history.stepMs, stepMs: history.stepMs, mean, upper: mean, model: 'naive' };
}

const opts = { ...DEFAULT_SIMULATE_OPTIONS, interval: parseInterval('01:00-07:00'), days: 3, dumpMs: 30 * 60_000, drainMs: 0, pinMs: 360 };

describe('simulate', () => {
  it('scores adaptive, uniform and oracle on what happened', async () => {
    const r = await simulate([{ name: 'a', series: daily(10) }], naive, opts);
    expect(r.days).toBe(3);
    // Adaptive (a perfect forecast here) and oracle hold at 04:00: 10 writes/h for 360 ms, per day.
    expect(r.adaptive.heldWrites).toBeCloseTo(3 * 10 * (360 / HOUR), 12);
    expect(r.oracle.heldWrites).toBeCloseTo(r.adaptive.heldWrites, 12);
    // Uniform holds at 01:00 (100/h); its 30-min dump runs at 100/h, adaptive's at 10/h.
    expect(r.uniform.heldWrites).toBeCloseTo(3 * 100 * (360 / HOUR), 12);
    expect(r.uniform.overlapCost).toBeCloseTo(3 * 50, 9);
    expect(r.adaptive.overlapCost).toBeCloseTo(3 * 5, 9);
    expect(r.adaptive.peakHoldMs).toBe(360);
    expect(r.adaptive.budgetViolations).toBe(0);
  });

  it('counts the budget violations of the uniform window under after-dump', async () => {
    // Two partitions, one slot: uniform holds both until the second dump ends (60 min) > 45 min budget.
    const series = [{ name: 'a', series: daily(10), server: 'x' }, { name: 'b', series: daily(10), server: 'x' }];
    // 15-min candidates keep the MIP (two identical, symmetric partitions) quick.
    const r = await simulate(series, naive, { ...opts, release: 'after-dump', maxConcurrentDumps: 1, maxHoldMs: 45 * 60_000, candidateStepMs: 15 * 60_000 });
    expect(r.uniform.budgetViolations).toBe(3 * 2);
    expect(r.uniform.peakHoldMs).toBe(60 * 60_000 + 360);
    expect(r.adaptive.budgetViolations).toBe(0);
    expect(r.adaptive.missedBackups).toBe(0);
  });

  it('moves series from other years onto one calendar by whole weeks', () => {
    const [a, b] = alignSeries([
      { name: 'a', series: daily(14, Date.UTC(2001, 0, 1)) },
      { name: 'b', series: daily(14, Date.UTC(2000, 5, 5)) },
    ]);
    expect(a!.series.startMs).toBe(Date.UTC(2001, 0, 1));
    expect((b!.series.startMs - Date.UTC(2000, 5, 5)) % (7 * DAY)).toBe(0);
    expect(new Date(b!.series.startMs).getUTCDay()).toBe(new Date(Date.UTC(2000, 5, 5)).getUTCDay());
  });
});
