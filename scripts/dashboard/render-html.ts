/**
 * A static picture of the provisioned Grafana dashboard: the panels laid out by their gridPos,
 * each drawn as an SVG from the series Prometheus answered for its own queries. Grafana itself
 * cannot run here (no network to fetch it); drawing from the dashboard JSON keeps the picture
 * honest: a panel whose query returns nothing shows "No data", as Grafana would.
 */

export interface Panel {
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: { expr: string; legendFormat?: string }[];
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: { matcher: { id: string; options: string }; properties: { id: string; value: unknown }[] }[];
  };
}

/** One answered series: its legend and [unix seconds, value] samples. */
export interface DrawnSeries {
  legend: string;
  samples: [number, number][];
}

export interface PanelData {
  panel: Panel;
  series: DrawnSeries[];
}

const COL_PX = 66;
const ROW_PX = 34;
const GAP = 6;
const PALETTE = ['#73bf69', '#f2cc0c', '#8ab8ff', '#ff780a', '#f2495c', '#5794f2', '#b877d9', '#fade2a', '#37872d', '#e0b400'];

/** Grafana's names for its fixed colours (dark theme). */
const NAMED_COLORS: Record<string, string> = { green: '#73bf69', red: '#f2495c', orange: '#ff9830', yellow: '#fade2a', blue: '#5794f2', purple: '#b877d9' };

export const DASHBOARD_WIDTH_PX = 24 * COL_PX;

export function dashboardHeightPx(panels: Panel[]): number {
  return Math.max(...panels.map((p) => (p.gridPos.y + p.gridPos.h) * ROW_PX)) + GAP * 2;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** A value with the panel's unit, as Grafana prints it (the common units the dashboard uses). */
export function formatValue(v: number, unit: string | undefined): string {
  const num = (x: number): string => {
    const a = Math.abs(x);
    if (a >= 1e9) return `${(x / 1e9).toFixed(1)}G`;
    if (a >= 1e6) return `${(x / 1e6).toFixed(1)}M`;
    if (a >= 1e3) return `${(x / 1e3).toFixed(1)}k`;
    if (a === 0) return '0';
    if (a < 0.01) return x.toExponential(1);
    return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : x.toFixed(2);
  };
  switch (unit) {
    case 'wps':
      return `${num(v)} wps`;
    case 'reqps':
      return `${num(v)} req/s`;
    case 'Bps':
      return `${num(v)}B/s`;
    case 'bytes':
      return `${num(v)}B`;
    case 's':
      if (Math.abs(v) >= 86_400) return `${(v / 86_400).toFixed(1)} day`;
      if (Math.abs(v) >= 3600) return `${(v / 3600).toFixed(1)} h`;
      if (Math.abs(v) >= 60) return `${(v / 60).toFixed(1)} min`;
      if (Math.abs(v) < 1 && v !== 0) return `${(v * 1000).toFixed(v * 1000 >= 10 ? 0 : 1)} ms`;
      return `${num(v)} s`;
    case 'percentunit':
      return `${(v * 100).toFixed(1)}%`;
    default:
      return num(v);
  }
}

/** The unit and axis side of one series, after the panel's overrides (regexp matchers only). */
function seriesStyle(panel: Panel, legend: string): { unit: string | undefined; right: boolean; dashed: boolean; color: string | null } {
  let unit = panel.fieldConfig?.defaults?.unit;
  let right = false;
  let dashed = false;
  let color: string | null = null;
  for (const o of panel.fieldConfig?.overrides ?? []) {
    const hit = o.matcher.id === 'byRegexp' ? new RegExp(`^${o.matcher.options}$`).test(legend) : o.matcher.id === 'byName' && o.matcher.options === legend;
    if (!hit) continue;
    for (const p of o.properties) {
      if (p.id === 'unit') unit = String(p.value);
      if (p.id === 'custom.axisPlacement') right = p.value === 'right';
      if (p.id === 'custom.lineStyle') dashed = true;
      if (p.id === 'color') color = NAMED_COLORS[(p.value as { fixedColor?: string }).fixedColor ?? ''] ?? (p.value as { fixedColor?: string }).fixedColor ?? null;
    }
  }
  return { unit, right, dashed, color };
}

function noData(w: number, h: number): string {
  return `<text x="${w / 2}" y="${h / 2}" fill="#8e8e8e" font-size="14" text-anchor="middle">No data</text>`;
}

function clock(t: number): string {
  const d = new Date(t * 1000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

function timeseries(d: PanelData, w: number, h: number, range: [number, number]): string {
  const drawn = d.series.filter((s) => s.samples.length > 0);
  if (drawn.length === 0) return noData(w, h);
  // As many legend columns as fit at ~240 px each, at most three rows of them.
  const cols = Math.max(1, Math.min(3, Math.floor((w - 62) / 240)));
  const legendRows = Math.min(3, Math.ceil(drawn.length / cols));
  const top = 8;
  const bottom = h - 22 - legendRows * 15;
  const left = 62;
  const styled = drawn.map((s, i) => {
    const st = seriesStyle(d.panel, s.legend);
    return { s, ...st, color: st.color ?? PALETTE[i % PALETTE.length]! };
  });
  const hasRight = styled.some((x) => x.right);
  const right = w - (hasRight ? 62 : 12);
  const axes = [false, true].map((side) => {
    const vals = styled.filter((x) => x.right === side).flatMap((x) => x.s.samples.map(([, v]) => v));
    const max = vals.length ? Math.max(...vals, 0) : 1;
    const min = vals.length ? Math.min(...vals, 0) : 0;
    return { min, max: max === min ? min + 1 : max, unit: styled.find((x) => x.right === side)?.unit };
  });
  const [t0, t1] = range;
  const X = (t: number): number => left + ((t - t0) / Math.max(1, t1 - t0)) * (right - left);
  const Y = (v: number, side: boolean): number => {
    const a = axes[side ? 1 : 0]!;
    return bottom - ((v - a.min) / (a.max - a.min)) * (bottom - top);
  };
  const out: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const y = top + ((bottom - top) * i) / 4;
    out.push(`<line x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#2c3235"/>`);
    const lv = axes[0]!.max - ((axes[0]!.max - axes[0]!.min) * i) / 4;
    if (styled.some((x) => !x.right)) out.push(`<text x="${left - 6}" y="${y + 4}" fill="#9fa7b3" font-size="11" text-anchor="end">${esc(formatValue(lv, axes[0]!.unit))}</text>`);
    if (hasRight) {
      const rv = axes[1]!.max - ((axes[1]!.max - axes[1]!.min) * i) / 4;
      out.push(`<text x="${right + 6}" y="${y + 4}" fill="#9fa7b3" font-size="11">${esc(formatValue(rv, axes[1]!.unit))}</text>`);
    }
  }
  for (let i = 0; i <= 5; i++) {
    const t = t0 + ((t1 - t0) * i) / 5;
    out.push(`<text x="${X(t)}" y="${bottom + 15}" fill="#9fa7b3" font-size="11" text-anchor="middle">${clock(t)}</text>`);
  }
  for (const x of styled) {
    const pts = x.s.samples.map(([t, v]) => `${X(t).toFixed(1)},${Y(v, x.right).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${pts}" fill="none" stroke="${x.color}" stroke-width="1.6"${x.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
  }
  const colW = (w - left) / cols;
  styled.slice(0, legendRows * cols).forEach((x, i) => {
    const lx = left + (i % cols) * colW;
    const ly = bottom + 32 + Math.floor(i / cols) * 15;
    out.push(`<rect x="${lx}" y="${ly - 8}" width="12" height="3" fill="${x.color}"/>`);
    out.push(`<text x="${lx + 16}" y="${ly - 3}" fill="#ccccdc" font-size="11">${esc(x.s.legend.slice(0, Math.floor((colW - 20) / 6.2)))}</text>`);
  });
  if (styled.length > legendRows * cols) out.push(`<text x="${w - 8}" y="${h - 4}" fill="#8e8e8e" font-size="10" text-anchor="end">+${styled.length - legendRows * cols} more</text>`);
  return out.join('');
}

/** Bar gauge and stat: the last value of each series. */
function lastValues(d: PanelData, w: number, h: number): string {
  const unit = d.panel.fieldConfig?.defaults?.unit;
  const last = d.series
    .filter((s) => s.samples.length > 0)
    .map((s) => ({ legend: s.legend, v: s.samples[s.samples.length - 1]![1] }));
  if (last.length === 0) return noData(w, h);
  if (d.panel.type === 'stat') {
    const v = last.reduce((a, x) => a + x.v, 0);
    return `<text x="${w / 2}" y="${h / 2 + 14}" fill="${v > 0 ? '#f2495c' : '#73bf69'}" font-size="38" font-weight="500" text-anchor="middle">${esc(formatValue(v, unit))}</text>`;
  }
  const max = Math.max(...last.map((x) => x.v), 1e-9);
  const rowH = Math.min(26, (h - 10) / last.length);
  return last
    .map((x, i) => {
      const y = 6 + i * rowH;
      const bw = Math.max(2, ((w - 250) * x.v) / max);
      return (
        `<text x="8" y="${y + rowH * 0.65}" fill="#ccccdc" font-size="11">${esc(x.legend.slice(0, 24))}</text>` +
        `<rect x="150" y="${y + 3}" width="${bw}" height="${rowH - 7}" fill="#73bf69" opacity="0.85"/>` +
        `<text x="${w - 8}" y="${y + rowH * 0.65}" fill="#ccccdc" font-size="11" text-anchor="end">${esc(formatValue(x.v, unit))}</text>`
      );
    })
    .join('');
}

/** The whole dashboard as one HTML page, Grafana's dark theme, one SVG per panel. */
export function renderDashboardHtml(title: string, data: PanelData[], range: [number, number]): string {
  const panels = data.map((d) => d.panel);
  const boxes = data.map((d) => {
    const { x, y, w, h } = d.panel.gridPos;
    const style = `left:${x * COL_PX + GAP}px;top:${y * ROW_PX + GAP}px;width:${w * COL_PX - GAP}px;height:${h * ROW_PX - GAP}px`;
    if (d.panel.type === 'row') return `<div class="row" style="${style}">${esc(d.panel.title)}</div>`;
    const iw = w * COL_PX - GAP - 2;
    const ih = h * ROW_PX - GAP - 30;
    const body = d.panel.type === 'bargauge' || d.panel.type === 'stat' ? lastValues(d, iw, ih) : timeseries(d, iw, ih, range);
    return `<div class="panel" style="${style}"><div class="title">${esc(d.panel.title)}</div><svg width="${iw}" height="${ih}">${body}</svg></div>`;
  });
  return `<!doctype html><html><head><meta charset="utf-8"><title>${esc(title)}</title><style>
body{margin:0;background:#111217;font-family:Inter,Helvetica,Arial,sans-serif}
.head{height:36px;color:#ccccdc;font-size:16px;padding:10px 12px 0}
.grid{position:relative;width:${DASHBOARD_WIDTH_PX}px;height:${dashboardHeightPx(panels)}px}
.panel{position:absolute;background:#181b1f;border:1px solid #2c3235;border-radius:2px;overflow:hidden}
.title{color:#ccccdc;font-size:13px;font-weight:500;padding:6px 8px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.row{position:absolute;color:#ccccdc;font-size:15px;font-weight:500;padding-top:6px}
</style></head><body><div class="head">${esc(title)} · ${clock(range[0])}–${clock(range[1])} UTC</div><div class="grid">${boxes.join('')}</div></body></html>`;
}
