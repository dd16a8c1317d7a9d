import { describe, expect, it } from 'vitest';
import { planUniform } from './uniform.js';
import { HOUR_MS, partition, planInput } from './test-helpers.js';

const RATE = [36, 8, 2, 5, 9, 12];

describe('uniform baseline', () => {
  it('holds every partition from the interval start for the longest drain + pin (+ skew margin)', () => {
    const parts = [
      partition('a', RATE, { drainMs: 100, pinMs: 300, dumpMs: HOUR_MS }),
      partition('b', RATE, { drainMs: 400, pinMs: 50, dumpMs: HOUR_MS / 2 }),
      partition('c', RATE, { drainMs: 0, pinMs: 0, dumpMs: HOUR_MS / 4, server: 'other' }),
    ];
    const plan = planUniform(planInput(parts, { clockSkewMs: 250, minRoundTripMs: 50, maxConcurrentDumps: 1 }));
    expect(plan.solver).toBe('uniform');
    expect(plan.windows).toHaveLength(3);
    for (const w of plan.windows) {
      expect(w.startMs).toBe(0);
      expect(w.cutMs).toBe(400);
      // Longest drain 400 + longest pin 300 + margin 250 - 50.
      expect(w.holdMs).toBe(400 + 300 + 200);
      // 36 writes per hour inside a 900 ms window.
      expect(w.heldWrites).toBeCloseTo((36 * 900) / HOUR_MS, 12);
    }
    // Dumps start at the pinned cut and queue for the single slot on 'local', in name order.
    const byName = new Map(plan.windows.map((w) => [w.partition, w]));
    expect(byName.get('a')!.dumpStartMs).toBe(700);
    expect(byName.get('b')!.dumpStartMs).toBe(700 + HOUR_MS);
    expect(byName.get('c')!.dumpStartMs).toBe(700);
  });

  it('with after-dump the one interval lasts until the last dump ends', () => {
    const parts = [partition('a', RATE, { dumpMs: HOUR_MS }), partition('b', RATE, { dumpMs: HOUR_MS / 2 })];
    const plan = planUniform(planInput(parts, { release: 'after-dump', maxConcurrentDumps: 1 }));
    for (const w of plan.windows) expect(w.holdMs).toBe(1.5 * HOUR_MS);
    // 36 + 8/2 writes per partition held; the budget is not checked (the design has none).
    expect(plan.totals.heldWrites).toBeCloseTo(2 * 40, 9);
    expect(plan.infeasible).toEqual([]);
  });
});
