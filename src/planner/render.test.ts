import { describe, expect, it } from 'vitest';
import type { Series } from '../forecast/types.js';
import { planExact } from './plan.js';
import { hourOfWeekRates, renderHeatmapSvg, renderHeatmapTerminal, weekClock } from './render-heatmap.js';
import { renderPlanHtml } from './render-html.js';
import { renderPlanTerminal } from './render-terminal.js';
import { HOUR_MS, forecastOf, partition, planInput } from './test-helpers.js';

const parts = [
  partition('public.a<b>', [10, 8, 2, 5, 9, 12], { dumpMs: HOUR_MS / 2, drainMs: 20, pinMs: 80 }),
  partition('public.late', [12, 9, 5, 8, 10, 1], { dumpMs: HOUR_MS / 2, pinMs: 10, maxHoldMs: 1 }),
];
const input = planInput(parts, { candidateStepMs: HOUR_MS / 2 });
const forecasts = new Map(parts.map((p) => [p.name, p.forecast]));

/** Monday 2024-01-01 00:00 UTC. */
const MONDAY = Date.UTC(2024, 0, 1);

describe('plan pictures', () => {
  it('terminal: bars follow the forecast, marks sit at the window and the dump, units on every number, reasons listed', async () => {
    const plan = await planExact(input);
    const text = renderPlanTerminal(plan, forecasts, { width: 12 });
    const lines = text.split('\n');
    const mean = lines.find((l) => l.startsWith('  mean'))!;
    // 12 columns over 6 hours, two per hour; bar height = round(8 * rate / 12): 10 -> 7, 8 -> 5, 2 -> 1, 5 -> 3, 9 -> 6, 12 -> 8.
    expect(mean).toBe('  mean  │▇▇▅▅▁▁▃▃▆▆██│ peak 0.20 writes/min');
    const marks = lines.find((l) => l.startsWith('  plan'))!;
    // Window and cut at 02:00 (column 4); the 30-min dump starts 80 ms later (pin), so it just reaches
    // column 5. Early check points at 00:30 and 01:30 (columns 1 and 3): the first starts in each
    // hour whose 5-minute lookback lies in that hour too.
    expect(marks).toBe('  plan  │ ? ?^=      │ cut 02:00:00');
    expect(text).toContain('  early checks at 00:30, 01:30: the window starts at one instead');
    const head = lines.find((l) => l.startsWith('public.a<b>'))!;
    expect(head).toMatch(/window 02:00:00, hold 100 ms {2}held ~[\d.]+ writes {2}queue ≤[\d.]+ requests {2}dump 02:00:00–02:30:00 \(30\.0 min\)/);
    expect(text).toContain('public.late: infeasible: needs a hold of');
  });

  it('terminal: the band rows show the forecast uncertainty on one scale', async () => {
    const f = { ...forecastOf([10, 10, 10, 10, 10, 10]), upper: Float64Array.of(20, 20, 20, 20, 20, 20), lower: Float64Array.of(0, 0, 0, 0, 0, 0) };
    const p = { ...parts[0]!, forecast: f };
    const plan = await planExact(planInput([p], { candidateStepMs: HOUR_MS / 2 }));
    const lines = renderPlanTerminal(plan, new Map([[p.name, f]]), { width: 8 }).split('\n');
    expect(lines.find((l) => l.startsWith('  upper'))).toBe('  upper │████████│ peak 0.33 writes/min');
    expect(lines.find((l) => l.startsWith('  mean'))).toBe('  mean  │▄▄▄▄▄▄▄▄│ peak 0.17 writes/min');
    expect(lines.find((l) => l.startsWith('  lower'))).toBe('  lower │        │ peak 0 writes/min');
  });

  it('html: one standalone page, names escaped, an SVG per planned partition with band, dump and window in units', async () => {
    const plan = await planExact(input);
    const html = renderPlanHtml(plan, forecasts, { title: 'night <1>' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>night &lt;1&gt;</title>');
    expect(html).toContain('public.a&lt;b&gt;');
    expect(html).not.toContain('public.a<b>');
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html).toContain('cut 02:00:00');
    expect(html).toContain('<polygon class="band"');
    expect(html).toContain('dump 30.0 min');
    expect(html).toMatch(/<text[^>]*>0\.20\/min<\/text>/);
    expect(html).toMatch(/window 02:00:00–02:00:00, hold 100 ms, ~[\d.]+ writes held, queue ≤[\d.]+ requests/);
    expect(html).not.toMatch(/<script|https?:\/\//);
    // No history given: no heat map.
    expect(html).not.toContain('hour of the week');
  });
});

describe('heat map by hour of the week', () => {
  /** Two weeks of hourly writes: 600/h, except 60/h from 02:00 to 04:00 every day, and no record on Sundays 12:00-14:00. */
  const series: Series = {
    startMs: MONDAY,
    stepMs: HOUR_MS,
    values: Float64Array.from({ length: 14 * 24 }, (_, i) => (i % 24 >= 2 && i % 24 < 4 ? 60 : i % 168 === 6 * 24 + 12 || i % 168 === 6 * 24 + 13 ? NaN : 600)),
  };

  it('mean writes per minute per hour of the week, Monday 00:00 first, in the zone asked for', () => {
    const utc = hourOfWeekRates(series);
    expect(utc).toHaveLength(168);
    expect(utc[2]).toBe(1);
    expect(utc[0]).toBe(10);
    expect(utc[6 * 24 + 12]).toBeNaN();
    // New York is 5 h behind in January: the quiet 02:00 UTC hours are 21:00 the day before there.
    const ny = hourOfWeekRates(series, weekClock('America/New_York'));
    expect(ny[21]).toBe(1);
    expect(ny[6 * 24 + 21]).toBe(1);
    expect(ny[2]).toBe(10);
  });

  it('terminal: quiet cells blank, busy cells full, the peak in writes/min, gaps marked', () => {
    const text = renderHeatmapTerminal(new Map([['public.orders', series]]));
    const row = text.split('\n').find((l) => l.startsWith('public.orders'))!;
    const [mon] = row.slice('public.orders'.length + 2).split('│');
    // Cells of two hours: 00-02 busy, 02-04 quiet, then busy.
    expect(mon).toBe('█ ██████████');
    expect(row).toContain('10 writes/min');
    expect(row.split('│')[6]!.slice(0, 12)).toBe('█ ████·█████');
  });

  it('svg: one cell per hour and partition, with a legend in writes/min', () => {
    const svg = renderHeatmapSvg(new Map([['a', series], ['b<c>', series]]));
    expect(svg.match(/<rect x="\d+" y="\d+" width="4"/g)).toHaveLength(2 * 168);
    expect(svg).toContain('b&lt;c&gt; Mon 02:00: 1.0 writes/min');
    expect(svg).toContain('10 writes/min</text>');
    const html = renderPlanHtml({ intervalStartMs: 0, intervalEndMs: HOUR_MS, solver: 'heuristic', windows: [], infeasible: [], skipped: [], totals: { heldWrites: 0, overlapCost: 0, objective: 0 } }, new Map(), { histories: new Map([['a', series]]) });
    expect(html).toContain('Write rate by partition and hour of the week (UTC)');
  });
});
