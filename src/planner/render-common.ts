/** Shared by the terminal and HTML pictures of a plan: resampling a forecast to columns, labels. */
import type { Forecast } from '../forecast/types.js';
import { Cumulative } from './curve.js';
import type { Plan, PlannedWindow } from './types.js';

export type TimeFormatter = (ms: number) => string;

/** HH:MM of the timestamp read as UTC: the series' own clock unless the caller knows better. */
export const utcClock: TimeFormatter = (ms) => new Date(ms).toISOString().slice(11, 16);

/** Forecast over [a, b) in `columns` equal slices, as writes per minute (comparable across steps). */
export function resample(f: Forecast, which: 'mean' | 'upper' | 'lower', a: number, b: number, columns: number): Float64Array {
  const c = new Cumulative({ startMs: f.startMs, stepMs: f.stepMs, values: which === 'lower' ? lowerOf(f) : f[which] });
  const out = new Float64Array(columns);
  const w = (b - a) / columns;
  for (let i = 0; i < columns; i++) out[i] = (c.between(a + i * w, a + (i + 1) * w) / w) * 60_000;
  return out;
}

export function formatMs(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1_000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function formatCount(x: number): string {
  if (x === 0) return '0';
  if (x >= 100) return String(Math.round(x));
  return x.toPrecision(2);
}

/** Partitions in the order a person reads a plan: by window start, then everything not planned. */
export function planRows(plan: Plan): { planned: PlannedWindow[]; other: { partition: string; status: string; reason: string }[] } {
  return {
    planned: [...plan.windows].sort((x, y) => x.startMs - y.startMs || (x.partition < y.partition ? -1 : 1)),
    other: [
      ...plan.infeasible.map((i) => ({ partition: i.partition, status: 'infeasible', reason: i.reason })),
      ...plan.skipped.map((s) => ({ partition: s.partition, status: 'skipped', reason: s.reason })),
    ],
  };
}

/** Text safe inside HTML/SVG elements and attributes. */
export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** HH:MM:SS of the clock: window starts are planned to the second. */
export function withSeconds(time: TimeFormatter): TimeFormatter {
  return (ms) => `${time(ms)}:${String(Math.floor((((ms % 60_000) + 60_000) % 60_000) / 1000)).padStart(2, '0')}`;
}

/** The band a forecast carries: its lower quantile where it has one, else the mean. */
export function lowerOf(f: Forecast): Float64Array {
  return f.lower ?? f.mean;
}
