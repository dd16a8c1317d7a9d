/**
 * Heat map of recorded write rate by partition and hour of the week (Monday 00:00 first, in the
 * plan's time zone): where each partition's quiet hours are, at a glance, before reading a plan.
 * Terminal (shading characters, two-hour cells) and SVG (one cell per hour, a colour legend).
 */
import type { Series } from '../forecast/types.js';
import { escapeXml, formatCount } from './render-common.js';

export const HOURS_PER_WEEK = 168;
const DAY_NAMES = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Weekday (0 = Monday) and hour of an instant on a zone's wall clock. */
export type WeekClock = (ms: number) => { weekday: number; hour: number };

export function weekClock(timeZone = 'UTC'): WeekClock {
  const f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: 'numeric', hourCycle: 'h23' });
  return (ms) => {
    let weekday = 0;
    let hour = 0;
    for (const p of f.formatToParts(new Date(ms))) {
      if (p.type === 'weekday') weekday = DAY_NAMES.indexOf(p.value);
      if (p.type === 'hour') hour = Number(p.value) % 24;
    }
    return { weekday, hour };
  };
}

/** Mean writes per minute in each hour of the week (NaN where the history has none). */
export function hourOfWeekRates(s: Series, clock: WeekClock = weekClock()): Float64Array {
  const sum = new Float64Array(HOURS_PER_WEEK);
  const minutes = new Float64Array(HOURS_PER_WEEK);
  // The zone's clock is read once per hour of history, not per step.
  let cachedHour = NaN;
  let slot = 0;
  for (let i = 0; i < s.values.length; i++) {
    const v = s.values[i] as number;
    if (!Number.isFinite(v)) continue;
    const ms = s.startMs + i * s.stepMs;
    const hourKey = Math.floor(ms / 3_600_000);
    if (hourKey !== cachedHour) {
      const c = clock(ms);
      slot = c.weekday * 24 + c.hour;
      cachedHour = hourKey;
    }
    sum[slot] = (sum[slot] as number) + v;
    minutes[slot] = (minutes[slot] as number) + s.stepMs / 60_000;
  }
  return Float64Array.from(sum, (v, i) => ((minutes[i] as number) > 0 ? v / (minutes[i] as number) : NaN));
}

const SHADES = ' ░▒▓█';

/** Terminal heat map: one row per partition, a cell per two hours, each row scaled to its own peak. */
export function renderHeatmapTerminal(histories: ReadonlyMap<string, Series>, clock: WeekClock = weekClock()): string {
  const names = [...histories.keys()].sort();
  if (names.length === 0) return 'write rate by hour of the week: no history recorded yet';
  const width = Math.max(...names.map((n) => n.length), 9);
  const out = [`write rate by hour of the week (writes/min, 2-hour cells, each row scaled to its peak; shades ${JSON.stringify(SHADES)} = 0 … peak)`];
  out.push(`${''.padEnd(width)}  ${DAY_NAMES.map((d) => d.padEnd(12)).join('│')}  peak`);
  for (const name of names) {
    const rates = hourOfWeekRates(histories.get(name) as Series, clock);
    const cells: number[] = [];
    for (let c = 0; c < HOURS_PER_WEEK / 2; c++) {
      const a = rates[2 * c] as number;
      const b = rates[2 * c + 1] as number;
      cells.push(Number.isFinite(a) && Number.isFinite(b) ? (a + b) / 2 : Number.isFinite(a) ? a : b);
    }
    const peak = Math.max(0, ...cells.filter(Number.isFinite));
    const shade = (v: number): string => (!Number.isFinite(v) ? '·' : SHADES[peak > 0 ? Math.min(SHADES.length - 1, Math.round((v / peak) * (SHADES.length - 1))) : 0] as string);
    const days = DAY_NAMES.map((_, d) => cells.slice(d * 12, d * 12 + 12).map(shade).join(''));
    out.push(`${name.padEnd(width)}  ${days.join('│')}  ${formatCount(peak)} writes/min`);
  }
  out.push(`${''.padEnd(width)}  ${DAY_NAMES.map(() => '0   6   12  ').join('│')}  (hour of day; · = no history)`);
  return out.join('\n');
}

/** SVG heat map: one cell per hour of the week, one colour scale for all rows, with a legend. */
export function renderHeatmapSvg(histories: ReadonlyMap<string, Series>, clock: WeekClock = weekClock()): string {
  const names = [...histories.keys()].sort();
  const cell = 4;
  const rowH = 16;
  const left = Math.min(260, 8 + 7 * Math.max(8, ...names.map((n) => n.length)));
  const top = 30;
  const w = left + HOURS_PER_WEEK * cell + 150;
  const h = top + names.length * rowH + 36;
  const rates = names.map((n) => hourOfWeekRates(histories.get(n) as Series, clock));
  const peak = Math.max(0, ...rates.flatMap((r) => Array.from(r).filter(Number.isFinite)));
  // White (quiet) to deep blue (busy): quiet hours are what the planner looks for.
  const colour = (v: number): string => {
    if (!Number.isFinite(v)) return '#eeeeee';
    const t = peak > 0 ? Math.sqrt(v / peak) : 0;
    const c = (a: number, b: number): number => Math.round(a + (b - a) * t);
    return `rgb(${c(255, 16)},${c(255, 60)},${c(255, 140)})`;
  };
  const parts: string[] = [`<svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img" aria-label="write rate by partition and hour of the week">`];
  DAY_NAMES.forEach((d, i) => parts.push(`<text x="${left + i * 24 * cell + 2}" y="${top - 6}">${d}</text><line class="axis" x1="${left + i * 24 * cell}" y1="${top - 4}" x2="${left + i * 24 * cell}" y2="${top + names.length * rowH}"/>`));
  names.forEach((name, r) => {
    const y = top + r * rowH;
    parts.push(`<text x="4" y="${y + rowH - 4}">${escapeXml(name)}</text>`);
    const row = rates[r] as Float64Array;
    for (let k = 0; k < HOURS_PER_WEEK; k++) {
      const v = row[k] as number;
      parts.push(`<rect x="${left + k * cell}" y="${y}" width="${cell}" height="${rowH - 2}" fill="${colour(v)}"><title>${escapeXml(name)} ${DAY_NAMES[Math.floor(k / 24)]} ${String(k % 24).padStart(2, '0')}:00: ${Number.isFinite(v) ? `${formatCount(v)} writes/min` : 'no history'}</title></rect>`);
    }
  });
  const lx = left + HOURS_PER_WEEK * cell + 16;
  for (let i = 0; i <= 10; i++) parts.push(`<rect x="${lx}" y="${top + (10 - i) * 8}" width="14" height="8" fill="${colour((peak * i * i) / 100)}"/>`);
  parts.push(`<text x="${lx + 20}" y="${top + 8}">${escapeXml(formatCount(peak))} writes/min</text><text x="${lx + 20}" y="${top + 88}">0 writes/min</text>`);
  parts.push(`<text x="${left}" y="${h - 8}">hour of the week (Monday 00:00 first; grey: no history)</text>`);
  parts.push('</svg>');
  return parts.join('');
}
