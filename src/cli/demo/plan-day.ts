/**
 * One simulated day of demo windows: forecast each partition from its demo history, then let the
 * planner choose every window's start. Pure: the caller arms the timers.
 */
import type { Config } from '../../config/schema.js';
import { forecast, type Forecast } from '../../forecast/index.js';
import { planHeuristic, type PartitionPlanInput, type Plan, type ReleaseRule } from '../../planner/index.js';
import type { DemoHistory } from './history.js';
import { SIM_STEP_MS } from './sim-clock.js';

/** Assumed real costs before a partition has had a window of its own. */
const DEFAULT_WINDOW_MS = 1000;
const DRAIN_MS = 20;
const PIN_MS = 50;

export interface DemoPartitionFacts {
  /** Real length of its last window (hold start to release), null before the first. */
  lastWindowMs: number | null;
  /** Writes since its last good backup, null when never backed up. */
  writesSinceBackup: number | null;
}

export interface PlanDayInput {
  history: DemoHistory;
  /** Simulated interval the windows must lie in. */
  intervalStartMs: number;
  intervalEndMs: number;
  /** Simulated ms per real ms. */
  scale: number;
  config: Config;
  release: ReleaseRule;
  facts: (partition: string) => DemoPartitionFacts;
}

export function planDemoDay(input: PlanDayInput): Plan & { models: Map<string, string>; forecasts: Map<string, Forecast> } {
  const { history, config, scale } = input;
  const horizonSteps = Math.ceil((input.intervalEndMs - history.endMs) / SIM_STEP_MS);
  const models = new Map<string, string>();
  const forecasts = new Map<string, Forecast>();
  const partitions: PartitionPlanInput[] = [];
  for (const p of history.partitions()) {
    const series = history.series(p);
    if (!series) continue;
    const f = forecast(series, { horizonSteps, quantile: config.forecast.quantile });
    models.set(p, f.model);
    forecasts.set(p, f);
    const over = config.windows.partitions[p] ?? {};
    const facts = input.facts(p);
    partitions.push({
      name: p,
      forecast: f,
      // Real durations in simulated time: the planner only ever sees the simulated clock.
      dumpMs: (facts.lastWindowMs ?? DEFAULT_WINDOW_MS) * scale,
      drainMs: DRAIN_MS * scale,
      pinMs: PIN_MS * scale,
      maxHoldMs: (over.maxHoldMs ?? config.windows.maxHoldMs) * scale,
      maxQueuedRequests: over.maxQueuedRequests ?? config.windows.maxQueuedRequests,
      mode: over.mode ?? config.windows.mode,
      writesSinceLastBackup: facts.writesSinceBackup,
    });
  }
  const plan = planHeuristic({
    intervalStartMs: input.intervalStartMs,
    intervalEndMs: input.intervalEndMs,
    partitions,
    release: input.release,
    // The node runs one backup at a time, so planned dumps must not overlap either.
    maxConcurrentDumps: 1,
    clockSkewMs: 0,
    minRoundTripMs: 0,
    heldWeight: config.planner.heldWeight,
    overlapWeight: config.planner.overlapWeight,
    skipUnchanged: config.backup.skipUnchanged,
    candidateStepMs: SIM_STEP_MS,
    capacityTickMs: 60_000,
  });
  return { ...plan, models, forecasts };
}
