/**
 * One planning cycle: read what is recorded about every managed partition (write history, past
 * dumps, sizes, writes since the last good backup), forecast the interval, plan it, store the plan
 * and set the planner metrics. Only the leader (leader.ts) stores; `quietcut plan` previews with
 * computePlan alone.
 */
import type pg from 'pg';
import { parseTableName, quoteTable } from '../backup/index.js';
import { loadCatalog, type LeafInfo } from '../catalog/index.js';
import type { Config } from '../config/schema.js';
import type { Forecast, Series } from '../forecast/types.js';
import type { Metrics } from '../metrics/registry.js';
import { plan as solve, skewMarginMs, type Plan, type PlanInput, type PlanOptions, type PastDump } from '../planner/index.js';
import { readHistory } from '../stats/history.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { IntervalInstants } from './interval.js';
import { withPlanningLock } from './leader.js';
import { liveNodes } from './membership.js';
import { buildPlanInput, forecastForInterval, measuredMargin, PAST_DUMPS, type MeasuredMargin, type PartitionFacts } from './plan-input.js';
import { findPlanId, storePlan } from './plan-store.js';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export interface PlanCycleOptions {
  interval: IntervalInstants;
  nowMs?: number;
  /** See IntervalForecastOptions.timeScale: 1 in production, below 1 to compress time in tests. */
  timeScale?: number;
  /** Partitions to plan; default: every leaf of the managed tables, read from the catalog. */
  leaves?: readonly Pick<LeafInfo, 'name' | 'root' | 'foreignServer'>[];
  planOptions?: PlanOptions;
  log?: Logger;
}

export interface ComputedPlan {
  plan: Plan;
  input: PlanInput;
  forecasts: Map<string, Forecast>;
  /** Forecast model per partition ('no-history' when nothing was recorded). */
  models: Record<string, string>;
  /** The recorded history each forecast came from (partitions with none are absent). */
  histories: Map<string, Series>;
  /** What the live nodes measured, and the skew margin the planner used (skew − min round trip). */
  margin: MeasuredMargin & { marginMs: number };
}

/** Facts, forecasts and the plan, without storing anything. */
export async function computePlan(client: pg.ClientBase, config: Config, o: PlanCycleOptions): Promise<ComputedPlan> {
  const nowMs = o.nowMs ?? Date.now();
  if (o.interval.endMs <= nowMs) throw new Error(`the interval ${new Date(o.interval.startMs).toISOString()}–${new Date(o.interval.endMs).toISOString()} is over`);
  // Planning inside an interval already begun plans what is left of it.
  const interval = { startMs: Math.max(o.interval.startMs, Math.ceil(nowMs / 1000) * 1000), endMs: o.interval.endMs };
  const leaves = o.leaves ?? (await loadCatalog(client, { schemas: [...config.catalog.schemas], plainTables: [...config.catalog.plainTables] })).leaves();
  const facts = await gatherFacts(client, leaves);

  const stepMs = config.forecast.stepMinutes * MINUTE_MS;
  // The forecast starts where the last whole step of history ends.
  const historyEndMs = Math.floor(nowMs / stepMs) * stepMs;
  const forecasts = new Map<string, Forecast>();
  const models: Record<string, string> = {};
  const histories = new Map<string, Series>();
  for (const f of facts) {
    const history = await readHistory(client, { partition: f.name, stepMs, fromMs: historyEndMs - config.forecast.historyDays * DAY_MS, toMs: historyEndMs });
    if (history !== null) histories.set(f.name, history);
    const fc = forecastForInterval(history, {
      historyEndMs,
      untilMs: interval.endMs,
      stepMs,
      quantile: config.forecast.quantile,
      ...(o.timeScale === undefined ? {} : { timeScale: o.timeScale }),
    });
    forecasts.set(f.name, fc);
    models[f.name] = fc.model;
  }
  const margin = measuredMargin(await liveNodes(client));
  const input = buildPlanInput(config, facts, forecasts, {
    intervalStartMs: interval.startMs,
    intervalEndMs: interval.endMs,
    measuredSkewMs: margin.skewMs,
    measuredMinRoundTripMs: margin.minClientRttMs,
  });
  const plan = input.partitions.length === 0 ? emptyPlan(interval) : await solve(input, o.planOptions ?? {});
  return { plan, input, forecasts, models, histories, margin: { ...margin, marginMs: skewMarginMs(input) } };
}

function emptyPlan(i: IntervalInstants): Plan {
  return { intervalStartMs: i.startMs, intervalEndMs: i.endMs, solver: 'heuristic', windows: [], infeasible: [], skipped: [], totals: { heldWrites: 0, overlapCost: 0, objective: 0 } };
}

export type PlanCycleResult =
  | { acquired: false }
  | { acquired: true; planId: string; reused: true }
  | ({ acquired: true; planId: string; reused: false } & ComputedPlan);

/**
 * The leader's cycle: under the planning lock, plan the interval and store the plan, unless a plan
 * for that interval is stored already (another node, or this one before a restart, made it: every
 * node must arm the same plan). `force` plans again; the newer plan then wins on every node.
 */
export async function runPlanCycle(pool: pg.Pool, deps: { config: Config; node: string; metrics?: Metrics; log?: Logger }, o: PlanCycleOptions & { force?: boolean }): Promise<PlanCycleResult> {
  const log = deps.log ?? silentLogger;
  const res = await withPlanningLock(pool, async (client): Promise<PlanCycleResult> => {
    const existing = await findPlanId(client, o.interval);
    if (existing !== null && o.force !== true) return { acquired: true, planId: existing, reused: true };
    const started = Date.now();
    const computed = await computePlan(client, deps.config, o);
    const planId = await storePlan(client, computed.plan, { node: deps.node, models: computed.models });
    const p = computed.plan;
    log.info(
      { planId, interval: [new Date(p.intervalStartMs).toISOString(), new Date(p.intervalEndMs).toISOString()], windows: p.windows.length, infeasible: p.infeasible.length, skipped: p.skipped.length, solver: p.solver, ms: Date.now() - started },
      'plan stored',
    );
    for (const i of p.infeasible) log.warn({ partition: i.partition, reason: i.reason }, 'partition cannot be planned within its budget');
    if (deps.metrics) {
      setPlanMetrics(deps.metrics, p);
      deps.metrics.setForecasts(computed.forecasts);
    }
    return { acquired: true, planId, reused: false, ...computed };
  });
  return res.acquired ? res.value : res;
}

/** The current plan's gauges; partitions no longer in the plan lose their series. */
export function setPlanMetrics(metrics: Metrics, plan: Plan): void {
  metrics.plannedHeldWrites.reset();
  for (const w of plan.windows) metrics.plannedHeldWrites.labels(metrics.partition(w.partition)).inc(w.heldWrites);
  metrics.planInfeasible.set(plan.infeasible.length);
}

async function gatherFacts(client: pg.ClientBase, leaves: readonly Pick<LeafInfo, 'name' | 'root' | 'foreignServer'>[]): Promise<PartitionFacts[]> {
  const names = leaves.map((l) => l.name);
  const sizes = await client.query<{ name: string; bytes: string }>(
    `SELECT n AS name, coalesce(pg_total_relation_size(to_regclass(q)), 0)::text AS bytes FROM unnest($1::text[], $2::text[]) AS t(n, q)`,
    [names, names.map((n) => quoteTable(parseTableName(n)))],
  );
  const dumps = await client.query<{ partition: string; bytes: string; dump_ms: number }>(
    `SELECT partition, bytes::text, dump_ms FROM (
       SELECT rp.partition, rp.bytes, rp.dump_ms, r.started_at,
              row_number() OVER (PARTITION BY rp.partition ORDER BY r.started_at DESC) AS k
         FROM quietcut.run_partitions rp JOIN quietcut.runs r USING (run_id)
        WHERE rp.partition = ANY($1) AND rp.status = 'good' AND rp.bytes > 0 AND rp.dump_ms > 0) d
      WHERE k <= $2 ORDER BY partition, started_at`,
    [names, PAST_DUMPS],
  );
  // Writes the proxy saw plus rows changed behind its back (table stats), from the minute of the
  // last good cut on: counting that whole minute errs towards backing up.
  const since = await client.query<{ partition: string; writes: string }>(
    `WITH last AS (
       SELECT partition, max(coalesce(cut_at, window_start)) AS cut FROM quietcut.run_partitions
        WHERE partition = ANY($1) AND status = 'good' GROUP BY partition)
     SELECT l.partition,
            (coalesce((SELECT sum(statements) FROM quietcut.write_minutes w WHERE w.partition = l.partition AND w.minute >= date_trunc('minute', l.cut)), 0)
           + coalesce((SELECT sum(delta_rows) FROM quietcut.table_stat_minutes t WHERE t.partition = l.partition AND t.minute >= date_trunc('minute', l.cut)), 0))::text AS writes
       FROM last l WHERE l.cut IS NOT NULL`,
    [names],
  );
  // Measured snapshot pins per server: the largest of the recent ones, so a hold planned for a
  // (cross-server) cut covers its slowest server.
  const pins = await client.query<{ server: string; pin_ms: number; drain_ms: number | null }>(
    `SELECT server, max(pin_ms) AS pin_ms, max(drain_ms) AS drain_ms FROM (
       SELECT server, pin_ms, drain_ms, row_number() OVER (PARTITION BY server ORDER BY at DESC) AS k FROM quietcut.pins) p
      WHERE k <= $1 GROUP BY server`,
    [RECENT_PINS],
  );
  const pinOf = new Map(pins.rows.map((r) => [r.server, r.pin_ms]));
  const drainOf = new Map(pins.rows.filter((r) => r.drain_ms !== null).map((r) => [r.server, r.drain_ms!]));
  const size = new Map(sizes.rows.map((r) => [r.name, Number(r.bytes)]));
  const past = new Map<string, PastDump[]>();
  for (const r of dumps.rows) past.set(r.partition, [...(past.get(r.partition) ?? []), { bytes: Number(r.bytes), durationMs: r.dump_ms }]);
  const writes = new Map(since.rows.map((r) => [r.partition, Number(r.writes)]));
  return leaves.map((l) => ({
    name: l.name,
    root: l.root,
    server: l.foreignServer ?? 'local',
    relationBytes: size.get(l.name) ?? 0,
    pastDumps: past.get(l.name) ?? [],
    writesSinceLastBackup: writes.get(l.name) ?? null,
    ...(pinOf.has(l.foreignServer ?? 'local') ? { pinMs: pinOf.get(l.foreignServer ?? 'local')! } : {}),
    ...(drainOf.has(l.foreignServer ?? 'local') ? { drainMs: drainOf.get(l.foreignServer ?? 'local')! } : {}),
  }));
}

/** How many recent pins per server the estimate looks at. */
const RECENT_PINS = 20;
