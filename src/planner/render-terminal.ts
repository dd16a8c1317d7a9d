/**
 * Compact terminal picture of a plan: per partition one line of bars (the forecast over the
 * interval) and one line marking the window and the dump under it. People decide faster by looking.
 */
import type { Forecast } from '../forecast/types.js';
import { formatCount, formatMs, planRows, resample, utcClock, type TimeFormatter } from './render-common.js';
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
  const t0 = plan.intervalStartMs;
  const t1 = plan.intervalEndMs;
  const colOf = (t: number): number => Math.min(width - 1, Math.max(0, Math.floor(((t - t0) / (t1 - t0)) * width)));
  const { planned, other } = planRows(plan);
  const out: string[] = [`plan ${time(t0)}–${time(t1)} (${plan.solver}): ${planned.length} windows, ${plan.infeasible.length} infeasible, ${plan.skipped.length} skipped`];
  out.push(`legend: bars = forecast writes/min (scaled per partition), ^ = window and cut, = = dump`);
  for (const w of planned) {
    out.push('');
    out.push(
      `${w.partition} [${w.server}${w.group === w.partition ? '' : `, group ${w.group}`}]  window ${time(w.startMs)} hold ${formatMs(w.holdMs)}  ` +
        `held ~${formatCount(w.heldWrites)}  queue ≤${formatCount(w.queuePeak)}  dump ${time(w.dumpStartMs)}–${time(w.dumpEndMs)}`,
    );
    const f = forecasts.get(w.partition);
    if (f === undefined) {
      out.push('  (no forecast)');
      continue;
    }
    const rate = resample(f, 'mean', t0, t1, width);
    const top = Math.max(...rate);
    out.push(`  │${Array.from(rate, (v) => BARS[top > 0 ? Math.round((v / top) * (BARS.length - 1)) : 0]).join('')}│ peak ${formatCount(top)}/min`);
    const marks = Array.from({ length: width }, () => ' ');
    for (let c = colOf(w.dumpStartMs); c <= colOf(Math.max(w.dumpStartMs, w.dumpEndMs - 1)); c++) marks[c] = '=';
    // The window is usually far shorter than a column: it still gets its own mark, drawn last.
    for (let c = colOf(w.startMs); c <= colOf(Math.max(w.startMs, w.endMs - 1)); c++) marks[c] = '^';
    out.push(`  │${marks.join('')}│`);
  }
  const axis = `  ${time(t0)}${' '.repeat(Math.max(1, width + 2 - 2 * time(t0).length))}${time(t1)}`;
  if (planned.length > 0) out.push(axis);
  if (other.length > 0) {
    out.push('');
    for (const o of other) out.push(`${o.partition}: ${o.status}: ${o.reason}`);
  }
  return out.join('\n');
}
