/**
 * Compact terminal picture of a plan: per partition the forecast over the interval as bars (upper
 * quantile, mean and lower quantile rows on one scale, so the band's width shows how sure the
 * forecast is), and a row marking the window and the dump under it, with units on every number.
 * People decide faster by looking.
 */
import type { Forecast } from '../forecast/types.js';
import { formatCount, formatMs, planRows, resample, utcClock, withSeconds, type TimeFormatter } from './render-common.js';
import type { Plan } from './types.js';

const BARS = ' ▁▂▃▄▅▆▇█';

export interface TerminalRenderOptions {
  /** Columns of the chart (the interval is divided evenly). */
  width?: number;
  formatTime?: TimeFormatter;
}

export function renderPlanTerminal(plan: Plan, forecasts: ReadonlyMap<string, Forecast>, opts: TerminalRenderOptions = {}): string {
  const width = Math.max(8, opts.width ?? 60);
  const time = opts.formatTime ?? utcClock;
  const seconds = withSeconds(time);
  const t0 = plan.intervalStartMs;
  const t1 = plan.intervalEndMs;
  const colOf = (t: number): number => Math.min(width - 1, Math.max(0, Math.floor(((t - t0) / (t1 - t0)) * width)));
  const { planned, other } = planRows(plan);
  const out: string[] = [`plan ${time(t0)}–${time(t1)} (${plan.solver}): ${planned.length} windows, ${plan.infeasible.length} infeasible, ${plan.skipped.length} skipped`];
  out.push('legend: bars = forecast writes/min (upper quantile, mean, lower quantile; one scale per partition), ^ = window and cut, = = dump, ? = early check point');
  for (const w of planned) {
    out.push('');
    out.push(
      `${w.partition} [${w.server}${w.group === w.partition ? '' : `, group ${w.group}`}]  window ${seconds(w.startMs)}, hold ${formatMs(w.holdMs)}  ` +
        `held ~${formatCount(w.heldWrites)} writes  queue ≤${formatCount(w.queuePeak)} requests  dump ${seconds(w.dumpStartMs)}–${seconds(w.dumpEndMs)} (${formatMs(w.dumpEndMs - w.dumpStartMs)})`,
    );
    const f = forecasts.get(w.partition);
    if (f === undefined) {
      out.push('  (no forecast)');
      continue;
    }
    const rows = (['upper', 'mean', 'lower'] as const).map((which) => ({ which, rate: resample(f, which, t0, t1, width) }));
    const top = Math.max(0, ...rows.flatMap((r) => Array.from(r.rate)));
    const bar = (v: number): string => BARS[top > 0 ? Math.round((Math.max(0, v) / top) * (BARS.length - 1)) : 0] as string;
    for (const { which, rate } of rows) {
      const peak = Math.max(0, ...rate);
      out.push(`  ${which.padEnd(5)} │${Array.from(rate, bar).join('')}│ peak ${formatCount(peak)} writes/min`);
    }
    const marks = Array.from({ length: width }, () => ' ');
    for (let c = colOf(w.dumpStartMs); c <= colOf(Math.max(w.dumpStartMs, w.dumpEndMs - 1)); c++) marks[c] = '=';
    // The window is usually far shorter than a column: it still gets its own mark, drawn last.
    const early = (w.live?.earlier ?? []).map((p) => w.startMs + p.shiftMs);
    for (const t of early) marks[colOf(t)] = '?';
    for (let c = colOf(w.startMs); c <= colOf(Math.max(w.startMs, w.endMs - 1)); c++) marks[c] = '^';
    out.push(`  plan  │${marks.join('')}│ cut ${seconds(w.cutMs)}`);
    if (early.length > 0) out.push(`  early checks at ${early.map(time).join(', ')}: the window starts at one instead when its live load is below the forecast there (one node only)`);
  }
  if (planned.length > 0) out.push(`        ${time(t0)}${' '.repeat(Math.max(1, width + 2 - 2 * time(t0).length))}${time(t1)}`);
  if (other.length > 0) {
    out.push('');
    for (const o of other) out.push(`${o.partition}: ${o.status}: ${o.reason}`);
  }
  return out.join('\n');
}
