/**
 * When backups happen on a node.
 *
 * Planned (planner.enabled, the default): a cron tick at `backup.planAt` (else `backup.schedule`)
 * plans the next `backup.interval` under the planning lock and stores the plan. Every node arms
 * from stored plans (NOTIFY on PLAN_CHANNEL, plus a poll in case a notification was missed): one
 * timer per consistency group, at its window start by this node's own clock, which then backs the
 * group up with trigger 'plan' and records the outcome in quietcut.plan_windows. A node started
 * after planning time while the interval is still ahead plans on start (or arms the stored plan).
 *
 * Unplanned (planner.enabled false): every managed partition is backed up at each
 * `backup.schedule` tick, as before there was a planner.
 */
import cron, { type ScheduledTask } from 'node-cron';
import pg from 'pg';
import { clientConfig, type PgTarget } from '../backup/index.js';
import type { LeafInfo } from '../catalog/index.js';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../metrics/registry.js';
import type { PlannedWindow } from '../planner/index.js';
import { nodeLiveDecision, shiftWindows, withEarlyChecks } from '../planner/live-adjust.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { BackupRunResult } from './backup-run.js';
import { nextInterval, type IntervalInstants } from './interval.js';
import { runPlanCycle, setPlanMetrics, type PlanCycleResult } from './plan-cycle.js';
import { activePlanIds, claimWindows, findPlanId, loadPlan, markWindows, PLAN_CHANNEL, type StoredPlan, type WindowOutcome } from './plan-store.js';

/** setTimeout's longest delay (about 24.8 days); longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SchedulerDeps {
  config: Config;
  pool: pg.Pool;
  /** For the LISTEN connection (a pooled client cannot keep a LISTEN). */
  target: PgTarget;
  node: string;
  metrics: Metrics;
  log?: Logger;
  leaves: () => readonly LeafInfo[];
  backup: (partitions: readonly string[], o: { trigger: string }) => Promise<BackupRunResult>;
  /** How often stored plans are re-read in case a NOTIFY was missed. Default 30 s. */
  pollMs?: number;
  /** A group whose start passed less than this ago (node busy or just started) still runs. Default 5 s. */
  lateGraceMs?: number;
  /** Writes this node has forwarded to a partition so far (a counter): feeds the live check before each window. */
  liveWrites?: (partition: string) => number;
  /**
   * Whether this node forwards all of the writes (no other live node). Only then may the live check
   * start a window before its planned time: a node that sees only its share of the writes would
   * read a low count as a quiet spell. Absent: never early.
   */
  seesAllWrites?: () => boolean;
}

/** Which mode the configuration asks for, and the cron expression that drives it (null: none). */
export function scheduleMode(config: Config): { mode: 'planned' | 'unplanned'; cron: string | null } {
  if (!config.planner.enabled) return { mode: 'unplanned', cron: config.backup.schedule };
  return { mode: 'planned', cron: config.backup.planAt ?? config.backup.schedule };
}

/** One consistency group of a plan: its members run in one backup, from the earliest start. */
export interface ArmedGroup {
  group: string;
  partitions: string[];
  fireAtMs: number;
  windows: PlannedWindow[];
}

/**
 * The group armed at its first early check point whose lookback is still ahead (planner/
 * live-adjust.ts withEarlyChecks); the planned start stays among the later checks.
 */
export function checkEarly(g: ArmedGroup, nowMs: number): ArmedGroup {
  const windows = withEarlyChecks(g.windows, nowMs);
  return { ...g, windows, fireAtMs: Math.min(...windows.map((w) => w.startMs)) };
}

/** The groups of a plan in start order (pure: what the timers are armed with). */
export function groupsToArm(stored: Pick<StoredPlan, 'plan' | 'status'>): ArmedGroup[] {
  const byGroup = new Map<string, PlannedWindow[]>();
  for (const w of stored.plan.windows) {
    const st = stored.status.get(w.partition)?.status ?? 'planned';
    if (st !== 'planned' && st !== 'armed') continue;
    byGroup.set(w.group, [...(byGroup.get(w.group) ?? []), w]);
  }
  return [...byGroup.entries()]
    .map(([group, windows]) => ({ group, windows, partitions: windows.map((w) => w.partition), fireAtMs: Math.min(...windows.map((w) => w.startMs)) }))
    .sort((a, b) => a.fireAtMs - b.fireAtMs || (a.group < b.group ? -1 : 1));
}

interface ArmedPlan {
  planId: string;
  intervalKey: string;
  intervalEndMs: number;
  timers: Set<NodeJS.Timeout>;
}

export class PlanScheduler {
  readonly mode: 'planned' | 'unplanned';
  private readonly cronExpr: string | null;
  private readonly log: Logger;
  private task: ScheduledTask | null = null;
  private listener: pg.Client | null = null;
  private poll: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly armed = new Map<string, ArmedPlan>();
  /** Newest plan armed per interval: a newer plan for the same interval replaces the older. */
  private readonly byInterval = new Map<string, string>();
  private readonly arming = new Map<string, Promise<void>>();
  private readonly inflight = new Set<Promise<unknown>>();
  /** Settles when start-up planning (if any) is done; tests wait on it. */
  ready: Promise<void> = Promise.resolve();

  constructor(private readonly deps: SchedulerDeps) {
    const m = scheduleMode(deps.config);
    this.mode = m.mode;
    this.cronExpr = m.cron;
    this.log = deps.log ?? silentLogger;
  }

  /** Plan ids armed on this node (tests, status). */
  armedPlans(): string[] {
    return [...this.armed.keys()];
  }

  async start(): Promise<void> {
    const { config } = this.deps;
    if (this.mode === 'unplanned') {
      if (this.cronExpr !== null) this.task = cron.schedule(this.cronExpr, () => this.backupEverything(), { timezone: config.backup.timezone, noOverlap: true });
      return;
    }
    // Without a cron expression this node takes no part in planned backups (not even arming):
    // backups then happen only on demand.
    if (this.cronExpr === null) return;
    this.task = cron.schedule(this.cronExpr, () => this.track(this.planAndArm()), { timezone: config.backup.timezone, noOverlap: true });
    const c = new pg.Client(clientConfig(this.deps.target, 'quietcut plans'));
    c.on('error', (err) => this.log.warn({ err: err.message }, 'plan listener lost; polling continues'));
    c.on('notification', (n) => {
      if (n.payload) this.track(this.armPlan(n.payload));
    });
    await c.connect();
    await c.query(`LISTEN ${PLAN_CHANNEL}`);
    this.listener = c;
    this.poll = setInterval(() => this.track(this.armActive()), this.deps.pollMs ?? 30_000);
    this.poll.unref();
    await this.armActive();
    this.ready = this.track(this.planOnStart());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.task?.stop();
    if (this.poll) clearInterval(this.poll);
    for (const a of this.armed.values()) for (const t of a.timers) clearTimeout(t);
    await this.listener?.end().catch(() => undefined);
    await Promise.allSettled([...this.inflight]);
  }

  /**
   * Plan an interval now (default: the next one by the configuration) and arm the result.
   * `timeScale` compresses recorded time into real time (tests); `force` replaces a stored plan.
   */
  async planNow(o: { interval?: IntervalInstants; nowMs?: number; timeScale?: number; force?: boolean } = {}): Promise<PlanCycleResult> {
    const { config } = this.deps;
    const nowMs = o.nowMs ?? Date.now();
    const interval = o.interval ?? nextInterval(nowMs, config.backup.interval, config.backup.timezone);
    const res = await runPlanCycle(this.deps.pool, { config, node: this.deps.node, metrics: this.deps.metrics, log: this.log }, {
      interval,
      nowMs,
      leaves: this.deps.leaves(),
      log: this.log,
      ...(o.timeScale === undefined ? {} : { timeScale: o.timeScale }),
      ...(o.force === undefined ? {} : { force: o.force }),
    });
    if (!res.acquired) this.log.info('another node is planning; its plan will be armed when stored');
    else await this.armPlan(res.planId);
    return res;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inflight.add(p);
    const done = (): void => {
      this.inflight.delete(p);
    };
    p.then(done, done);
    return p;
  }

  private async planAndArm(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.planNow();
    } catch (err) {
      this.log.error({ err }, 'planning failed');
    }
  }

  /**
   * A node that missed its planning tick (down, or started after it) plans on start when the next
   * tick would come too late for the next interval; a stored plan for that interval wins.
   */
  private async planOnStart(): Promise<void> {
    const { config } = this.deps;
    const now = Date.now();
    const next = nextInterval(now, config.backup.interval, config.backup.timezone);
    const tick = this.task?.getNextRun() ?? null;
    if (tick !== null && tick.getTime() < next.startMs) return;
    try {
      const stored = await findPlanId(this.deps.pool, next);
      if (stored !== null) return this.armPlan(stored);
      this.log.info({ interval: [new Date(next.startMs).toISOString(), new Date(next.endMs).toISOString()] }, 'planning time has passed for the next interval: planning now');
      await this.planNow({ interval: next, nowMs: now });
    } catch (err) {
      this.log.error({ err }, 'planning on start failed');
    }
  }

  private async armActive(): Promise<void> {
    if (this.stopped) return;
    try {
      const now = Date.now();
      for (const [id, a] of this.armed) {
        if (a.intervalEndMs <= now && a.timers.size === 0) this.armed.delete(id);
      }
      for (const id of await activePlanIds(this.deps.pool, now)) await this.armPlan(id);
    } catch (err) {
      this.log.warn({ err }, 'reading stored plans failed');
    }
  }

  /** Arm a stored plan once; concurrent calls (NOTIFY, poll, planNow) share the first. */
  armPlan(planId: string): Promise<void> {
    if (this.armed.has(planId)) return Promise.resolve();
    let p = this.arming.get(planId);
    if (p === undefined) {
      p = this.doArm(planId).finally(() => this.arming.delete(planId));
      this.arming.set(planId, p);
    }
    return p;
  }

  private async doArm(planId: string): Promise<void> {
    if (this.stopped) return;
    const stored = await loadPlan(this.deps.pool, planId);
    if (stored === null) return;
    const key = `${stored.plan.intervalStartMs}-${stored.plan.intervalEndMs}`;
    const current = this.byInterval.get(key);
    if (current !== undefined && BigInt(current) > BigInt(planId)) return;
    if (current !== undefined && current !== planId) this.disarm(current);
    const armed: ArmedPlan = { planId, intervalKey: key, intervalEndMs: stored.plan.intervalEndMs, timers: new Set() };
    this.armed.set(planId, armed);
    this.byInterval.set(key, planId);
    setPlanMetrics(this.deps.metrics, stored.plan);
    const now = Date.now();
    const grace = this.deps.lateGraceMs ?? 5_000;
    const toMark: WindowOutcome[] = [];
    for (const g of groupsToArm(stored)) {
      if (g.fireAtMs < now - grace) {
        this.log.warn({ planId, group: g.group, plannedAt: new Date(g.fireAtMs).toISOString() }, 'planned window start has passed on this node; not run here');
        continue;
      }
      this.armGroup(armed, stored, this.deps.liveWrites !== undefined && this.deps.seesAllWrites?.() === true ? checkEarly(g, now) : g);
      for (const p of g.partitions) toMark.push({ partition: p, status: 'armed' });
    }
    await markWindows(this.deps.pool, planId, toMark);
    this.log.info({ planId, groups: toMark.length }, 'plan armed');
  }

  private disarm(planId: string): void {
    const a = this.armed.get(planId);
    if (!a) return;
    for (const t of a.timers) clearTimeout(t);
    a.timers.clear();
    this.log.info({ planId }, 'plan replaced by a newer one for the same interval');
  }

  /** Run fn at atMs by this node's clock, chaining timers past setTimeout's limit. */
  private after(armed: ArmedPlan, atMs: number, fn: () => unknown): void {
    const delay = atMs - Date.now();
    const t = setTimeout(
      () => {
        armed.timers.delete(t);
        if (this.stopped) return;
        if (delay > MAX_TIMER_MS) this.after(armed, atMs, fn);
        else fn();
      },
      Math.max(0, Math.min(delay, MAX_TIMER_MS)),
    );
    t.unref();
    armed.timers.add(t);
  }

  /**
   * Arm one group; with live counts and live info in the plan, the counts are sampled one lookback
   * before the start and compared with the forecast at the start (planner/live-adjust.ts): the
   * group then runs, moves to its next good slot (and is checked again there) or is skipped; at an
   * early check point it runs or waits for the next point.
   */
  private armGroup(armed: ArmedPlan, stored: StoredPlan, g: ArmedGroup): void {
    const live = this.deps.liveWrites;
    const lookbackMs = g.windows[0]?.live?.lookbackMs ?? 0;
    if (live === undefined || lookbackMs <= 0 || g.fireAtMs - lookbackMs < Date.now()) {
      // An early point is only ever a start after a check: one that cannot be checked is passed.
      const next = g.windows[0]?.live?.shifts[0];
      if ((g.windows[0]?.live?.early ?? 0) > 0 && next !== undefined) {
        const windows = shiftWindows(g.windows, next.shiftMs);
        this.armGroup(armed, stored, { ...g, windows, fireAtMs: Math.min(...windows.map((w) => w.startMs)) });
        return;
      }
      this.after(armed, g.fireAtMs, () => this.track(this.runGroup(stored, g)));
      return;
    }
    let before: Map<string, number> | null = null;
    this.after(armed, g.fireAtMs - lookbackMs, () => (before = new Map(g.partitions.map((p) => [p, live(p)]))));
    this.after(armed, g.fireAtMs, () => {
      const observed = new Map(g.partitions.map((p) => [p, live(p) - (before?.get(p) ?? live(p))]));
      // Asked again here: a node that joined since arming takes a share of the writes.
      const d = nodeLiveDecision(g.windows, observed, this.deps.seesAllWrites?.() === true);
      if (d.action === 'keep') {
        if (d.early === true) {
          this.deps.metrics.planLiveAdjustments.labels('started_early').inc();
          this.log.info({ planId: stored.planId, group: g.group }, d.reason ?? 'started early');
        } else if (d.reason !== null) this.log.warn({ group: g.group }, d.reason);
        this.track(this.runGroup(stored, g));
        return;
      }
      if (d.action === 'wait') {
        this.log.debug({ planId: stored.planId, group: g.group }, d.reason);
        const windows = shiftWindows(g.windows, d.shiftMs);
        this.armGroup(armed, stored, { ...g, windows, fireAtMs: Math.min(...windows.map((w) => w.startMs)) });
        return;
      }
      this.deps.metrics.planLiveAdjustments.labels(d.action === 'move' ? 'moved' : 'skipped').inc();
      this.log.warn({ planId: stored.planId, group: g.group, action: d.action }, d.reason);
      if (d.action === 'move') {
        const windows = shiftWindows(g.windows, d.shiftMs);
        this.armGroup(armed, stored, { ...g, windows, fireAtMs: Math.min(...windows.map((w) => w.startMs)) });
        return;
      }
      this.track(markWindows(this.deps.pool, stored.planId, g.partitions.map((p) => ({ partition: p, status: 'skipped' as const, reason: d.reason })))).catch((err: unknown) => this.log.warn({ err }, 'recording a skipped window failed'));
    });
  }

  private async runGroup(stored: StoredPlan, g: ArmedGroup): Promise<void> {
    const lateMs = Date.now() - g.fireAtMs;
    this.log.info({ planId: stored.planId, group: g.group, partitions: g.partitions, lateMs }, 'planned window starting');
    let outcomes: WindowOutcome[];
    try {
      const claimed = await claimWindows(this.deps.pool, stored.planId, g.partitions, this.deps.node);
      if (claimed.length === 0) {
        this.log.info({ planId: stored.planId, group: g.group }, 'another node runs this planned window; it is held here when it opens');
        return;
      }
      const result = await this.deps.backup(g.partitions, { trigger: 'plan' });
      if (Date.now() - g.fireAtMs > 2 * Math.max(...g.windows.map((w) => w.dumpEndMs - w.startMs)) + 10_000) {
        this.log.warn({ group: g.group }, 'planned window ran far later or longer than planned (another run on this node went first?)');
      }
      outcomes = g.windows.map((w) => {
        const r = result.partitions.find((x) => x.partition === w.partition);
        if (r === undefined) return { partition: w.partition, status: 'failed', reason: 'not in the backup run', runId: result.runId };
        const actual = r.held + r.rejected;
        recordForecastError(this.deps.metrics, w, actual, r.windowMs);
        return { partition: w.partition, status: r.status === 'good' ? 'done' : 'failed', reason: r.reason, runId: result.runId, actualWrites: actual };
      });
    } catch (err) {
      this.log.error({ err, group: g.group }, 'planned backup failed');
      outcomes = g.partitions.map((p) => ({ partition: p, status: 'failed', reason: (err as Error).message }));
    }
    await markWindows(this.deps.pool, stored.planId, outcomes).catch((err: unknown) => this.log.warn({ err }, 'recording planned window outcome failed'));
  }

  private backupEverything(): void {
    const all = this.deps.leaves().map((l) => l.name);
    this.track(this.deps.backup(all, { trigger: 'schedule' })).catch((err: unknown) => this.log.error({ err }, 'scheduled backup failed'));
  }
}

/**
 * Actual over predicted writes in the window. The window as it ran is rarely exactly as long as
 * planned, so the prediction is scaled to its real length: the ratio compares rates, which is
 * what the forecast claims. Nothing predicted: no ratio (it would be infinite or 0/0).
 */
export function recordForecastError(metrics: Metrics, w: Pick<PlannedWindow, 'partition' | 'heldWrites' | 'holdMs'>, actual: number, windowMs: number | null): void {
  if (windowMs === null || !(w.holdMs > 0)) return;
  const predicted = w.heldWrites * (windowMs / w.holdMs);
  if (!(predicted > 0)) return;
  metrics.forecastErrorRatio.labels(metrics.partition(w.partition)).set(actual / predicted);
}
