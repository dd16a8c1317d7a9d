import { describe, expect, it } from 'vitest';
import { Cumulative } from './curve.js';
import { plan } from './plan.js';
import { DEFAULT_REPLAN_OPTIONS, levelRatio, replanPending } from './replan.js';
import { forecastOf, HOUR_MS, partition, planInput } from './test-helpers.js';

const MIN = 60_000;
// Writes/hour. Hours 0-1 busy (the part of the day already seen at 02:00); slot A (03:00) is the
// cheapest but uncertain (mean 30,000, upper 50,000), slot B (05:00) dearer but certain (40,000).
// A 10-minute after-dump hold with a 10,000 queue budget fits up to 60,000/h at the upper quantile.
const MEAN = [60_000, 60_000, 55_000, 30_000, 55_000, 40_000];
const UPPER = [60_000, 60_000, 58_000, 50_000, 58_000, 40_000];

function input() {
  const p = partition('a', MEAN, { forecast: forecastOf(MEAN, { upper: UPPER }), dumpMs: 10 * MIN, maxHoldMs: HOUR_MS, maxQueuedRequests: 10_000 });
  return planInput([p], { release: 'after-dump', candidateStepMs: 10 * MIN, overlapWeight: 0, skipUnchanged: false });
}

/** The actual load: the forecast mean times `factor` in every hour. */
function actual(factor: number): Map<string, Cumulative> {
  return new Map([['a', new Cumulative({ startMs: 0, stepMs: HOUR_MS, values: MEAN.map((v) => v * factor) })]]);
}

const fullWeight = { ...DEFAULT_REPLAN_OPTIONS, shrink: 1 };

describe('levelRatio', () => {
  it('is actual over forecast on the lookback, shrunk toward 1, and reads nothing after now', () => {
    const f = forecastOf(MEAN);
    const seen = new Cumulative({ startMs: 0, stepMs: HOUR_MS, values: [84_000, 84_000, 1e9, 1e9, 1e9, 1e9] });
    expect(levelRatio(f, seen, 0, 2 * HOUR_MS, fullWeight)).toBeCloseTo(1.4, 12);
    expect(levelRatio(f, seen, 0, 2 * HOUR_MS, { ...fullWeight, shrink: 0.5 })).toBeCloseTo(1.2, 12);
    // Only the last hour with a one-hour lookback.
    const late = new Cumulative({ startMs: 0, stepMs: HOUR_MS, values: [60_000, 90_000] });
    expect(levelRatio(f, late, 0, 2 * HOUR_MS, { ...fullWeight, lookbackMs: HOUR_MS })).toBeCloseTo(1.5, 12);
  });

  it('is 1 with nothing seen yet or too little forecast to judge', () => {
    expect(levelRatio(forecastOf(MEAN), actual(2).get('a')!, 0, 0, fullWeight)).toBe(1);
    expect(levelRatio(forecastOf([10, 10]), new Cumulative({ startMs: 0, stepMs: HOUR_MS, values: [50, 50] }), 0, HOUR_MS, fullWeight)).toBe(1);
  });
});

describe('replanPending', () => {
  it('plans at the cheapest slot first (the baseline the re-plan starts from)', async () => {
    const p = await plan(input());
    expect(Math.floor(p.windows[0]!.startMs / HOUR_MS)).toBe(3);
  });

  it('moves the window away from a slot whose corrected upper quantile would overflow the budget when the day runs 40 % above forecast', async () => {
    const current = await plan(input());
    const r = await replanPending(current, input(), actual(1.4), 2 * HOUR_MS, fullWeight);
    expect(r.ratios.get('a')).toBeCloseTo(1.4, 12);
    // A at 1.4 x 50,000/h queues 11,667 in 10 min; B at 1.4 x 40,000/h queues 9,333.
    expect(Math.floor(r.plan.windows[0]!.startMs / HOUR_MS)).toBe(5);
    expect(r.moved).toEqual(['a']);
    expect(r.plan.infeasible).toEqual([]);
  });

  it('does not change the plan when the actuals equal the forecast', async () => {
    const current = await plan(input());
    const r = await replanPending(current, input(), actual(1), 2 * HOUR_MS, fullWeight);
    expect(r.plan).toBe(current);
    expect(r.moved).toEqual([]);
  });

  it('leaves a window that is already armed', async () => {
    const current = await plan(input());
    // At 02:58 the 03:00 window lies within the arm lead (5 min).
    const r = await replanPending(current, input(), actual(1.4), 3 * HOUR_MS - 2 * MIN, fullWeight);
    expect(r.plan).toBe(current);
  });

  it('keeps the current window rather than miss the backup when no slot is left', async () => {
    const current = await plan(input());
    // At 3x even the mean overflows the queue everywhere: the re-plan places nothing.
    const r = await replanPending(current, input(), actual(3), 2 * HOUR_MS, fullWeight);
    expect(r.plan.windows.map((w) => w.startMs)).toEqual(current.windows.map((w) => w.startMs));
    expect(r.plan.infeasible).toEqual([]);
  });

  it('never places a window before now plus the arm lead', async () => {
    const current = await plan(input());
    // Running cold (0.5x): every slot fits; the cheapest left after 03:05 at the corrected forecast.
    const now = 3 * HOUR_MS;
    const r = await replanPending({ ...current, windows: current.windows.map((w) => ({ ...w, startMs: w.startMs + 10 * MIN })) }, input(), actual(0.5), now, fullWeight);
    for (const w of r.plan.windows) expect(w.startMs).toBeGreaterThanOrEqual(now + fullWeight.armLeadMs);
  });
});
