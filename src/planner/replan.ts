/**
 * Intraday update: as the interval runs, the windows not yet armed are planned again on the day's
 * forecast corrected by the load seen so far. The day-ahead forecast is made at the interval's
 * start; a day that runs hotter (or quieter) than forecast for hours usually keeps doing so, and a
 * slot that was within the queue budget at the day-ahead upper quantile may no longer be at the
 * corrected one. Pure: the caller hands in what was observed up to `nowMs` and nothing after it.
 */
import type { Forecast } from '../forecast/types.js';
import { Cumulative } from './curve.js';
import { capacityOf } from './model.js';
import { plan, type PlanOptions } from './plan.js';
import type { Plan, PlanInput, PlannedWindow } from './types.js';

export interface ReplanOptions {
  /** The level ratio is actual / forecast over at most this span before now (inside the interval). */
  lookbackMs: number;
  /** Weight of the observed ratio: corrected = 1 + shrink × (actual / forecast − 1). */
  shrink: number;
  /** Windows starting before now + this are armed (a node's live check reads before the start): left as they are. */
  armLeadMs: number;
  /** Below this much forecast over the lookback the ratio is noise: no correction. */
  minForecastWrites: number;
}

export const DEFAULT_REPLAN_OPTIONS: ReplanOptions = {
  lookbackMs: 3 * 3_600_000,
  shrink: 0.5,
  armLeadMs: 5 * 60_000,
  minForecastWrites: 100,
};

/**
 * The shrunk ratio of observed to forecast writes over [max(fromMs, nowMs − lookback), nowMs);
 * 1 when there is too little forecast to judge. `observed` must hold nothing after nowMs that
 * matters: only its amount before nowMs is read.
 */
export function levelRatio(forecast: Forecast, observed: Cumulative, fromMs: number, nowMs: number, opts: ReplanOptions = DEFAULT_REPLAN_OPTIONS): number {
  const a = Math.max(fromMs, nowMs - opts.lookbackMs, forecast.startMs);
  if (!(nowMs > a)) return 1;
  const expected = new Cumulative({ ...forecast, values: forecast.mean }).between(a, nowMs);
  if (!(expected >= opts.minForecastWrites)) return 1;
  const seen = observed.between(a, nowMs);
  return Math.max(0, 1 + opts.shrink * (seen / expected - 1));
}

/**
 * The forecast, mean and band, times `ratio` everywhere: the level correction carries to the rest
 * of the day, and the live check's lead forecast scales with the window's, so its projection of
 * the queue (window × live / lead) is not corrected twice.
 */
export function scaleForecast(f: Forecast, ratio: number): Forecast {
  const times = (v: Float64Array): Float64Array => v.map((x) => x * ratio);
  return { ...f, mean: times(f.mean), upper: times(f.upper), ...(f.lower === undefined ? {} : { lower: times(f.lower) }), model: `${f.model}×${ratio.toFixed(3)}` };
}

export interface ReplanResult {
  plan: Plan;
  /** Groups whose window moved. */
  moved: string[];
  /** Per partition, the level correction applied (pending partitions only). */
  ratios: Map<string, number>;
}

/** True when no server runs more dumps at once than its cap. */
function withinCapacity(input: PlanInput, windows: readonly PlannedWindow[]): boolean {
  const byServer = new Map<string, [number, number][]>();
  for (const w of windows) byServer.set(w.server, [...(byServer.get(w.server) ?? []), [w.dumpStartMs, w.dumpEndMs]]);
  for (const [server, spans] of byServer) {
    // Ends sort before starts at one instant: a dump ending as another starts shares no time.
    const events = spans.flatMap(([a, b]) => [[a, 1], [b, -1]] as [number, number][]).sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    let running = 0;
    for (const [, d] of events) if ((running += d) > capacityOf(input, server)) return false;
  }
  return true;
}

/**
 * Plans again, at `nowMs`, every consistency group none of whose windows is armed yet, on its
 * forecast times its level ratio; armed and started windows stay. Never loses a backup to the
 * re-plan: a group the new plan cannot place keeps its current window, and if the merged plan
 * would break a server's dump cap (the re-plan does not see the armed windows' dumps), the whole
 * current plan stays. With no correction anywhere (every ratio 1) nothing is re-solved: the
 * current plan is already the best for the forecast it would be solved on.
 *
 * `input` is the input the current plan was made from; `observed` holds each partition's actual
 * writes (read only before nowMs). Server load beside a dump counts the pending partitions only.
 */
export async function replanPending(
  current: Plan,
  input: PlanInput,
  observed: ReadonlyMap<string, Cumulative>,
  nowMs: number,
  opts: ReplanOptions = DEFAULT_REPLAN_OPTIONS,
  planOpts: PlanOptions = {},
): Promise<ReplanResult> {
  const ratios = new Map<string, number>();
  const corrected = new Map<string, Forecast>();
  for (const p of input.partitions) {
    const seen = observed.get(p.name);
    const r = seen === undefined ? 1 : levelRatio(p.forecast, seen, input.intervalStartMs, nowMs, opts);
    ratios.set(p.name, r);
    if (r !== 1) corrected.set(p.name, scaleForecast(p.forecast, r));
  }
  const result = await replanWith(current, input, corrected, nowMs, opts.armLeadMs, planOpts);
  return { ...result, ratios };
}

/**
 * The re-plan itself, on whatever updated forecasts the caller has (a level correction, or a
 * forecast refit on the day so far): partitions absent from `updated` keep their forecast. With
 * no update at all nothing is re-solved.
 */
export async function replanWith(
  current: Plan,
  input: PlanInput,
  updated: ReadonlyMap<string, Forecast>,
  nowMs: number,
  armLeadMs: number,
  planOpts: PlanOptions = {},
): Promise<ReplanResult> {
  const unchanged: ReplanResult = { plan: current, moved: [], ratios: new Map() };
  const armedBy = nowMs + armLeadMs;
  const byGroup = new Map<string, PlannedWindow[]>();
  for (const w of current.windows) byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w]);
  const pending = new Set([...byGroup].filter(([, ws]) => ws.every((w) => w.startMs >= armedBy)).map(([g]) => g));
  if (pending.size === 0 || armedBy >= current.intervalEndMs) return unchanged;
  const parts = input.partitions.filter((p) => pending.has(p.group ?? p.name)).map((p) => ({ ...p, forecast: updated.get(p.name) ?? p.forecast }));
  if (!parts.some((p) => updated.has(p.name))) return unchanged;

  const next = await plan({ ...input, earliestStartMs: armedBy, partitions: parts }, planOpts);
  const placed = new Map<string, PlannedWindow[]>();
  for (const w of next.windows) placed.set(w.group, [...(placed.get(w.group) ?? []), w]);
  const windows: PlannedWindow[] = [];
  const moved: string[] = [];
  for (const [group, ws] of byGroup) {
    const fresh = pending.has(group) ? placed.get(group) : undefined;
    // Not placed by the re-plan (no slot left within the budget): the current window still backs it up.
    if (fresh === undefined || fresh.length !== ws.length) {
      windows.push(...ws);
      continue;
    }
    if (fresh[0]?.cutMs !== ws[0]?.cutMs) moved.push(group);
    windows.push(...fresh);
  }
  if (!withinCapacity(input, windows)) return unchanged;
  windows.sort((a, b) => a.startMs - b.startMs || (a.partition < b.partition ? -1 : 1));
  const heldWrites = windows.reduce((s, w) => s + w.heldWrites, 0);
  const overlapCost = windows.reduce((s, w) => s + w.overlapCost, 0);
  return {
    // The objective of the merged plan at the mean (the solvers' risk term is per solve).
    plan: { ...current, windows, totals: { heldWrites, overlapCost, objective: input.heldWeight * heldWrites + input.overlapWeight * overlapCost } },
    moved,
    ratios: new Map(),
  };
}
