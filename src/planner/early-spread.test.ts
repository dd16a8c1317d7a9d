/**
 * The early check's weighing of waiting with the forecast's spread (backward induction), its
 * live count carried over the member's own load beside the dump, and its queue check at points
 * kept where only the mean fits the budget. Hourly forecasts, planned start in the 03:00 trough,
 * early points at 00:05, 01:05 and 02:05 (early-checks.test.ts has the basics).
 */
import { describe, expect, it } from 'vitest';
import { liveDecision, shiftWindows, waitingCost, withEarlyChecks } from './live-adjust.js';
import { planHeuristic } from './plan.js';
import { HOUR_MS, forecastOf, partition, planInput, spreadOf } from './test-helpers.js';
import type { PartitionPlanInput, PlannedWindow, ReleaseRule } from './types.js';

const MIN = 60_000;
const curve = [100, 100, 100, 10, 100, 100];
const LEVELS = 9;
const only = (o: number): Map<string, number> => new Map([['p', o]]);
const hourOf = (t: number): number => Math.floor(t / HOUR_MS);
/** Plans carry the spread to a tenth of a write. */
const tenth = (x: number): number => Math.round(x * 10) / 10;

function armed(part: PartitionPlanInput, extra: { overlapWeight?: number; release?: ReleaseRule } = {}): PlannedWindow[] {
  const plan = planHeuristic(planInput([part], { release: extra.release ?? 'after-dump', candidateStepMs: 5 * MIN, overlapWeight: extra.overlapWeight ?? 0 }));
  expect(hourOf(plan.windows[0]!.startMs)).toBe(3);
  return withEarlyChecks(plan.windows, Number.NEGATIVE_INFINITY);
}
const withSpread = (at: Record<number, readonly number[]>, mean = curve): PartitionPlanInput =>
  partition('p', mean, { forecast: forecastOf(mean, { spread: spreadOf(mean, LEVELS, at) }), dumpMs: 10 * MIN, maxHoldMs: HOUR_MS });
/** The live count over the 5-minute lookback at `perHour` writes an hour. */
const rate = (perHour: number): number => perHour / 12;

describe('the plan carries the spread', () => {
  it("each early point and the planned start: the window's writes at every level of the forecast spread", () => {
    const levels = Array.from({ length: LEVELS }, (_, i) => 6 * i);
    const w = planHeuristic(planInput([withSpread({ 0: levels, 3: levels })], { release: 'after-dump', candidateStepMs: 5 * MIN, overlapWeight: 0 })).windows[0]!;
    // 10-minute windows: a sixth of the hour's writes at each level, to a tenth of a write.
    const sixth = levels.map((x) => tenth(x / 6));
    expect(w.live!.heldSpread).toEqual(sixth);
    expect(w.live!.earlier!.map((p) => p.heldSpread)).toEqual([sixth, Array(LEVELS).fill(16.7), Array(LEVELS).fill(16.7)]);
    // Later slots are not early points: the induction never reads them.
    for (const s of w.live!.shifts) expect(s.heldSpread).toBeUndefined();
  });

  it('a forecast without a spread gives a plan without one', () => {
    const w = planHeuristic(planInput([partition('p', curve, { dumpMs: 10 * MIN, maxHoldMs: HOUR_MS })], { release: 'after-dump', candidateStepMs: 5 * MIN })).windows[0]!;
    expect(w.live!.earlier!.length).toBe(3);
    expect([w.live!.heldSpread, ...w.live!.earlier!.map((p) => p.heldSpread)]).toEqual([undefined, undefined, undefined, undefined]);
  });
});

describe('weighing waiting with the spread', () => {
  it('a later point that is often quiet is worth waiting for, where its forecast alone says start now', () => {
    // 01:00 and 02:00 run at nothing a third of the time (levels 0, 0, 0, 100, ...).
    const flaky = Array.from({ length: LEVELS }, (_, i) => (i < 3 ? 0 : 100));
    const at = armed(withSpread({ 1: flaky, 2: flaky }));
    // Planned trough: 10/6 writes (1.7 in the plan). Each flaky point is 0 a third of the time
    // and otherwise no better than what follows: two of them keep (6/9)² of the trough's cost.
    expect(waitingCost(at)).toBeCloseTo(tenth(10 / 6) * (6 / 9) * (6 / 9), 9);
    expect(liveDecision(at, only(rate(9))).action).toBe('wait');
    // Without the spread (an older plan): the lowest forecast left, 10/6, and 9/h starts now.
    const plain = at.map((w) => ({ ...w, live: { ...w.live!, shifts: w.live!.shifts.map(({ heldSpread: _, ...s }) => s) } }));
    expect(waitingCost(plain)).toBeCloseTo(10 / 6, 9);
    expect(liveDecision(plain, only(rate(9)))).toMatchObject({ action: 'keep', early: true });
    // A quiet spell now still starts.
    expect(liveDecision(at, only(rate(1)))).toMatchObject({ action: 'keep', early: true });
  });

  it('where the planned hour ran above its forecast in validation, a spell a little above that forecast starts early', () => {
    const at = armed(withSpread({ 3: Array(LEVELS).fill(20) }));
    expect(waitingCost(at)).toBeCloseTo(tenth(20 / 6), 9);
    expect(liveDecision(at, only(rate(15)))).toMatchObject({ action: 'keep', early: true });
    expect(liveDecision(at, only(rate(25))).action).toBe('wait');
  });
});

describe("the member's own load beside its dump", () => {
  it('after-dump: the live count scales the own writes in the overlap too, so a quiet spell starts', () => {
    const at = armed(withSpread({}), { overlapWeight: 1 });
    const w = at[0]!;
    // One partition on its server: the load beside its dump is its own (100/h over 10 minutes).
    expect(w.live!.ownLoad).toBeCloseTo(w.overlapCost, 1);
    expect(w.overlapCost).toBeCloseTo(100 / 6, 6);
    // A twentieth of the forecast: 0.83 held + 0.83 overlap < 10/6 + 10/6 at the planned start.
    expect(liveDecision(at, only(rate(5)))).toMatchObject({ action: 'keep', early: true });
    expect(liveDecision(at, only(rate(100))).action).toBe('wait');
  });

  it('after-snapshot: the dump runs after the window, past what the live count tells, so its load stays as forecast', () => {
    const part = partition('p', curve, { dumpMs: 10 * MIN, pinMs: MIN, maxHoldMs: HOUR_MS });
    const at = armed(part, { overlapWeight: 1, release: 'after-snapshot' });
    expect(at[0]!.live!.ownLoad).toBe(0);
    expect(at[0]!.live!.shifts.slice(0, 3).map((s) => s.ownLoad)).toEqual([0, 0, 0]);
    // Nothing held now, but the dump beside 100/h still costs more than the planned start's.
    expect(liveDecision(at, only(0)).action).toBe('wait');
  });
});

describe('the queue check at an early point', () => {
  // 01:00 is forecast at 5/h, but its upper quantile breaks the budget: planned in the 03:00 trough.
  const mean = [100, 5, 100, 10, 100, 100];
  const upper = [100, 100_000, 100, 10, 100, 100];
  const part = partition('p', mean, { forecast: forecastOf(mean, { upper }), dumpMs: 10 * MIN, maxHoldMs: HOUR_MS, maxQueuedRequests: 1_000 });
  const atOne = (): PlannedWindow[] => {
    const first = armed(part);
    const d = liveDecision(first, only(rate(100)));
    expect(d.action).toBe('wait');
    return d.action === 'wait' ? shiftWindows(first, d.shiftMs) : first;
  };

  it('cheaper than waiting, but at the live rate the upper quantile would overflow the queue: waits', () => {
    const at = atOne();
    expect(hourOf(at[0]!.startMs)).toBe(1);
    const d = liveDecision(at, only(rate(5)));
    expect(d.action).toBe('wait');
    expect(d.reason).toContain('would not fit the budget at the live rate');
  });

  it('a hundredth of the forecast there: the upper quantile scaled by it fits, and it starts', () => {
    expect(liveDecision(atOne(), only(rate(0.05)))).toMatchObject({ action: 'keep', early: true });
  });
});
