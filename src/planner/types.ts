/**
 * The planner's contract: what the coordinator hands in (forecasts and constraints per partition)
 * and what it gets back (one window per partition, or a reason why not). Pure data.
 */
import type { Forecast } from '../forecast/types.js';

export type WindowMode = 'hold' | 'reject';
export type ReleaseRule = 'after-snapshot' | 'after-dump';

export interface PartitionPlanInput {
  /** schema.partition */
  name: string;
  /** Server the partition lives on (foreign partitions: the postgres_fdw server). Default 'local'. */
  server?: string;
  /** Consistency group: members share one cut instant. Default: the partition alone. */
  group?: string;
  /** Predicted writes per step; must cover the backup interval. */
  forecast: Forecast;
  /** Expected pg_dump duration (see expectedDumpMs). */
  dumpMs: number;
  /** Expected time for in-flight writes to finish once holding starts. */
  drainMs: number;
  /** Expected time to export and pin the snapshot after draining. */
  pinMs: number;
  /** Disruption budget: longest the window may hold or reject writes. */
  maxHoldMs: number;
  /** Disruption budget: most requests the hold queue may take (hold mode only). */
  maxQueuedRequests: number;
  mode: WindowMode;
  /** Overrides PlanInput.release for this partition. */
  release?: ReleaseRule;
  /** Writes since the last good backup; 0 means unchanged (skippable), null/absent means unknown. */
  writesSinceLastBackup?: number | null;
}

export interface PlanInput {
  /** The backup interval [start, end): every window and every dump lies inside it. */
  intervalStartMs: number;
  intervalEndMs: number;
  partitions: readonly PartitionPlanInput[];
  release: ReleaseRule;
  /** Dumps running at once on one server. */
  maxConcurrentDumps: number;
  /** Per-server overrides of maxConcurrentDumps. */
  maxConcurrentDumpsByServer?: Readonly<Record<string, number>>;
  /** Largest clock offset between nodes (0 with one node). */
  clockSkewMs: number;
  /** Minimum client round trip (ack then follow-up write); shortens the margin the skew needs. */
  minRoundTripMs: number;
  /** Weight of predicted held writes in the cost. */
  heldWeight: number;
  /** Weight of predicted server load overlapping each dump. */
  overlapWeight: number;
  /**
   * How far the held-writes cost moves from the mean forecast toward its upper quantile: 0 = the
   * mean, 1 = the upper quantile (default DEFAULT_RISK_WEIGHT). Above 0 a slightly higher but
   * certain trough beats a lower uncertain one.
   */
  riskWeight?: number;
  /**
   * Span before each window over which live writes are compared with the forecast (0: no live
   * check). Default DEFAULT_LIVE_LOOKBACK_MS.
   */
  liveLookbackMs?: number;
  /** Skip groups whose every member has had no write since its last good backup. */
  skipUnchanged: boolean;
  /** Spacing of the candidate window starts. Default: min(forecast step, 60 s). */
  candidateStepMs?: number;
  /**
   * Resolution of the dump-concurrency bookkeeping: a dump occupies whole ticks (rounded outwards),
   * so the cap holds in real time too. Default 1000 ms.
   */
  capacityTickMs?: number;
}

export interface PlannedWindow {
  partition: string;
  group: string;
  server: string;
  mode: WindowMode;
  release: ReleaseRule;
  /** Holding begins (local clock of every node). */
  startMs: number;
  /** Snapshot instant: shared by every member of the group. */
  cutMs: number;
  /** Held writes are released. */
  endMs: number;
  holdMs: number;
  dumpStartMs: number;
  dumpEndMs: number;
  /** Predicted writes arriving inside the window (mean forecast). */
  heldWrites: number;
  /** Predicted largest hold queue (upper quantile; 0 in reject mode, where nothing queues). */
  queuePeak: number;
  /** Predicted server load (writes, mean) while this partition's dump runs. */
  overlapCost: number;
  /** What the live check before the window needs (live-adjust.ts); absent in older plans. */
  live?: LiveWindowInfo;
}

/** A start the live check may take instead of the planned one: the cut moved by shiftMs. */
export interface LiveSlot {
  shiftMs: number;
  /** Forecast writes over the lookback before that start: mean and upper quantile. */
  leadMean: number;
  leadUpper: number;
  /** Forecast writes inside the window moved there (mean). */
  heldMean?: number;
  /** Forecast server load beside the dump moved there (PlannedWindow.overlapCost). */
  overlap?: number;
  /**
   * Forecast writes inside the window moved there at each level of the forecast's spread
   * (Forecast.spread), where it has one: early check points and the planned start carry it.
   */
  heldSpread?: number[];
  /** Of `overlap`, the member's own forecast writes beside its dump: the share its live count scales. */
  ownLoad?: number;
  /** Forecast writes inside the window at the upper quantile (a hold queue's peak there). */
  heldUpper?: number;
}

export interface LiveWindowInfo {
  /** The check looks at the live writes over this span before startMs. */
  lookbackMs: number;
  /** Forecast writes over that span: mean and upper quantile. */
  leadMean: number;
  leadUpper: number;
  /** PlanInput.overlapWeight / heldWeight: what the early check weighs a dump's overlap at. */
  overlapPerHeld?: number;
  /** LiveSlot.heldSpread, ownLoad and heldUpper of the window where it stands. */
  heldSpread?: number[];
  ownLoad?: number;
  heldUpper?: number;
  /**
   * The next good slots for the whole group, earliest first: the cut moved by shiftMs, with the
   * forecast for the lookback before each (a moved window is checked again at its new start).
   */
  shifts: LiveSlot[];
  /**
   * Early check points, earliest first (shiftMs < 0): starts before the planned one where the
   * lookback reads one forecast step, so the live count tells how that step is really going; the
   * window may start there when that beats what waiting is expected to cost (live-adjust.ts).
   */
  earlier?: LiveSlot[];
  /** Set while checking early: check points before the planned start left, this one included. */
  early?: number;
  maxQueuedRequests: number;
}

export interface InfeasiblePartition {
  partition: string;
  group: string;
  reason: string;
}

export interface SkippedPartition {
  partition: string;
  group: string;
  reason: string;
}

export type SolverName = 'exact' | 'heuristic' | 'uniform';

export interface Plan {
  intervalStartMs: number;
  intervalEndMs: number;
  solver: SolverName;
  windows: PlannedWindow[];
  infeasible: InfeasiblePartition[];
  skipped: SkippedPartition[];
  /** Totals over the planned windows, and the weighted objective the solver minimised. */
  totals: { heldWrites: number; overlapCost: number; objective: number };
}
