import { describe, expect, it } from 'vitest';
import { planExact } from './plan.js';
import { renderPlanHtml } from './render-html.js';
import { renderPlanTerminal } from './render-terminal.js';
import { HOUR_MS, partition, planInput } from './test-helpers.js';

const parts = [
  partition('public.a<b>', [10, 8, 2, 5, 9, 12], { dumpMs: HOUR_MS / 2, drainMs: 20, pinMs: 80 }),
  partition('public.late', [12, 9, 5, 8, 10, 1], { dumpMs: HOUR_MS / 2, pinMs: 10, maxHoldMs: 1 }),
];
const input = planInput(parts, { candidateStepMs: HOUR_MS / 2 });
const forecasts = new Map(parts.map((p) => [p.name, p.forecast]));

describe('plan pictures', () => {
  it('terminal: bars follow the forecast, marks sit at the window and the dump, reasons listed', async () => {
    const plan = await planExact(input);
    const text = renderPlanTerminal(plan, forecasts, { width: 12 });
    const lines = text.split('\n');
    const bars = lines.find((l) => l.startsWith('  │') && l.includes('peak'))!;
    // 12 columns over 6 hours, two per hour; bar height = round(8 * rate / 12): 10 -> 7, 8 -> 5, 2 -> 1, 5 -> 3, 9 -> 6, 12 -> 8.
    expect(bars).toBe('  │▇▇▅▅▁▁▃▃▆▆██│ peak 0.20/min');
    const marks = lines[lines.indexOf(bars) + 1]!;
    // Window and cut at 02:00 (column 4); the 30-min dump starts 80 ms later (pin), so it just reaches column 5.
    expect(marks).toBe('  │    ^=      │');
    expect(text).toContain('public.late: infeasible: needs a hold of');
  });

  it('html: one standalone page, names escaped, an SVG per planned partition', async () => {
    const plan = await planExact(input);
    const html = renderPlanHtml(plan, forecasts, { title: 'night <1>' });
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<title>night &lt;1&gt;</title>');
    expect(html).toContain('public.a&lt;b&gt;');
    expect(html).not.toContain('public.a<b>');
    expect(html.match(/<svg /g)).toHaveLength(1);
    expect(html).toContain('cut 02:00');
    expect(html).not.toMatch(/<script|https?:\/\//);
  });
});
