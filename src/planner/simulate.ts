/**
 * Replays recorded load day by day: forecast from the history before each interval, plan, and
 * score the plan on what then happened, next to the uniform design and an oracle that knew the
 * future. The forecaster is a parameter so the simulator does not depend on forecast internals.
 */
import type { Forecast, ForecastOptions, Series } from '../forecast/types.js';
import { intervalLengthMs, intervalOnDay, type DailyInterval } from './interval.js';
import { plan, type SolverChoice } from './plan.js';
import { addScores, emptyScore, scorePlan, type PlanScore } from './score.js';
import type { PartitionPlanInput, PlanInput, ReleaseRule, WindowMode } from './types.js';
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

export interface DayResult {
  intervalStartMs: number;
  adaptive: PlanScore;
  uniform: PlanScore;
  oracle: PlanScore;
}

export interface SimulationResult {
  days: number;
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
    });
    const solver = { solver: opts.solver ?? 'auto' };
    const adaptive = await plan(input(withForecast), solver);
    const oracle = await plan(input(withActual), solver);
    const uniform = planUniform(input(withForecast));
    perDay.push({
      intervalStartMs: iv.startMs,
      adaptive: scorePlan(adaptive, withActual),
      uniform: scorePlan(uniform, withActual),
      oracle: scorePlan(oracle, withActual),
    });
  }
  const total = (key: 'adaptive' | 'uniform' | 'oracle'): PlanScore => perDay.reduce((s, d) => addScores(s, d[key]), emptyScore());
  return { days: perDay.length, adaptive: total('adaptive'), uniform: total('uniform'), oracle: total('oracle'), perDay };
}
