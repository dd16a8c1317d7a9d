import { describe, expect, test } from 'vitest';
import { configSchema } from '../../config/schema.js';
import { DemoHistory } from './history.js';
import { planDemoDay } from './plan-day.js';
import { demoStreams } from './shapes.js';
import { DAY_MS, SimClock, STEPS_PER_DAY } from './sim-clock.js';

describe('planDemoDay', () => {
  test('after one simulated day, each partition gets its window in its own quiet hours', () => {
    const clock = new SimClock(120_000, Date.UTC(2025, 5, 10, 9));
    const streams = demoStreams(new Date(Date.UTC(2025, 5, 10)));
    const history = new DemoHistory(clock.simStartMs);
    const totals = new Map(streams.map((s) => [s.partition, 0]));
    for (let i = 0; i < STEPS_PER_DAY; i++) {
      const hour = clock.hourOf(clock.simStartMs + i * (DAY_MS / STEPS_PER_DAY));
      for (const s of streams) totals.set(s.partition, totals.get(s.partition)! + Math.round(200 * s.shape(hour)));
      history.sample(totals);
    }
    const plan = planDemoDay({
      history,
      intervalStartMs: history.endMs,
      intervalEndMs: history.endMs + DAY_MS,
      scale: clock.scale,
      config: configSchema.parse({}),
      release: 'after-dump',
      facts: () => ({ lastWindowMs: 500, writesSinceBackup: null }),
    });
    expect(plan.infeasible).toEqual([]);
    const hourOf = (p: string): number => clock.hourOf(plan.windows.find((w) => w.partition === p)!.startMs);
    const away = (h: number, peak: number): number => Math.min(Math.abs(h - peak), 24 - Math.abs(h - peak));
    expect(away(hourOf('public.orders_eu'), 12)).toBeGreaterThan(6);
    expect(away(hourOf('public.orders_us'), 19)).toBeGreaterThan(6);
    expect(away(hourOf('public.orders_apac'), 4)).toBeGreaterThan(6);
    expect(plan.models.get('public.orders_eu')).toBe('seasonal-naive');
    for (const w of plan.windows) {
      expect(w.startMs).toBeGreaterThanOrEqual(history.endMs);
      expect(w.endMs).toBeLessThanOrEqual(history.endMs + DAY_MS);
    }
  });
});
