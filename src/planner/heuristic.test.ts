import { describe, expect, it } from 'vitest';
import { planExact, planHeuristic } from './plan.js';
import { peakConcurrentDumps, randomInput } from './test-helpers.js';

describe('heuristic against the exact optimum', () => {
  it('is within 2% on small random instances, respecting caps and group cuts', async () => {
    const gaps: number[] = [];
    for (let seed = 1; seed <= 12; seed++) {
      const input = randomInput(seed, { partitions: 4 + (seed % 7), servers: 1 + (seed % 3), groupEvery: seed % 4 === 0 ? 3 : undefined });
      const exact = await planExact(input);
      const heuristic = planHeuristic(input);
      // Same number planned first (the exact solver maximises it), then the cost.
      expect(heuristic.windows.length).toBe(exact.windows.length);
      expect(heuristic.totals.objective).toBeGreaterThanOrEqual(exact.totals.objective * (1 - 1e-9));
      gaps.push(heuristic.totals.objective / exact.totals.objective - 1);
      for (const plan of [exact, heuristic]) {
        for (const [server, peak] of peakConcurrentDumps(plan)) {
          const cap = input.maxConcurrentDumps;
          expect(peak, `${plan.solver} seed ${seed} server ${server}`).toBeLessThanOrEqual(cap);
        }
        const cuts = new Map<string, Set<number>>();
        for (const w of plan.windows) cuts.set(w.group, (cuts.get(w.group) ?? new Set()).add(w.cutMs));
        for (const set of cuts.values()) expect(set.size).toBe(1);
      }
    }
    expect(Math.max(...gaps)).toBeLessThanOrEqual(0.02);
    // Twelve MIPs solved to optimality: seconds on an idle machine, far more on a loaded one.
  }, 300_000);
});
