/**
 * Replays recorded load day by day: forecast from the history before each interval, plan, and
 * score the plan on what then happened, next to the uniform design and an oracle that knew the
 * future. The forecaster is a parameter so the simulator does not depend on forecast internals.
 */
import type { Forecast, ForecastOptions, Series } from '../forecast/types.js';
import { Cumulative } from './curve.js';
import { intervalLengthMs, intervalOnDay, type DailyInterval } from './interval.js';
import { DEFAULT_LIVE_ADJUST_OPTIONS, liveDecision, shiftWindows, withEarlyChecks, type LiveAdjustOptions } from './live-adjust.js';
import { plan, type SolverChoice } from './plan.js';
import { addScores, emptyScore, scorePlan, type PlanScore } from './score.js';
import type { PartitionPlanInput, Plan, PlanInput, PlannedWindow, ReleaseRule, WindowMode } from './types.js';
import { planUniform } from './uniform.js';

export type Forecaster = (history: Series, opts: ForecastOptions) => Forecast;

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;

export interface SimPartition {
  name: string;
  series: Series;
  server?: string;
  group?: string;
}

export interface SimulateOptions {
  interval: DailyInterval;
  /** Simulated days: the last ones the series share. */
  days: number;
  release: ReleaseRule;
  historyDays: number;
  quantile: number;
  dumpMs: number;
  drainMs: number;
  pinMs: number;
  maxHoldMs: number;
  maxQueuedRequests: number;
  mode: WindowMode;
  maxConcurrentDumps: number;
  clockSkewMs: number;
  minRoundTripMs: number;
  heldWeight: number;
  overlapWeight: number;
  candidateStepMs?: number;
  solver?: SolverChoice;
  /** PlanInput.riskWeight of the adaptive plan (the oracle knows the future: no risk). */
  riskWeight?: number;
  /** Live adjustment of the adaptive plan before each window (null: off). */
  live?: LiveAdjustOptions | null;
}

export const DEFAULT_SIMULATE_OPTIONS: Omit<SimulateOptions, 'interval'> = {
  days: 14,
  release: 'after-snapshot',
  historyDays: 56,
  quantile: 0.9,
  dumpMs: 20 * 60_000,
  drainMs: 50,
  pinMs: 100,
  maxHoldMs: 5_000,
  maxQueuedRequests: 10_000,
  mode: 'hold',
  maxConcurrentDumps: 2,
  clockSkewMs: 0,
  minRoundTripMs: 0,
  heldWeight: 1,
  overlapWeight: 0.1,
};

export interface LiveCounts {
  /** Windows moved to a later slot, and skipped, by the live check. */
  moved: number;
  skipped: number;
  /** Windows started at an early check point, before their planned start. */
  startedEarly: number;
}

const noLive = (): LiveCounts => ({ moved: 0, skipped: 0, startedEarly: 0 });

export interface DayResult {
  intervalStartMs: number;
  live: LiveCounts;
  adaptive: PlanScore;
  uniform: PlanScore;
  oracle: PlanScore;
}

export interface SimulationResult {
  days: number;
  live: LiveCounts;
  adaptive: PlanScore;
  uniform: PlanScore;
  oracle: PlanScore;
  perDay: DayResult[];
}

/**
 * Series from different years are moved by whole weeks onto the first one's calendar, so that
 * weekdays stay weekdays and every partition shares one clock.
 */
export function alignSeries(parts: readonly SimPartition[]): SimPartition[] {
  const first = parts[0];
  if (first === undefined) return [];
  return parts.map((p) => {
    const shift = Math.round((first.series.startMs - p.series.startMs) / WEEK_MS) * WEEK_MS;
    return { ...p, series: { ...p.series, startMs: p.series.startMs + shift } };
  });
}

/** Values of `s` over [a, b) at its own step, as many whole steps as lie inside. */
function slice(s: Series, a: number, b: number): Series {
  const i0 = Math.max(0, Math.ceil((a - s.startMs) / s.stepMs - 1e-9));
  const i1 = Math.min(s.values.length, Math.floor((b - s.startMs) / s.stepMs + 1e-9));
  return { startMs: s.startMs + i0 * s.stepMs, stepMs: s.stepMs, values: s.values.slice(i0, Math.max(i0, i1)) };
}

function asForecast(s: Series): Forecast {
  return { startMs: s.startMs, stepMs: s.stepMs, mean: s.values, upper: s.values, model: 'actual' };
}

export async function simulate(parts: readonly SimPartition[], forecaster: Forecaster, opts: SimulateOptions): Promise<SimulationResult> {
  const aligned = alignSeries(parts);
  if (aligned.length === 0) throw new RangeError('no series to simulate');
  const start = Math.max(...aligned.map((p) => p.series.startMs));
  const end = Math.min(...aligned.map((p) => p.series.startMs + p.series.values.length * p.series.stepMs));
  const lengthMs = intervalLengthMs(opts.interval);
  // Day starts (midnight) whose interval ends inside the data and has at least a day of history.
  const dayStarts: number[] = [];
  for (let day = Math.floor(start / DAY_MS) * DAY_MS; day < end; day += DAY_MS) {
    const iv = intervalOnDay(day, opts.interval);
    if (iv.startMs - start >= DAY_MS && iv.endMs <= end) dayStarts.push(day);
  }
  const chosen = dayStarts.slice(-opts.days);
  if (chosen.length === 0) throw new RangeError('the series share too little time for one simulated day (need a day of history and one interval)');

  const perDay: DayResult[] = [];
  for (const day of chosen) {
    const iv = intervalOnDay(day, opts.interval);
    const withForecast: PartitionPlanInput[] = [];
    const withActual: PartitionPlanInput[] = [];
    for (const p of aligned) {
      const history = slice(p.series, Math.max(start, iv.startMs - opts.historyDays * DAY_MS), iv.startMs);
      const horizonSteps = Math.ceil(lengthMs / p.series.stepMs);
      const base: Omit<PartitionPlanInput, 'forecast'> = {
        name: p.name,
        server: p.server ?? p.name,
        group: p.group ?? p.name,
        dumpMs: opts.dumpMs,
        drainMs: opts.drainMs,
        pinMs: opts.pinMs,
        maxHoldMs: opts.maxHoldMs,
        maxQueuedRequests: opts.maxQueuedRequests,
        mode: opts.mode,
      };
      withForecast.push({ ...base, forecast: forecaster(history, { horizonSteps, quantile: opts.quantile }) });
      withActual.push({ ...base, forecast: asForecast(slice(p.series, iv.startMs, iv.startMs + horizonSteps * p.series.stepMs)) });
    }
    const input = (partitions: PartitionPlanInput[]): PlanInput => ({
      intervalStartMs: iv.startMs,
      intervalEndMs: iv.endMs,
      partitions,
      release: opts.release,
      maxConcurrentDumps: opts.maxConcurrentDumps,
      clockSkewMs: opts.clockSkewMs,
      minRoundTripMs: opts.minRoundTripMs,
      heldWeight: opts.heldWeight,
      overlapWeight: opts.overlapWeight,
      skipUnchanged: false,
      ...(opts.candidateStepMs === undefined ? {} : { candidateStepMs: opts.candidateStepMs }),
      ...(opts.riskWeight === undefined ? {} : { riskWeight: opts.riskWeight }),
    });
    const solver = { solver: opts.solver ?? 'auto' };
    const planned = await plan(input(withForecast), solver);
    const { plan: adaptive, live } = opts.live === null ? { plan: planned, live: noLive() } : adjustLive(planned, withActual, opts.live ?? DEFAULT_LIVE_ADJUST_OPTIONS);
    const oracle = await plan(input(withActual), solver);
    const uniform = planUniform(input(withForecast));
    perDay.push({
      intervalStartMs: iv.startMs,
      live,
      adaptive: scorePlan(adaptive, withActual),
      uniform: scorePlan(uniform, withActual),
      oracle: scorePlan(oracle, withActual),
    });
  }
  const total = (key: 'adaptive' | 'uniform' | 'oracle'): PlanScore => perDay.reduce((s, d) => addScores(s, d[key]), emptyScore());
  const live = perDay.reduce((s, d) => ({ moved: s.moved + d.live.moved, skipped: s.skipped + d.live.skipped, startedEarly: s.startedEarly + d.live.startedEarly }), noLive());
  return { days: perDay.length, live, adaptive: total('adaptive'), uniform: total('uniform'), oracle: total('oracle'), perDay };
}

/**
 * What a node's live check would have done with this plan on what actually happened: the writes
 * over each window's lookback are read from the actual load, as the node reads its live counters.
 * A skipped group's members count as missed backups (plan.infeasible).
 */
export function adjustLive(p: Plan, actual: readonly PartitionPlanInput[], opts: LiveAdjustOptions): { plan: Plan; live: LiveCounts } {
  const curves = new Map(actual.map((a) => [a.name, new Cumulative({ ...a.forecast, values: a.forecast.mean })]));
  const byGroup = new Map<string, PlannedWindow[]>();
  for (const w of p.windows) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w]);
  const windows: PlannedWindow[] = [];
  const infeasible = [...p.infeasible];
  const live = noLive();
  for (const [group, planned] of byGroup) {
    // The node arms the plan before the interval: checks start at the first early point.
    let members = withEarlyChecks(planned, Number.NEGATIVE_INFINITY);
    // Checked at the planned start and again at every start it moves to.
    for (;;) {
      const observed = new Map(members.map((w) => [w.partition, w.live === undefined ? 0 : (curves.get(w.partition)?.between(w.startMs - w.live.lookbackMs, w.startMs) ?? 0)]));
      const d = liveDecision(members, observed, opts);
      if (d.action === 'wait' || d.action === 'move') {
        if (d.action === 'move') live.moved += 1;
        members = shiftWindows(members, d.shiftMs);
        continue;
      }
      if (d.action === 'skip') {
        live.skipped += 1;
        for (const w of members) infeasible.push({ partition: w.partition, group, reason: d.reason });
      } else {
        if (d.early === true) live.startedEarly += 1;
        windows.push(...members);
      }
      break;
    }
  }
  return { plan: { ...p, windows, infeasible }, live };
}
