/**
 * `quietcut plan`: the plan for the next backup interval from recorded history, as a table and a
 * compact chart (or JSON, or a standalone HTML/SVG page). A preview: nothing is stored, so running
 * it never changes what the nodes arm; a plan already stored for the interval is named.
 */
import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Config } from '../../config/schema.js';
import { nextInterval, zonedClock } from '../../coordinator/interval.js';
import { computePlan, type ComputedPlan } from '../../coordinator/plan-cycle.js';
import { findPlanId } from '../../coordinator/plan-store.js';
import { renderPlanHtml } from '../../planner/render-html.js';
import { renderHeatmapTerminal, weekClock } from '../../planner/render-heatmap.js';
import { renderPlanTerminal } from '../../planner/render-terminal.js';
import { parseUpstreamUrl } from '../../proxy/upstream.js';
import { migrate } from '../../store/migrate.js';
import { adminPool, adminTarget, resolveAdminTls } from '../admin-db.js';
import { locateNode } from '../locate.js';

interface PlanFlags {
  config?: string;
  upstream?: string;
  json?: boolean;
  html?: string;
}

export interface PlanPreview extends ComputedPlan {
  timezone: string;
  /** A plan the nodes already stored for this interval (they arm that one, not this preview). */
  storedPlanId: string | null;
}

export async function previewPlan(config: Config, nowMs = Date.now()): Promise<PlanPreview> {
  if (!config.upstream.url) throw new Error('no upstream configured: history lives in the upstream database (schema quietcut). Set upstream.url in --config FILE or pass --upstream URL');
  const pool = adminPool(await resolveAdminTls(adminTarget(config, parseUpstreamUrl(config.upstream.url))), 1);
  try {
    const client = await pool.connect();
    try {
      // A database no node has fronted yet has no quietcut schema; an empty history plans fine.
      await migrate(client);
      const interval = nextInterval(nowMs, config.backup.interval, config.backup.timezone);
      const computed = await computePlan(client, config, { interval, nowMs });
      return { ...computed, timezone: config.backup.timezone, storedPlanId: await findPlanId(client, interval) };
    } finally {
      client.release();
    }
  } finally {
    await pool.end();
  }
}

export function planJson(p: PlanPreview): unknown {
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    interval: { start: iso(p.plan.intervalStartMs), end: iso(p.plan.intervalEndMs), timezone: p.timezone },
    storedPlanId: p.storedPlanId,
    models: p.models,
    margin: { ...p.margin, clockSkewMs: p.input.clockSkewMs, minRoundTripMs: p.input.minRoundTripMs },
    ...p.plan,
  };
}

/** The skew margin line: what the live nodes measured and what the planner made of it. */
export function formatMargin(p: Pick<PlanPreview, 'margin' | 'input'>): string {
  const ms = (x: number): string => `${x < 10 ? x.toFixed(2) : Math.round(x)} ms`;
  const rtt = p.margin.minClientRttMs === null ? 'not measured' : ms(p.margin.minClientRttMs);
  return (
    `clock skew: ${p.margin.nodes} live node(s), measured max |offset| + uncertainty ${ms(p.margin.skewMs)}, min client round trip ${rtt}; ` +
    `planner skew ${ms(p.input.clockSkewMs)} − round trip ${ms(p.input.minRoundTripMs)} = margin ${ms(p.margin.marginMs)}`
  );
}

export function formatPlanTable(p: PlanPreview): string {
  const time = zonedClock(p.timezone);
  const clock = (ms: number): string => {
    const t = new Date(ms);
    return `${time(ms)}:${String(t.getUTCSeconds()).padStart(2, '0')}`;
  };
  const header = ['partition', 'group', 'status', 'window', 'hold ms', 'held', 'queue', 'dump', 'model', 'reason'];
  const count = (x: number): string => (x === 0 ? '0' : x >= 100 ? String(Math.round(x)) : x.toPrecision(2));
  const rows: string[][] = [...p.plan.windows]
    .sort((a, b) => a.startMs - b.startMs || (a.partition < b.partition ? -1 : 1))
    .map((w) => [
      w.partition,
      w.group === w.partition ? '' : w.group,
      'planned',
      clock(w.startMs),
      String(Math.round(w.holdMs)),
      count(w.heldWrites),
      count(w.queuePeak),
      `${clock(w.dumpStartMs)}–${clock(w.dumpEndMs)}`,
      p.models[w.partition] ?? '',
      '',
    ]);
  for (const [status, list] of [['infeasible', p.plan.infeasible], ['skipped', p.plan.skipped]] as const) {
    for (const x of list) rows.push([x.partition, x.group === x.partition ? '' : x.group, status, '', '', '', '', '', p.models[x.partition] ?? '', x.reason]);
  }
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] as string).length)));
  const line = (cells: string[]): string => cells.map((cell, c) => ([4, 5, 6].includes(c) ? cell.padStart(widths[c] as number) : cell.padEnd(widths[c] as number))).join('  ').trimEnd();
  const head = `interval ${new Date(p.plan.intervalStartMs).toISOString()} – ${new Date(p.plan.intervalEndMs).toISOString()} (times below in ${p.timezone})`;
  const stored = p.storedPlanId === null ? 'no plan stored for this interval yet (this is a preview)' : `plan ${p.storedPlanId} is stored for this interval; nodes arm that one (this is a preview)`;
  return [head, stored, formatMargin(p), '', line(header), ...rows.map(line)].join('\n');
}

export function registerPlan(program: Command): void {
  program
    .command('plan')
    .description('the plan for the next backup interval from recorded history: a table and a compact chart per partition')
    .option('-c, --config <file>', 'YAML config file')
    .option('--upstream <url>', 'the database whose history to plan from, postgres://host:port/dbname')
    .option('--json', 'print the plan as JSON')
    .option('--html <file>', 'also write a standalone HTML/SVG picture of the plan to this file')
    .action(async (flags: PlanFlags) => {
      // The node's database, found as every command finds it (flags, config, environment, the running node).
      const { config } = locateNode(flags);
      const preview = await previewPlan(config);
      const formatTime = zonedClock(config.backup.timezone);
      if (flags.html) {
        // Plan pictures hold partition names and counts, no secrets: world-readable is fine.
        await writeFile(
          flags.html,
          renderPlanHtml(preview.plan, preview.forecasts, { title: `quietcut plan ${new Date(preview.plan.intervalStartMs).toISOString()}`, formatTime, histories: preview.histories, timeZone: config.backup.timezone }),
          { mode: 0o644 },
        );
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(planJson(preview), null, 2)}\n`);
        return;
      }
      process.stdout.write(`${formatPlanTable(preview)}\n\n${renderPlanTerminal(preview.plan, preview.forecasts, { formatTime })}\n\n${renderHeatmapTerminal(preview.histories, weekClock(config.backup.timezone))}\n`);
      if (flags.html) process.stdout.write(`\nwrote ${flags.html}\n`);
    });
}
