/**
 * Standalone HTML page (inline SVG, no scripts, no external files) showing per partition the
 * forecast over the interval, its upper quantile band, the dump and the window with its cut.
 */
import type { Forecast } from '../forecast/types.js';
import { formatCount, formatMs, planRows, resample, utcClock, type TimeFormatter } from './render-common.js';
import type { Plan, PlannedWindow } from './types.js';

export interface HtmlRenderOptions {
  title?: string;
  formatTime?: TimeFormatter;
  /** Chart resolution: points along the interval. */
  points?: number;
}

const W = 720;
const H = 120;
const PAD = 28;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

function chart(plan: Plan, w: PlannedWindow, f: Forecast | undefined, points: number, time: TimeFormatter): string {
  const t0 = plan.intervalStartMs;
  const t1 = plan.intervalEndMs;
  const x = (t: number): number => PAD + ((t - t0) / (t1 - t0)) * (W - 2 * PAD);
  const parts: string[] = [`<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(w.partition)}">`];
  parts.push(`<rect class="dump" x="${x(w.dumpStartMs).toFixed(1)}" y="4" width="${Math.max(1, x(w.dumpEndMs) - x(w.dumpStartMs)).toFixed(1)}" height="${H - PAD - 4}"><title>dump ${time(w.dumpStartMs)}–${time(w.dumpEndMs)}</title></rect>`);
  if (f !== undefined) {
    const mean = resample(f, 'mean', t0, t1, points);
    const upper = resample(f, 'upper', t0, t1, points);
    const top = Math.max(1e-12, ...upper, ...mean);
    const y = (v: number): number => H - PAD - (v / top) * (H - PAD - 8);
    const px = (i: number): string => (PAD + ((i + 0.5) / points) * (W - 2 * PAD)).toFixed(1);
    const band = [...Array.from(upper, (v, i) => `${px(i)},${y(v).toFixed(1)}`), ...Array.from(mean, (v, i) => `${px(i)},${y(v).toFixed(1)}`).reverse()];
    parts.push(`<polygon class="upper" points="${band.join(' ')}"/>`);
    parts.push(`<polyline class="mean" points="${Array.from(mean, (v, i) => `${px(i)},${y(v).toFixed(1)}`).join(' ')}"/>`);
    parts.push(`<text x="4" y="14">${escapeHtml(formatCount(top))}/min</text>`);
  }
  // The window is milliseconds wide on an hours-wide axis: drawn at least 2 px so it stays visible.
  parts.push(`<rect class="window" x="${x(w.startMs).toFixed(1)}" y="4" width="${Math.max(2, x(w.endMs) - x(w.startMs)).toFixed(1)}" height="${H - PAD - 4}"><title>window ${time(w.startMs)}, hold ${formatMs(w.holdMs)}</title></rect>`);
  parts.push(`<line class="axis" x1="${PAD}" y1="${H - PAD}" x2="${W - PAD}" y2="${H - PAD}"/>`);
  parts.push(`<text x="${PAD}" y="${H - 10}">${time(t0)}</text><text x="${W - PAD}" y="${H - 10}" text-anchor="end">${time(t1)}</text>`);
  parts.push(`<text x="${x(w.cutMs).toFixed(1)}" y="${H - 10}" text-anchor="middle" class="cut">cut ${time(w.cutMs)}</text>`);
  parts.push('</svg>');
  return parts.join('');
}

export function renderPlanHtml(plan: Plan, forecasts: ReadonlyMap<string, Forecast>, opts: HtmlRenderOptions = {}): string {
  const time = opts.formatTime ?? utcClock;
  const points = opts.points ?? 144;
  const title = opts.title ?? `quietcut plan ${time(plan.intervalStartMs)}–${time(plan.intervalEndMs)}`;
  const { planned, other } = planRows(plan);
  const rows = planned
    .map(
      (w) =>
        `<tr><td>${escapeHtml(w.partition)}</td><td>${escapeHtml(w.server)}</td><td>${escapeHtml(w.group)}</td><td>${time(w.startMs)}</td>` +
        `<td>${formatMs(w.holdMs)}</td><td>${formatCount(w.heldWrites)}</td><td>${formatCount(w.queuePeak)}</td><td>${time(w.dumpStartMs)}–${time(w.dumpEndMs)}</td><td>${formatCount(w.overlapCost)}</td></tr>`,
    )
    .join('\n');
  const others = other.map((o) => `<tr><td>${escapeHtml(o.partition)}</td><td>${o.status}</td><td colspan="7">${escapeHtml(o.reason)}</td></tr>`).join('\n');
  const charts = planned.map((w) => `<section><h2>${escapeHtml(w.partition)}</h2>${chart(plan, w, forecasts.get(w.partition), points, time)}</section>`).join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
h2{font-size:14px;margin:16px 0 4px}svg text{font-size:11px;fill:#555}
.mean{fill:none;stroke:#1f5fa8;stroke-width:1.5}.upper{fill:#1f5fa8;opacity:.15}
.dump{fill:#f0a030;opacity:.25}.window{fill:#d02020}.axis{stroke:#999}.cut{fill:#d02020}
</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>solver ${plan.solver}; ${planned.length} windows, ${plan.infeasible.length} infeasible, ${plan.skipped.length} skipped; predicted held writes ${formatCount(plan.totals.heldWrites)}, overlap ${formatCount(plan.totals.overlapCost)}. Blue: forecast writes/min with upper quantile band; orange: dump; red: window and cut.</p>
<table><tr><th>partition</th><th>server</th><th>group</th><th>window</th><th>hold</th><th>held writes</th><th>queue peak</th><th>dump</th><th>overlap</th></tr>
${rows}
${others}
</table>
${charts}
</body></html>
`;
}
