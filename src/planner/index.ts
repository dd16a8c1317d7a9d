/**
 * Planner: forecasts and constraints per partition in, one window per partition out. Pure: no
 * sockets, database, cron or metrics.
 */
export type {
  InfeasiblePartition,
  PartitionPlanInput,
  Plan,
  PlanInput,
  PlannedWindow,
  ReleaseRule,
  SkippedPartition,
  SolverName,
  WindowMode,
} from './types.js';
export { plan, planExact, planHeuristic, type PlanOptions, type SolverChoice } from './plan.js';
export { planUniform } from './uniform.js';
export { expectedDumpMs, type DumpEstimateInput, type PastDump } from './dump-estimate.js';
export { skewMarginMs } from './model.js';
export { liveDecision, shiftWindows, farAbove, DEFAULT_LIVE_ADJUST_OPTIONS, type LiveAdjustOptions, type LiveDecision } from './live-adjust.js';
export type { LiveWindowInfo } from './types.js';
