/**
 * Standalone HTML page (inline SVG, no scripts, no external files) showing per partition the
 * forecast over the interval with its band (lower to upper quantile), the dump span and the window
 * with its cut, with units on every number; and, given the recorded history, a heat map of write
 * rate by partition and hour of the week.
 */
import type { Forecast, Series } from '../forecast/types.js';
import { escapeXml, formatCount, formatMs, planRows, resample, utcClock, withSeconds, type TimeFormatter } from './render-common.js';
import { renderHeatmapSvg, weekClock } from './render-heatmap.js';
import type { Plan, PlannedWindow } from './types.js';

export interface HtmlRenderOptions {
  title?: string;
  formatTime?: TimeFormatter;
  /** Chart resolution: points along the interval. */
  points?: number;
  /** Recorded history per partition: adds the heat map by hour of the week. */
  histories?: ReadonlyMap<string, Series>;
  /** Zone of the heat map's hours (default UTC). */
  timeZone?: string;
}

const W = 760;
const H = 150;
const LEFT = 64;
const RIGHT = 16;
const TOP = 18;
const BOTTOM = 34;

/** Kept for callers of the old name. */
export const escapeHtml = escapeXml;

function chart(plan: Plan, w: PlannedWindow, f: Forecast | undefined, points: number, time: TimeFormatter): string {
  const t0 = plan.intervalStartMs;
  const t1 = plan.intervalEndMs;
  const seconds = withSeconds(time);
  const x = (t: number): number => LEFT + ((t - t0) / (t1 - t0)) * (W - LEFT - RIGHT);
  const base = H - BOTTOM;
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeXml(w.partition)}">`];
  parts.push(`<rect class="dump" x="${x(w.dumpStartMs).toFixed(1)}" y="${TOP}" width="${Math.max(1, x(w.dumpEndMs) - x(w.dumpStartMs)).toFixed(1)}" height="${base - TOP}"><title>dump ${seconds(w.dumpStartMs)}–${seconds(w.dumpEndMs)} (${formatMs(w.dumpEndMs - w.dumpStartMs)}); server load beside it ~${formatCount(w.overlapCost)} writes</title></rect>`);
  parts.push(`<text class="dumplabel" x="${x(w.dumpStartMs).toFixed(1)}" y="${TOP - 4}">dump ${formatMs(w.dumpEndMs - w.dumpStartMs)}</text>`);
  if (f !== undefined) {
    const mean = resample(f, 'mean', t0, t1, points);
    const upper = resample(f, 'upper', t0, t1, points);
    const lower = resample(f, 'lower', t0, t1, points);
    const top = Math.max(1e-12, ...upper, ...mean);
    const y = (v: number): number => base - (Math.max(0, v) / top) * (base - TOP);
    const px = (i: number): string => (LEFT + ((i + 0.5) / points) * (W - LEFT - RIGHT)).toFixed(1);
    const band = [...Array.from(upper, (v, i) => `${px(i)},${y(v).toFixed(1)}`), ...Array.from(lower, (v, i) => `${px(i)},${y(v).toFixed(1)}`).reverse()];
    parts.push(`<polygon class="band" points="${band.join(' ')}"><title>forecast band: lower to upper quantile, writes/min</title></polygon>`);
    parts.push(`<polyline class="mean" points="${Array.from(mean, (v, i) => `${px(i)},${y(v).toFixed(1)}`).join(' ')}"><title>forecast mean, writes/min</title></polyline>`);
    // Y axis: 0, half and the top, in writes per minute.
    for (const v of [0, top / 2, top]) {
      parts.push(`<line class="grid" x1="${LEFT}" y1="${y(v).toFixed(1)}" x2="${W - RIGHT}" y2="${y(v).toFixed(1)}"/><text x="${LEFT - 4}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${escapeXml(formatCount(v))}/min</text>`);
    }
  }
  // The window is milliseconds wide on an hours-wide axis: drawn at least 2 px so it stays visible.
  parts.push(`<rect class="window" x="${x(w.startMs).toFixed(1)}" y="${TOP}" width="${Math.max(2, x(w.endMs) - x(w.startMs)).toFixed(1)}" height="${base - TOP}"><title>window ${seconds(w.startMs)}–${seconds(w.endMs)}, hold ${formatMs(w.holdMs)}, ~${formatCount(w.heldWrites)} writes held, queue ≤${formatCount(w.queuePeak)} requests</title></rect>`);
  parts.push(`<line class="axis" x1="${LEFT}" y1="${base}" x2="${W - RIGHT}" y2="${base}"/>`);
  // Time ticks on whole hours (at most ~12 labels).
  const hourMs = 3_600_000;
  const every = Math.max(1, Math.ceil((t1 - t0) / hourMs / 12)) * hourMs;
  for (let t = Math.ceil(t0 / every) * every; t <= t1; t += every) {
    parts.push(`<line class="axis" x1="${x(t).toFixed(1)}" y1="${base}" x2="${x(t).toFixed(1)}" y2="${base + 4}"/><text x="${x(t).toFixed(1)}" y="${base + 15}" text-anchor="middle">${time(t)}</text>`);
  }
  parts.push(`<text x="${x(w.cutMs).toFixed(1)}" y="${H - 4}" text-anchor="middle" class="cut">window ${seconds(w.startMs)}, hold ${escapeXml(formatMs(w.holdMs))}, cut ${seconds(w.cutMs)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

export function renderPlanHtml(plan: Plan, forecasts: ReadonlyMap<string, Forecast>, opts: HtmlRenderOptions = {}): string {
  const time = opts.formatTime ?? utcClock;
  const seconds = withSeconds(time);
  const points = opts.points ?? 144;
  const title = opts.title ?? `quietcut plan ${time(plan.intervalStartMs)}–${time(plan.intervalEndMs)}`;
  const { planned, other } = planRows(plan);
  const rows = planned
    .map(
      (w) =>
        `<tr><td>${escapeXml(w.partition)}</td><td>${escapeXml(w.server)}</td><td>${escapeXml(w.group)}</td><td>${seconds(w.startMs)}</td>` +
        `<td>${formatMs(w.holdMs)}</td><td>${formatCount(w.heldWrites)}</td><td>${formatCount(w.queuePeak)}</td><td>${seconds(w.dumpStartMs)}–${seconds(w.dumpEndMs)} (${formatMs(w.dumpEndMs - w.dumpStartMs)})</td><td>${formatCount(w.overlapCost)}</td></tr>`,
    )
    .join('\n');
  const others = other.map((o) => `<tr><td>${escapeXml(o.partition)}</td><td>${o.status}</td><td colspan="7">${escapeXml(o.reason)}</td></tr>`).join('\n');
  const charts = planned.map((w) => `<section><h2>${escapeXml(w.partition)}</h2>${chart(plan, w, forecasts.get(w.partition), points, time)}</section>`).join('\n');
  const heat = opts.histories !== undefined && opts.histories.size > 0 ? `<h2>Write rate by partition and hour of the week (${escapeXml(opts.timeZone ?? 'UTC')})</h2>\n${renderHeatmapSvg(opts.histories, weekClock(opts.timeZone))}` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeXml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
h2{font-size:14px;margin:16px 0 4px}svg text{font-size:11px;fill:#555}
.mean{fill:none;stroke:#1f5fa8;stroke-width:1.5}.band{fill:#1f5fa8;opacity:.18}
.dump{fill:#f0a030;opacity:.25}.dumplabel{fill:#b06a00}.window{fill:#d02020}.axis{stroke:#999}.grid{stroke:#eee}.cut{fill:#d02020}
</style></head><body>
<h1>${escapeXml(title)}</h1>
<p>solver ${plan.solver}; ${planned.length} windows, ${plan.infeasible.length} infeasible, ${plan.skipped.length} skipped; predicted held writes ${formatCount(plan.totals.heldWrites)}, server load beside dumps ${formatCount(plan.totals.overlapCost)} writes. Blue: forecast writes/min (line: mean; band: lower to upper quantile); orange: dump; red: window and cut.</p>
<table><tr><th>partition</th><th>server</th><th>group</th><th>window start</th><th>hold</th><th>held writes</th><th>queue peak (requests)</th><th>dump</th><th>load beside dump (writes)</th></tr>
${rows}
${others}
</table>
${charts}
${heat}
</body></html>
`;
}
