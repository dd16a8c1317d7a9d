import { describe, expect, it } from 'vitest';
import { parseInterval } from './interval.js';
import { DEFAULT_LIVE_ADJUST_OPTIONS, farAbove, liveDecision, projectedQueue, shiftWindows } from './live-adjust.js';
import { planHeuristic } from './plan.js';
import { comparePlanScores, ratios } from './render-simulation.js';
import { emptyScore } from './score.js';
import { DEFAULT_SIMULATE_OPTIONS, simulate } from './simulate.js';
import { HOUR_MS, partition, planInput } from './test-helpers.js';
import type { Forecast, ForecastOptions, Series } from '../forecast/types.js';

/** Forecast 100/h except a trough of 10 at 02:00 and a slightly higher one, 12, at 04:00. */
const curve = [100, 100, 10, 100, 12, 100];

function planned(extra: Parameters<typeof planInput>[1] = {}) {
  return planHeuristic(planInput([partition('p', curve, { dumpMs: 10 * 60_000, maxHoldMs: 60_000 })], { candidateStepMs: 5 * 60_000, liveLookbackMs: 10 * 60_000, ...extra }));
}

describe('live adjustment before a planned window', () => {
  it('the plan carries the forecast for the lookback and the later good slots', () => {
    const plan = planned();
    const w = plan.windows[0]!;
    expect(Math.floor(w.startMs / HOUR_MS)).toBe(2);
    // The lookback lies in the 01:00 hour (100/h): 10 minutes of it.
    expect(w.live!.leadMean).toBeCloseTo(100 / 6, 9);
    // Later slots: inside the 02:00 trough, then the 04:00 one (12 <= 1.5 × 10), 30 minutes apart.
    const shifts = w.live!.shifts.map((s) => s.shiftMs);
    expect(shifts.length).toBeGreaterThan(0);
    shifts.forEach((s, i) => expect(s - (shifts[i - 1] ?? 0)).toBeGreaterThanOrEqual(30 * 60_000));
    expect(shifts.some((s) => Math.floor((w.startMs + s) / HOUR_MS) === 4)).toBe(true);
    expect(shifts.some((s) => Math.floor((w.startMs + s) / HOUR_MS) === 3)).toBe(false);
  });

  it('a load spike before the window moves it to the next good slot, within the budget', () => {
    const plan = planned();
    const w = plan.windows[0]!;
    const d = liveDecision(plan.windows, new Map([['p', 500]]));
    expect(d.action).toBe('move');
    if (d.action !== 'move') return;
    expect(d.shiftMs).toBe(w.live!.shifts[0]!.shiftMs);
    expect(d.reason).toContain('p: live writes 500');
    const [moved] = shiftWindows(plan.windows, d.shiftMs);
    expect(moved!.startMs).toBe(w.startMs + d.shiftMs);
    expect(moved!.dumpEndMs - moved!.startMs).toBe(w.dumpEndMs - w.startMs);
    expect(moved!.holdMs).toBe(w.holdMs);
    expect(moved!.holdMs).toBeLessThanOrEqual(60_000);
    expect(moved!.dumpEndMs).toBeLessThanOrEqual(plan.intervalEndMs);
    // The slots after the one it moved to stay, rebased to its new start.
    expect(moved!.live!.shifts.map((s) => s.shiftMs)).toEqual(w.live!.shifts.slice(1).map((s) => s.shiftMs - d.shiftMs));
  });

  it('keeps the window when the live load is near the forecast', () => {
    const plan = planned();
    const lead = plan.windows[0]!.live!.leadUpper;
    expect(liveDecision(plan.windows, new Map([['p', lead * 1.5]])).action).toBe('keep');
    expect(farAbove(plan.windows[0]!.live!, lead * 1.5)).toBe(false);
    // A few writes over a tiny forecast is noise, not a surge.
    expect(farAbove({ ...plan.windows[0]!.live!, leadMean: 0.1, leadUpper: 0.1 }, DEFAULT_LIVE_ADJUST_OPTIONS.minExcessWrites - 1)).toBe(false);
  });

  it('moves a window whose queue would outgrow its budget at the live load, though the load is not far above the forecast', () => {
    // After-dump: a 10-minute hold in the 02:00 trough (10/h), so about 1.7 writes forecast.
    const windowsWith = (maxQueuedRequests: number) =>
      planHeuristic(planInput([partition('p', curve, { dumpMs: 10 * 60_000, maxHoldMs: HOUR_MS, maxQueuedRequests })], { release: 'after-dump', candidateStepMs: 5 * 60_000, liveLookbackMs: 10 * 60_000 })).windows;
    const tight = windowsWith(3);
    const w = tight[0]!;
    expect(Math.floor(w.startMs / HOUR_MS)).toBe(2);
    expect(w.heldWrites).toBeLessThan(3);
    // Twice the forecast over the lookback: not "far above" (3x), but twice the window's
    // forecast queue is over a budget of 3.
    const twice = new Map([['p', 2 * w.live!.leadMean]]);
    expect(farAbove(w.live!, 2 * w.live!.leadMean)).toBe(false);
    expect(projectedQueue(w, 2 * w.live!.leadMean)).toBeCloseTo(2 * w.heldWrites, 9);
    const d = liveDecision(tight, twice);
    expect(d.action).toBe('move');
    expect(d.action === 'move' && d.shiftMs).toBe(w.live!.shifts[0]!.shiftMs);
    // A budget of 5 holds at that load: kept.
    expect(liveDecision(windowsWith(5), twice).action).toBe('keep');
    // Load at the forecast: kept, even right after a busy hour (the forecast expects the drop).
    expect(liveDecision(tight, new Map([['p', w.live!.leadMean]])).action).toBe('keep');
  });

  it('with no later slot: holds when the queue budget holds at the live load, skips with a reason when it would overflow', () => {
    const plan = planHeuristic(planInput([partition('p', curve, { dumpMs: 10 * 60_000, maxHoldMs: HOUR_MS, maxQueuedRequests: 1_000 })], { release: 'after-dump', candidateStepMs: 5 * 60_000, liveLookbackMs: 10 * 60_000 }));
    const stuck = plan.windows.map((w) => ({ ...w, live: { ...w.live!, shifts: [] } }));
    const w = stuck[0]!;
    // 30 times the forecast: far above, but 30 x ~1.7 writes fit in 1,000.
    const surge = 30 * w.live!.leadMean;
    expect(liveDecision(stuck, new Map([['p', surge]])).action).toBe('keep');
    const small = stuck.map((x) => ({ ...x, live: { ...x.live!, maxQueuedRequests: 10 } }));
    const d = liveDecision(small, new Map([['p', surge]]));
    expect(d.action).toBe('skip');
    expect(d.action === 'skip' && d.reason).toContain('maxQueuedRequests 10');
    // Twice the forecast overflows a budget of 3 but is no surge: held, the queue rejecting the overflow.
    const tight = stuck.map((x) => ({ ...x, live: { ...x.live!, maxQueuedRequests: 3 } }));
    const kept = liveDecision(tight, new Map([['p', 2 * w.live!.leadMean]]));
    expect(kept.action).toBe('keep');
    expect(kept.reason).toContain('no later slot');
  });
});

describe('live adjustment in the simulator', () => {
  const HOUR = 3_600_000;
  /** Every day: 100/h, 10/h at 04:00 and 15/h at 05:00; on the last day a surge of 2000/h at 03:00-05:00. */
  function series(days: number): Series {
    const values = new Float64Array(days * 24);
    for (let i = 0; i < values.length; i++) values[i] = i % 24 === 4 ? 10 : i % 24 === 5 ? 15 : 100;
    const last = (days - 1) * 24;
    values[last + 3] = 2000;
    values[last + 4] = 2000;
    return { startMs: 0, stepMs: HOUR, values };
  }
  /** The day before repeated: blind to the surge. */
  const naive = (history: Series, opts: ForecastOptions): Forecast => {
    const n = history.values.length;
    const mean = Float64Array.from({ length: opts.horizonSteps }, (_, h) => history.values[n - 24 + (h % 24)] as number);
    return { startMs: history.startMs + n * history.stepMs, stepMs: history.stepMs, mean, upper: mean, model: 'naive' };
  };
  const opts = { ...DEFAULT_SIMULATE_OPTIONS, interval: parseInterval('01:00-07:00'), days: 1, release: 'after-dump' as const, dumpMs: 10 * 60_000, maxHoldMs: HOUR };

  it('moves the window away from a surge the forecast missed, holding fewer actual writes', async () => {
    const withLive = await simulate([{ name: 'a', series: series(5) }], naive, opts);
    const without = await simulate([{ name: 'a', series: series(5) }], naive, { ...opts, live: null });
    // Moved until its lookback no longer shows the surge (it lasts two hours).
    expect(withLive.live.moved).toBeGreaterThanOrEqual(2);
    expect(without.live.moved).toBe(0);
    expect(withLive.adaptive.heldWrites).toBeLessThan(without.adaptive.heldWrites / 10);
    expect(withLive.adaptive.missedBackups).toBe(0);
    expect(withLive.adaptive.budgetViolations).toBe(0);
  });
});

describe('comparisons weigh missed backups', () => {
  it('a plan that skips a backup never looks better than one that holds a few writes', () => {
    const skips = { ...emptyScore(), heldWrites: 0, missedBackups: 1 };
    const holds = { ...emptyScore(), heldWrites: 50, missedBackups: 0 };
    expect(comparePlanScores(skips, holds)).toBeGreaterThan(0);
    expect(comparePlanScores(holds, skips)).toBeLessThan(0);
    const r = ratios({ adaptive: skips, uniform: holds, oracle: holds });
    expect(r['adaptive/uniform']!.heldWrites).toBe('worse (1 more missed)');
    expect(r['adaptive/uniform']!.missedBackups).toBe('1 vs 0');
  });
});
