/**
 * Plans in the database: `quietcut.plans` holds the whole plan (JSON) and `quietcut.plan_windows`
 * one row per partition (planned, infeasible or skipped, then armed, done or failed). Every node
 * arms its timers from these rows; a NOTIFY on PLAN_CHANNEL tells them a plan is there.
 */
import type pg from 'pg';
import type { Plan } from '../planner/index.js';

export const PLAN_CHANNEL = 'quietcut_plan';

export type PlanWindowStatus = 'planned' | 'armed' | 'running' | 'done' | 'failed' | 'infeasible' | 'skipped';

export interface StoredPlan {
  planId: string;
  createdAtMs: number;
  node: string;
  plan: Plan;
  /** Forecast model per partition, for people reading the plan later. */
  models: Record<string, string>;
  status: Map<string, { status: PlanWindowStatus; reason: string | null }>;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Reads and single-statement writes work on a pool or on one client. */
type Db = pg.ClientBase | pg.Pool;

/** Store a plan and its rows in one transaction; the NOTIFY is delivered at commit. */
export async function storePlan(client: pg.ClientBase, plan: Plan, o: { node: string; models: Record<string, string> }): Promise<string> {
  await client.query('BEGIN');
  try {
    const { rows } = await client.query<{ plan_id: string }>(
      'INSERT INTO quietcut.plans (interval_start, interval_end, node, plan) VALUES ($1, $2, $3, $4::jsonb) RETURNING plan_id::text',
      [iso(plan.intervalStartMs), iso(plan.intervalEndMs), o.node, JSON.stringify({ plan, models: o.models })],
    );
    const planId = (rows[0] as { plan_id: string }).plan_id;
    const w = plan.windows;
    await client.query(
      `INSERT INTO quietcut.plan_windows (plan_id, partition, grp, window_start, cut_at, window_end, dump_start, dump_end, predicted_held, predicted_queue_peak, status)
       SELECT $1, p, g, to_timestamp(s / 1000), to_timestamp(c / 1000), to_timestamp(e / 1000), to_timestamp(ds / 1000), to_timestamp(de / 1000), h, q, 'planned'
         FROM unnest($2::text[], $3::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::float8[], $10::float8[]) AS t(p, g, s, c, e, ds, de, h, q)`,
      [planId, w.map((x) => x.partition), w.map((x) => x.group), w.map((x) => x.startMs), w.map((x) => x.cutMs), w.map((x) => x.endMs), w.map((x) => x.dumpStartMs), w.map((x) => x.dumpEndMs), w.map((x) => x.heldWrites), w.map((x) => x.queuePeak)],
    );
    const other = [...plan.infeasible.map((x) => ({ ...x, status: 'infeasible' })), ...plan.skipped.map((x) => ({ ...x, status: 'skipped' }))];
    await client.query(
      `INSERT INTO quietcut.plan_windows (plan_id, partition, grp, status, reason)
       SELECT $1, p, g, s, r FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS t(p, g, s, r)`,
      [planId, other.map((x) => x.partition), other.map((x) => x.group), other.map((x) => x.status), other.map((x) => x.reason)],
    );
    await client.query('SELECT pg_notify($1, $2)', [PLAN_CHANNEL, planId]);
    await client.query('COMMIT');
    return planId;
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

/** The newest plan for exactly this interval, if any. */
export async function findPlanId(client: Db, interval: { startMs: number; endMs: number }): Promise<string | null> {
  const { rows } = await client.query<{ plan_id: string }>(
    'SELECT plan_id::text FROM quietcut.plans WHERE interval_start = $1 AND interval_end = $2 ORDER BY plan_id DESC LIMIT 1',
    [iso(interval.startMs), iso(interval.endMs)],
  );
  return rows[0]?.plan_id ?? null;
}

/** Plans whose interval has not ended: the newest per interval, oldest interval first. */
export async function activePlanIds(client: Db, nowMs: number): Promise<string[]> {
  const { rows } = await client.query<{ plan_id: string }>(
    `SELECT DISTINCT ON (interval_start, interval_end) plan_id::text
       FROM quietcut.plans WHERE interval_end > $1
      ORDER BY interval_start, interval_end, plan_id DESC`,
    [iso(nowMs)],
  );
  return rows.map((r) => r.plan_id);
}

export async function loadPlan(client: Db, planId: string): Promise<StoredPlan | null> {
  const { rows } = await client.query<{ created_ms: string; node: string; plan: { plan: Plan; models?: Record<string, string> } }>(
    'SELECT (extract(epoch FROM created_at) * 1000)::bigint::text AS created_ms, node, plan FROM quietcut.plans WHERE plan_id = $1',
    [planId],
  );
  const row = rows[0];
  if (row === undefined) return null;
  const w = await client.query<{ partition: string; status: PlanWindowStatus; reason: string | null }>(
    'SELECT partition, status, reason FROM quietcut.plan_windows WHERE plan_id = $1',
    [planId],
  );
  return {
    planId,
    createdAtMs: Number(row.created_ms),
    node: row.node,
    plan: row.plan.plan,
    models: row.plan.models ?? {},
    status: new Map(w.rows.map((r) => [r.partition, { status: r.status, reason: r.reason }])),
  };
}

export interface WindowOutcome {
  partition: string;
  status: PlanWindowStatus;
  reason?: string | null;
  runId?: string;
  actualWrites?: number;
}

/**
 * Record what became of windows. `done` and `failed` are final: a second node finishing the same
 * window later does not turn a failure into success or back (the first outcome stays).
 */
export async function markWindows(client: Db, planId: string, outcomes: readonly WindowOutcome[]): Promise<void> {
  for (const o of outcomes) {
    await client.query(
      `UPDATE quietcut.plan_windows
          SET status = $3, reason = coalesce($4, reason), run_id = coalesce($5, run_id), actual_writes = coalesce($6, actual_writes), updated_at = now()
        WHERE plan_id = $1 AND partition = $2 AND status NOT IN ('done', 'failed', 'infeasible', 'skipped')`,
      [planId, o.partition, o.status, o.reason ?? null, o.runId ?? null, o.actualWrites ?? null],
    );
  }
}

/**
 * Every node arms every plan, but one runs each group: the first to claim its windows. The others
 * hold the window when the runner opens it (follower.ts). Returns the partitions claimed (none: another node runs it).
 */
export async function claimWindows(client: Db, planId: string, partitions: readonly string[], node: string): Promise<string[]> {
  const { rows } = await client.query<{ partition: string }>(
    `UPDATE quietcut.plan_windows SET status = 'running', reason = 'run by ' || $3, updated_at = now()
      WHERE plan_id = $1 AND partition = ANY($2) AND status IN ('planned', 'armed')
      RETURNING partition`,
    [planId, [...partitions], node],
  );
  return rows.map((r) => r.partition);
}
