/**
 * Pure half of a planning cycle: recorded facts (history, past dumps, sizes) and the configuration
 * in, the planner's PlanInput out. The database half (plan-cycle.ts) only gathers the facts.
 */
import type { Config } from '../config/schema.js';
import { forecast } from '../forecast/index.js';
import type { Forecast, Series } from '../forecast/types.js';
import { expectedDumpMs, type PartitionPlanInput, type PastDump, type PlanInput } from '../planner/index.js';
import { groupPartitions } from '../windows/groups.js';

/**
 * Expected time for in-flight writes to finish once holding starts, and to export and pin the
 * snapshot. Nothing measures them per partition yet; on one server both are milliseconds, and the
 * budget check only needs them not to be optimistic.
 */
export const DEFAULT_DRAIN_MS = 50;
export const DEFAULT_PIN_MS = 50;
/** pg_dump start-up (connect, catalog queries, lock) for a partition never dumped before. */
export const FIRST_DUMP_OVERHEAD_MS = 1_000;
/** Past dumps kept as evidence of a partition's dump speed. */
export const PAST_DUMPS = 5;

/** What is known about one managed partition when planning starts. */
export interface PartitionFacts {
  /** schema.partition */
  name: string;
  /** Its root table (for `table` consistency groups). */
  root: string;
  /** Where it lives: 'local', or the postgres_fdw server of a foreign partition. */
  server: string;
  /** pg_total_relation_size now. */
  relationBytes: number;
  /** Recent good dumps, oldest first: artifact bytes and pg_dump time. */
  pastDumps: readonly PastDump[];
  /** Writes since its last good backup; null when it was never backed up (unknown). */
  writesSinceLastBackup: number | null;
  /** Measured snapshot pin time of its server (largest recent one), ms; absent: DEFAULT_PIN_MS. */
  pinMs?: number;
  /** Measured drain time of recent windows on its server (largest), ms; absent: DEFAULT_DRAIN_MS. */
  drainMs?: number;
}

/**
 * Expected dump duration. With past dumps, their own speed applied to the last artifact's size:
 * `bytes` of a past dump is the compressed artifact, so pairing that speed with the relation size
 * would overstate the time by the compression ratio. Growth since the last dump is not counted
 * (the relation size at that time is not recorded). Without past dumps: relation size at the
 * configured default throughput, plus pg_dump's start-up.
 */
export function dumpEstimateMs(f: Pick<PartitionFacts, 'relationBytes' | 'pastDumps'>, defaultThroughputBytesPerSec: number): number {
  const recent = f.pastDumps.filter((d) => d.bytes > 0 && d.durationMs > 0).slice(-PAST_DUMPS);
  const last = recent[recent.length - 1];
  if (last === undefined) return expectedDumpMs({ relationBytes: f.relationBytes, defaultThroughputBytesPerSec, overheadMs: FIRST_DUMP_OVERHEAD_MS });
  return expectedDumpMs({ relationBytes: last.bytes, pastDumps: recent, defaultThroughputBytesPerSec });
}

export interface IntervalForecastOptions {
  /** End of the recorded history (exclusive): the forecast starts here. */
  historyEndMs: number;
  /** The forecast must reach this instant (the end of the interval). */
  untilMs: number;
  /** Step of the history series (forecast.stepMinutes). */
  stepMs: number;
  quantile: number;
  /**
   * Real milliseconds per recorded millisecond after `historyEndMs`; 1 in production. Below 1 the
   * forecast is laid out compressed (1/60: each recorded minute becomes a real second), so a test
   * can plan a day-shaped load over seconds.
   */
  timeScale?: number;
}

/**
 * The forecast of one partition over the interval. The recorded series ends at its last bucket,
 * and history stores no quiet minute, so it is padded with zeros to `historyEndMs`: otherwise a
 * partition quiet for the last hour would be forecast from an hour ago. No history at all predicts
 * no writes (model `no-history`): the planner then places it by the others' load alone.
 */
export function forecastForInterval(history: Series | null, o: IntervalForecastOptions): Forecast {
  const scale = o.timeScale ?? 1;
  const realStepMs = o.stepMs * scale;
  const horizonSteps = Math.max(1, Math.ceil((o.untilMs - o.historyEndMs) / realStepMs));
  if (history === null || history.values.length === 0) {
    return { startMs: o.historyEndMs, stepMs: realStepMs, mean: new Float64Array(horizonSteps), upper: new Float64Array(horizonSteps), model: 'no-history' };
  }
  const padded = padTo(history, o.historyEndMs);
  const f = forecast(padded, { horizonSteps, quantile: o.quantile });
  return { ...f, startMs: o.historyEndMs, stepMs: realStepMs };
}

/** Extend (with zeros) or cut the series so that it ends exactly at `endMs`. */
export function padTo(s: Series, endMs: number): Series {
  const steps = Math.max(0, Math.floor((endMs - s.startMs) / s.stepMs));
  if (steps === s.values.length) return s;
  const values = new Float64Array(steps);
  values.set(s.values.subarray(0, Math.min(steps, s.values.length)));
  return { startMs: s.startMs, stepMs: s.stepMs, values };
}

export interface BuildPlanInputOptions {
  intervalStartMs: number;
  intervalEndMs: number;
  /** Measured max |offset| + uncertainty across live nodes (see measuredMargin); config adds to it. */
  measuredSkewMs?: number;
  /** Smallest client round trip measured on any live node; replaces planner.minRoundTripMs. */
  measuredMinRoundTripMs?: number | null;
}

/** What the live nodes reported: their clock offsets to the server and client round trips. */
export interface NodeClockReport {
  offsetMs: number | null;
  uncertaintyMs: number | null;
  minClientRttMs: number | null;
}

export interface MeasuredMargin {
  /** max over live nodes of |offset| + uncertainty, ms (0 without reports). */
  skewMs: number;
  /** The smallest client round trip any live node saw, ms; null when none was seen. */
  minClientRttMs: number | null;
  nodes: number;
}

/**
 * The original design's margin inputs from measurements: each node's offset is known to within its
 * uncertainty, so the worst a node's clock can be off is |offset| + uncertainty.
 */
export function measuredMargin(nodes: readonly NodeClockReport[]): MeasuredMargin {
  let skewMs = 0;
  let rtt: number | null = null;
  for (const n of nodes) {
    if (n.offsetMs !== null) skewMs = Math.max(skewMs, Math.abs(n.offsetMs) + (n.uncertaintyMs ?? 0));
    if (n.minClientRttMs !== null && (rtt === null || n.minClientRttMs < rtt)) rtt = n.minClientRttMs;
  }
  return { skewMs, minClientRttMs: rtt, nodes: nodes.length };
}

/**
 * Budgets, modes and release rules from `windows.*` with per-partition overrides, consistency
 * groups from `windows.groups`, weights and margins from `planner.*`, the cap from `backup.*`.
 */
export function buildPlanInput(config: Config, facts: readonly PartitionFacts[], forecasts: ReadonlyMap<string, Forecast>, o: BuildPlanInputOptions): PlanInput {
  const names = facts.map((f) => f.name);
  const rootOf = new Map(facts.map((f) => [f.name, f.root]));
  const groupOf = new Map<string, string>();
  for (const g of groupPartitions(names, config.windows.groups, (p) => rootOf.get(p) ?? p)) {
    for (const p of g.partitions) groupOf.set(p, g.name);
  }
  const partitions: PartitionPlanInput[] = facts.map((f) => {
    const over = config.windows.partitions[f.name] ?? {};
    const fc = forecasts.get(f.name);
    if (fc === undefined) throw new Error(`no forecast for ${f.name}`);
    return {
      name: f.name,
      server: f.server,
      group: groupOf.get(f.name) ?? f.name,
      forecast: fc,
      dumpMs: dumpEstimateMs(f, config.backup.defaultThroughputBytesPerSec),
      drainMs: f.drainMs ?? DEFAULT_DRAIN_MS,
      pinMs: f.pinMs ?? DEFAULT_PIN_MS,
      maxHoldMs: over.maxHoldMs ?? config.windows.maxHoldMs,
      maxQueuedRequests: over.maxQueuedRequests ?? config.windows.maxQueuedRequests,
      mode: over.mode ?? config.windows.mode,
      ...(over.release ? { release: over.release } : {}),
      writesSinceLastBackup: f.writesSinceLastBackup,
    };
  });
  return {
    intervalStartMs: o.intervalStartMs,
    intervalEndMs: o.intervalEndMs,
    partitions,
    release: config.windows.release,
    maxConcurrentDumps: config.backup.maxConcurrentDumps,
    // Configuration only widens the margin: it adds to the measured skew, and a configured round
    // trip (which would shorten the hold) stands in only when none was measured.
    clockSkewMs: (o.measuredSkewMs ?? 0) + config.planner.clockSkewMs,
    minRoundTripMs: o.measuredMinRoundTripMs ?? config.planner.minRoundTripMs,
    heldWeight: config.planner.heldWeight,
    overlapWeight: config.planner.overlapWeight,
    skipUnchanged: config.backup.skipUnchanged,
  };
}
