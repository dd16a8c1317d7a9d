/**
 * The living demo `quietcut start` runs when no upstream is configured: load with a different daily
 * shape per partition, compressed so one simulated day lasts demo.dayMs; history sampled every
 * simulated step; at the end of every simulated day each partition is forecast and the planner
 * places the next day's windows; the windows run on the node and their backups land in
 * backup.dir. A first backup of every partition runs a few seconds in, so there is something to see
 * before the first day is over.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../config/schema.js';
import { setPlanMetrics } from '../../coordinator/plan-cycle.js';
import { recordForecastError } from '../../coordinator/scheduler.js';
import type { PlannedWindow } from '../../planner/index.js';
import type { Series } from '../../forecast/types.js';
import { renderPlanHtml } from '../../planner/render-html.js';
import { renderPlanTerminal } from '../../planner/render-terminal.js';
import type { Logger } from '../../util/log.js';
import { partitionStatus, type RunningNode } from '../run-node.js';
import { renderStatusTable } from '../status-table.js';
import { DemoHistory } from './history.js';
import type { LiveTable } from './live-table.js';
import { DemoLoad } from './load.js';
import { planDemoDay } from './plan-day.js';
import { demoStreams } from './shapes.js';
import { DAY_MS, SimClock, STEPS_PER_DAY } from './sim-clock.js';

export { LiveTable } from './live-table.js';

export interface DemoOptions {
  node: RunningNode;
  config: Config;
  log: Logger;
  /** Redraw the status table here every second; null: a JSON status log line every STATUS_LOG_MS. */
  table: LiveTable | null;
}

export interface Demo {
  clock: SimClock;
  /** The status table as the terminal shows it. */
  render(): string[];
  stop(): Promise<void>;
}

/** Without a terminal, a status line this often is enough to follow the demo in a log. */
const STATUS_LOG_MS = 10_000;
/** The first backup of everything, this far into the demo (or 5 % of a day, if shorter). */
const FIRST_BACKUP_MS = 5000;

export function startDemo(o: DemoOptions): Demo {
  const { node, config, log } = o;
  const clock = new SimClock(config.demo.dayMs);
  const history = new DemoHistory(clock.simStartMs);
  const load = config.demo.load
    ? new DemoLoad({ connectionString: node.connectionString, streams: demoStreams(), clock, peakWritesPerSec: config.demo.peakWritesPerSec, log })
    : null;
  load?.start();
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, f: () => void): void => {
    const t = setTimeout(() => {
      timers.delete(t);
      f();
    }, Math.max(0, ms));
    timers.add(t);
  };
  let stopped = false;
  /** Write total of each partition at its last good backup. */
  const totalAtBackup = new Map<string, number>();
  const status = (): ReturnType<typeof partitionStatus> => partitionStatus(node.node, node.catalog, node.activity);

  /** A planned window (simulated time) runs: afterwards its forecast error is set as the scheduler sets it. */
  const backup = (partitions: readonly string[], trigger: string, planned?: PlannedWindow): void => {
    if (stopped) return;
    const before = new Map(status().partitions.map((p) => [p.partition, p.writesTotal]));
    node.backup(partitions, { release: config.demo.release, trigger }).then(
      (r) => {
        for (const p of r.partitions) {
          if (planned?.partition === p.partition) recordForecastError(node.metrics, { ...planned, holdMs: planned.holdMs / clock.scale }, p.held + p.rejected, p.windowMs);
          if (p.status === 'good') totalAtBackup.set(p.partition, before.get(p.partition) ?? 0);
          log.info({ demo: { partition: p.partition, status: p.status, held: p.held, windowMs: p.windowMs, reason: p.reason ?? undefined } }, `window on ${short(p.partition)}: ${p.status}, ${p.held} writes held for ${p.windowMs ?? '?'} ms`);
        }
      },
      (err: unknown) => log.warn(`demo backup failed: ${err instanceof Error ? err.message : String(err)}`),
    );
  };

  /** The terminal picture of the plan for the simulated day ahead, shown under the status table. */
  let planPicture: string[] = [];
  const planNextDay = (): void => {
    const now = status().partitions;
    const plan = planDemoDay({
      history,
      intervalStartMs: history.endMs,
      intervalEndMs: history.endMs + DAY_MS,
      scale: clock.scale,
      config,
      release: config.demo.release,
      facts: (p) => {
        const s = now.find((x) => x.partition === p);
        const at = totalAtBackup.get(p);
        return { lastWindowMs: s?.lastBackup?.windowMs ?? null, writesSinceBackup: at === undefined || !s ? null : s.writesTotal - at };
      },
    });
    for (const w of plan.windows) {
      const realAt = clock.toReal(w.startMs);
      node.activity.planned(w.partition, realAt);
      log.info(
        { demo: { partition: w.partition, at: clock.format(w.startMs), predictedHeld: Number(w.heldWrites.toFixed(2)), model: plan.models.get(w.partition) } },
        `planned ${short(w.partition)} at ${clock.format(w.startMs)} (forecast ${plan.models.get(w.partition)}, ${w.heldWrites.toFixed(1)} writes predicted in its window)`,
      );
      later(realAt - Date.now(), () => {
        node.activity.planned(w.partition, null);
        backup([w.partition], 'demo-plan', w);
      });
    }
    // The plan's gauges, as a node's own plan cycle sets them; the forecast moved to real time so
    // quietcut_forecast_writes_per_second lines up with the rate of quietcut_writes_total.
    setPlanMetrics(node.metrics, plan);
    node.metrics.setForecasts(new Map([...plan.forecasts].map(([p, f]) => [p, { ...f, startMs: clock.toReal(f.startMs), stepMs: f.stepMs / clock.scale }])));
    const simTime = (ms: number): string => clock.format(ms).split(' ')[2] as string;
    planPicture = ['', `plan for ${clock.format(plan.intervalStartMs).split(' ').slice(0, 2).join(' ')} (simulated time):`, ...renderPlanTerminal(plan, plan.forecasts, { width: 48, formatTime: simTime }).split('\n')];
    storePlanPicture(plan, plan.forecasts, simTime);
    for (const s of plan.skipped) log.info({ demo: { partition: s.partition, reason: s.reason } }, `no window for ${short(s.partition)}: ${s.reason}`);
    for (const i of plan.infeasible) log.warn({ demo: { partition: i.partition, reason: i.reason } }, `cannot plan ${short(i.partition)}: ${i.reason}`);
  };

  /**
   * Each simulated day's plan is kept as a picture in <backup.dir>/plans (day-N.html, and
   * latest.html for the day ahead): forecast band, dumps, windows, and the heat map of the demo
   * history by hour of the week. Names and counts only, no secrets: world-readable.
   */
  const storePlanPicture = (plan: Parameters<typeof renderPlanHtml>[0], forecasts: Parameters<typeof renderPlanHtml>[1], formatTime: (ms: number) => string): void => {
    try {
      const dir = join(config.backup.dir, 'plans');
      mkdirSync(dir, { recursive: true });
      const histories = new Map<string, Series>();
      for (const p of history.partitions()) {
        const s = history.series(p);
        if (s !== null) histories.set(p, s);
      }
      const day = clock.format(plan.intervalStartMs).split(' ').slice(0, 2).join('-');
      const html = renderPlanHtml(plan, forecasts, { title: `quietcut demo: plan for ${day.replace('-', ' ')} (simulated time)`, formatTime, histories });
      const file = join(dir, `${day}.html`);
      writeFileSync(`${file}.tmp`, html, { mode: 0o644 });
      renameSync(`${file}.tmp`, file);
      writeFileSync(join(dir, 'latest.html.tmp'), html, { mode: 0o644 });
      renameSync(join(dir, 'latest.html.tmp'), join(dir, 'latest.html'));
      log.info({ demo: { plan: file } }, `plan for ${day.replace('-', ' ')} stored: ${file}`);
    } catch (err) {
      log.warn(`storing the demo plan picture failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  };

  // History: one sample per simulated step; a plan at the end of every simulated day.
  let ticks = 0;
  const sampler = setInterval(() => {
    history.sample(new Map(status().partitions.map((p) => [p.partition, p.writesTotal])));
    ticks++;
    if (ticks % STEPS_PER_DAY === 0 && !stopped) {
      try {
        planNextDay();
      } catch (err) {
        log.warn(`demo planning failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }, clock.realStepMs);

  later(Math.min(FIRST_BACKUP_MS, config.demo.dayMs * 0.05), () => {
    log.info(`first backup of every partition; from the end of ${clock.format(clock.simStartMs).split(' ').slice(0, 2).join(' ')} the planner places each window`);
    backup(node.catalog.current.leaves().map((l) => l.name), 'demo-first');
  });

  const render = (): string[] => {
    const s = status();
    const head = `quietcut demo · ${clock.format(clock.toSim(Date.now()))} · 1 day = ${Math.round(config.demo.dayMs / 1000)} s · Ctrl-C stops`;
    return [head, ...renderStatusTable(s, { formatTime: (ms) => clock.format(clock.toSim(ms)) }), ...planPicture];
  };
  const table = o.table;
  table?.start(render);
  const statusLog = table
    ? null
    : setInterval(() => {
        const s = status().partitions.map((p) => ({ partition: p.partition, writesPerSec: p.writesPerSec, window: p.window, held: p.heldTotal, lastBackup: p.lastBackup?.status ?? null }));
        log.info({ demo: { sim: clock.format(clock.toSim(Date.now())), partitions: s } }, 'demo status');
      }, STATUS_LOG_MS);

  return {
    clock,
    render,
    async stop() {
      stopped = true;
      clearInterval(sampler);
      if (statusLog) clearInterval(statusLog);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await load?.stop();
      table?.stop();
    },
  };
}

function short(partition: string): string {
  return partition.replace(/^public\./, '');
}
