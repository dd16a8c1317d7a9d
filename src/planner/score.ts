/**
 * Scores a plan on what actually happened: the writes that really arrived in each window and the
 * load that really ran beside each dump. The plan's own numbers are predictions; these are not.
 */
import { Cumulative, sumOnGrid } from './curve.js';
import type { Plan, PartitionPlanInput } from './types.js';

export interface PlanScore {
  /** Actual writes that arrived inside windows (held, or rejected in reject mode). */
  heldWrites: number;
  /** Actual server load while dumps ran. */
  overlapCost: number;
  /** Largest actual hold queue of any window. */
  peakQueue: number;
  peakHoldMs: number;
  /** Windows longer than their maxHoldMs, or whose actual queue outgrew maxQueuedRequests. */
  budgetViolations: number;
  /** Partitions the plan could not back up (infeasible). */
  missedBackups: number;
}

export function emptyScore(): PlanScore {
  return { heldWrites: 0, overlapCost: 0, peakQueue: 0, peakHoldMs: 0, budgetViolations: 0, missedBackups: 0 };
}

export function addScores(a: PlanScore, b: PlanScore): PlanScore {
  return {
    heldWrites: a.heldWrites + b.heldWrites,
    overlapCost: a.overlapCost + b.overlapCost,
    peakQueue: Math.max(a.peakQueue, b.peakQueue),
    peakHoldMs: Math.max(a.peakHoldMs, b.peakHoldMs),
    budgetViolations: a.budgetViolations + b.budgetViolations,
    missedBackups: a.missedBackups + b.missedBackups,
  };
}

/**
 * `partitions` carry the actual load as their forecast (mean = what happened); their budgets are
 * the ones the plan was made for.
 */
export function scorePlan(plan: Plan, partitions: readonly PartitionPlanInput[]): PlanScore {
  const byName = new Map(partitions.map((p) => [p.name, p]));
  const actual = new Map(partitions.map((p) => [p.name, new Cumulative({ ...p.forecast, values: p.forecast.mean })]));
  const serverLoad = new Map<string, Cumulative>();
  const loadOf = (server: string): Cumulative => {
    let c = serverLoad.get(server);
    if (c === undefined) {
      const on = partitions.filter((p) => (p.server ?? 'local') === server);
      const step = Math.min(...on.map((p) => p.forecast.stepMs));
      const steps = Math.ceil((plan.intervalEndMs - plan.intervalStartMs) / step);
      c = sumOnGrid(on.map((p) => actual.get(p.name) as Cumulative), plan.intervalStartMs, step, steps);
      serverLoad.set(server, c);
    }
    return c;
  };
  const score = emptyScore();
  score.missedBackups = plan.infeasible.length;
  for (const w of plan.windows) {
    const p = byName.get(w.partition);
    const writes = actual.get(w.partition);
    if (p === undefined || writes === undefined) throw new RangeError(`no actual load for partition ${w.partition}`);
    const held = writes.between(w.startMs, w.endMs);
    const queue = w.mode === 'hold' ? held : 0;
    score.heldWrites += held;
    score.overlapCost += loadOf(w.server).between(w.dumpStartMs, w.dumpEndMs);
    score.peakQueue = Math.max(score.peakQueue, queue);
    score.peakHoldMs = Math.max(score.peakHoldMs, w.holdMs);
    if (w.holdMs > p.maxHoldMs || queue > p.maxQueuedRequests) score.budgetViolations += 1;
  }
  return score;
}
