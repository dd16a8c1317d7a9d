import { describe, expect, it } from 'vitest';
import { checkEarly } from '../coordinator/scheduler.js';
import type { Forecast, ForecastOptions, Series } from '../forecast/types.js';
import { parseInterval } from './interval.js';
import { liveDecision, nodeLiveDecision, shiftWindows, waitingCost, withEarlyChecks } from './live-adjust.js';
import { planHeuristic } from './plan.js';
import { DEFAULT_SIMULATE_OPTIONS, simulate } from './simulate.js';
import { HOUR_MS, forecastOf, partition, planInput } from './test-helpers.js';
import type { PartitionPlanInput, PlannedWindow } from './types.js';

const MIN = 60_000;
/** Forecast 100/h, with the trough (10/h) at 03:00. */
const curve = [100, 100, 100, 10, 100, 100];
const part = (name = 'p', extra: Partial<PartitionPlanInput> = {}): PartitionPlanInput => partition(name, curve, { dumpMs: 10 * MIN, maxHoldMs: HOUR_MS, ...extra });
const planned = (parts: PartitionPlanInput[] = [part()], extra: Parameters<typeof planInput>[1] = {}) =>
  planHeuristic(planInput(parts, { release: 'after-dump', candidateStepMs: 5 * MIN, overlapWeight: 0, ...extra }));
const only = (o: number): Map<string, number> => new Map([['p', o]]);
const hourOf = (t: number): number => Math.floor(t / HOUR_MS);

describe('early check points in the plan', () => {
  it('one per forecast step before the planned start, lookback and window inside that step', () => {
    const w = planned().windows[0]!;
    expect(hourOf(w.startMs)).toBe(3);
    const points = w.live!.earlier!;
    expect(points.map((p) => (w.startMs + p.shiftMs) / MIN)).toEqual([5, 65, 125]);
    for (const p of points) {
      const start = w.startMs + p.shiftMs;
      expect(hourOf(start - w.live!.lookbackMs)).toBe(hourOf(start + w.holdMs - 1));
      // The lookback (5 min) and the window (10 min) at 100/h.
      expect(p.leadMean).toBeCloseTo(100 / 12, 9);
      expect(p.heldMean).toBeCloseTo(100 / 6, 9);
    }
  });

  it('keeps starts where the mean fits the queue budget, with their upper quantile; leaves out those where even the mean breaks it', () => {
    const upper = [100, 100_000, 100, 10, 100, 100];
    const w = planned([part('p', { forecast: forecastOf(curve, { upper }), maxQueuedRequests: 1_000 })]).windows[0]!;
    const points = w.live!.earlier!;
    expect(points.map((p) => hourOf(w.startMs + p.shiftMs))).toEqual([0, 1, 2]);
    // The live check decides there with the upper quantile over the window (queueFits).
    expect(points.map((p) => p.heldUpper)).toEqual([16.7, 16_666.7, 16.7]);
    const spiky = [100, 100_000, 100, 10, 100, 100];
    const v = planned([part('p', { forecast: forecastOf(spiky), maxQueuedRequests: 1_000 })]).windows[0]!;
    expect(v.live!.earlier!.map((p) => hourOf(v.startMs + p.shiftMs))).toEqual([0, 2]);
  });

  it('two groups on one server (maxConcurrentDumps 1): no early point overlaps another dump, planned or early', () => {
    const plan = planned([part('a'), part('b')], { maxConcurrentDumps: 1 });
    const spans: [number, number][] = [];
    for (const w of plan.windows) {
      spans.push([w.dumpStartMs, w.dumpEndMs]);
      for (const p of w.live!.earlier ?? []) spans.push([w.dumpStartMs + p.shiftMs, w.dumpEndMs + p.shiftMs]);
    }
    expect(spans.length).toBeGreaterThan(2);
    spans.sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
  });

  it('maxConcurrentDumps 1: no later slot a window may move to overlaps another group\'s dump, planned or early', () => {
    // a is quiet from 01:00 to 05:00 (its later slots lie there), b's trough is at 04:00 (its early
    // points in the hours before it): whichever group is planned first, the two must not share a slot.
    const a = part('a', { forecast: forecastOf([50, 10, 11, 11, 12, 100]), dumpMs: 20 * MIN });
    const b = part('b', { forecast: forecastOf([100, 100, 100, 100, 10, 100]), dumpMs: 20 * MIN });
    const cases = [[a, b], [b, a]];
    for (const parts of cases) {
      const plan = planned(parts, { maxConcurrentDumps: 1 });
      const spans = (w: PlannedWindow, shifts: readonly { shiftMs: number }[]): [number, number][] => shifts.map((s) => [w.dumpStartMs + s.shiftMs, w.dumpEndMs + s.shiftMs]);
      const wa = plan.windows.find((w) => w.partition === 'a')!;
      const wb = plan.windows.find((w) => w.partition === 'b')!;
      expect(wa.live!.shifts.length).toBeGreaterThan(0);
      expect(wb.live!.earlier!.length).toBeGreaterThan(0);
      for (const [mover, other] of [[wa, wb], [wb, wa]] as const) {
        const taken = [...spans(other, [{ shiftMs: 0 }]), ...spans(other, other.live!.earlier ?? [])];
        for (const [s, e] of spans(mover, mover.live!.shifts)) for (const [ts, te] of taken) expect(s >= te || e <= ts, `${mover.partition} moved to ${s} overlaps ${other.partition} at ${ts}`).toBe(true);
      }
    }
  });

  it('forecast steps under an hour: one point per clock hour, lookback and window inside it', () => {
    const fine = Array.from({ length: 72 }, (_, i) => (i >= 36 && i < 48 ? 1 : 10));
    const p = partition('p', fine, { forecast: forecastOf(fine, { stepMs: 5 * MIN }), dumpMs: 10 * MIN, maxHoldMs: HOUR_MS });
    const w = planned([p]).windows[0]!;
    expect(hourOf(w.startMs)).toBe(3);
    const starts = w.live!.earlier!.map((x) => w.startMs + x.shiftMs);
    expect(starts.map(hourOf)).toEqual([0, 1, 2]);
    for (const s of starts) expect(hourOf(s - w.live!.lookbackMs)).toBe(hourOf(s + w.holdMs - 1));
  });

  it('a window longer than a forecast step gets no early point', () => {
    const w = planned([part('p', { dumpMs: 70 * MIN, maxHoldMs: 2 * HOUR_MS })]).windows[0]!;
    expect(w.live!.earlier).toBeUndefined();
  });
});

describe('checking early', () => {
  const plan = planned();
  const w0 = plan.windows[0]!;

  it('arms at the first point whose lookback is still ahead, with the planned start and the later slots after it', () => {
    const all = withEarlyChecks(plan.windows, Number.NEGATIVE_INFINITY)[0]!;
    expect(all.startMs).toBe(5 * MIN);
    expect(all.live!.early).toBe(3);
    expect(all.heldWrites).toBeCloseTo(100 / 6, 9);
    const starts = all.live!.shifts.map((s) => all.startMs + s.shiftMs);
    expect(starts).toEqual([65 * MIN, 125 * MIN, w0.startMs, ...w0.live!.shifts.map((s) => w0.startMs + s.shiftMs)]);
    // At 01:00 the 00:05 point's lookback has begun: the 01:05 one is first.
    const late = withEarlyChecks(plan.windows, HOUR_MS)[0]!;
    expect([late.startMs, late.live!.early]).toEqual([65 * MIN, 2]);
    // All passed: as planned.
    expect(withEarlyChecks(plan.windows, w0.startMs)).toEqual(plan.windows);
    // The scheduler arms the same.
    const g = checkEarly({ group: 'p', partitions: ['p'], fireAtMs: w0.startMs, windows: plan.windows }, 0);
    expect(g.fireAtMs).toBe(5 * MIN);
    expect(g.windows).toEqual(withEarlyChecks(plan.windows, 0));
  });

  it('starts early when the live rate makes the window cheaper than the best start left; otherwise waits for the next point', () => {
    const at = withEarlyChecks(plan.windows, Number.NEGATIVE_INFINITY);
    const lead = at[0]!.live!.leadMean;
    // The best start left is the planned one in the trough: 10/h over 10 minutes.
    expect(waitingCost(at)).toBeCloseTo(10 / 6, 9);
    // The load as forecast, or half of it: waiting is cheaper.
    for (const seen of [lead, lead / 2]) {
      const d = liveDecision(at, only(seen));
      expect(d.action).toBe('wait');
      expect(d.action === 'wait' && at[0]!.startMs + d.shiftMs).toBe(65 * MIN);
    }
    // A quiet spell (a twentieth of the forecast, or nothing): started here.
    for (const seen of [lead / 20, 0]) {
      const d = liveDecision(at, only(seen));
      expect(d).toMatchObject({ action: 'keep', early: true });
      expect(d.reason).toContain('started before its planned time');
    }
  });

  it('a node that does not see all the writes never starts early, and checks as usual from the planned start on', () => {
    const at = withEarlyChecks(plan.windows, Number.NEGATIVE_INFINITY);
    expect(nodeLiveDecision(at, only(0), true)).toMatchObject({ action: 'keep', early: true });
    expect(nodeLiveDecision(at, only(0), false).action).toBe('wait');
    // Passing every early point lands on the plan's own window, with its own later slots.
    let ws: PlannedWindow[] = at;
    for (let i = 0; i < 3; i++) {
      const d = nodeLiveDecision(ws, only(0), false);
      expect(d.action).toBe('wait');
      if (d.action !== 'wait') return;
      ws = shiftWindows(ws, d.shiftMs);
    }
    const back = ws[0]!;
    expect([back.startMs, back.endMs, back.dumpEndMs, back.heldWrites]).toEqual([w0.startMs, w0.endMs, w0.dumpEndMs, w0.heldWrites]);
    expect(back.live!.early).toBeUndefined();
    expect(back.live!.shifts.map((s) => s.shiftMs)).toEqual(w0.live!.shifts.map((s) => s.shiftMs));
    // There the surge rule applies again.
    expect(nodeLiveDecision(ws, only(500), false).action).toBe('move');
    expect(nodeLiveDecision(ws, only(back.live!.leadMean), false)).toMatchObject({ action: 'keep', reason: null });
  });
});

describe('early checks in the simulator', () => {
  /** 100/h, 10/h at 03:00; on the last day, unforeseen, nothing at all at 01:00. */
  function series(days: number, quietLastDay: boolean): Series {
    const values = Float64Array.from({ length: days * 24 }, (_, i) => (i % 24 === 3 ? 10 : 100));
    if (quietLastDay) values[(days - 1) * 24 + 1] = 0;
    return { startMs: 0, stepMs: HOUR_MS, values };
  }
  const naive = (history: Series, opts: ForecastOptions): Forecast => {
    const n = history.values.length;
    const mean = Float64Array.from({ length: opts.horizonSteps }, (_, h) => history.values[n - 24 + (h % 24)] as number);
    return { startMs: history.startMs + n * history.stepMs, stepMs: history.stepMs, mean, upper: mean, model: 'naive' };
  };
  const opts = { ...DEFAULT_SIMULATE_OPTIONS, interval: parseInterval('00:00-06:00'), days: 1, release: 'after-dump' as const, dumpMs: 10 * MIN, maxHoldMs: HOUR_MS };

  it('a quiet spell the forecast missed: the window starts in it and holds nothing', async () => {
    const withLive = await simulate([{ name: 'a', series: series(4, true) }], naive, opts);
    const without = await simulate([{ name: 'a', series: series(4, true) }], naive, { ...opts, live: null });
    expect(withLive.live.startedEarly).toBe(1);
    expect(withLive.adaptive.heldWrites).toBe(0);
    expect(without.adaptive.heldWrites).toBeGreaterThan(0);
    expect(withLive.oracle.heldWrites).toBe(0);
    expect([withLive.adaptive.missedBackups, withLive.adaptive.budgetViolations]).toEqual([0, 0]);
  });

  it('load as forecast: no early start, the plan as made', async () => {
    const withLive = await simulate([{ name: 'a', series: series(4, false) }], naive, opts);
    const without = await simulate([{ name: 'a', series: series(4, false) }], naive, { ...opts, live: null });
    expect(withLive.live).toEqual({ moved: 0, skipped: 0, startedEarly: 0 });
    expect(withLive.adaptive).toEqual(without.adaptive);
  });
});
