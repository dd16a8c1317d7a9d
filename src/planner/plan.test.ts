import { describe, expect, it } from 'vitest';
import { plan, planExact, planHeuristic } from './plan.js';
import { HOUR_MS, partition, peakConcurrentDumps, planInput } from './test-helpers.js';

const QUIET_AT_2 = [10, 8, 2, 5, 9, 12];

describe('plan: hand-checkable optima', () => {
  it('puts a lone dump in the quietest hour', async () => {
    const input = planInput([partition('a', QUIET_AT_2)]);
    for (const plan of [await planExact(input), planHeuristic(input)]) {
      expect(plan.windows).toHaveLength(1);
      const w = plan.windows[0]!;
      expect(w.cutMs).toBe(2 * HOUR_MS);
      expect(w.dumpStartMs).toBe(2 * HOUR_MS);
      expect(w.dumpEndMs).toBe(3 * HOUR_MS);
      expect(w.overlapCost).toBeCloseTo(2, 9);
      expect(w.heldWrites).toBe(0);
      expect(plan.totals.objective).toBeCloseTo(2, 9);
    }
  });

  it('counts held writes at the rate inside the window', async () => {
    // 10 s hold (drain 4 s + pin 6 s) in the hour of 2 writes: 2 * 10/3600 writes held.
    const input = planInput([partition('a', QUIET_AT_2, { drainMs: 4_000, pinMs: 6_000, dumpMs: 0 })], { overlapWeight: 0 });
    const plan = await planExact(input);
    const w = plan.windows[0]!;
    expect(w.startMs).toBe(2 * HOUR_MS);
    expect(w.cutMs).toBe(2 * HOUR_MS + 4_000);
    expect(w.endMs).toBe(2 * HOUR_MS + 10_000);
    expect(w.holdMs).toBe(10_000);
    expect(w.heldWrites).toBeCloseTo((2 * 10) / 3600, 12);
    expect(w.queuePeak).toBeCloseTo((2 * 10) / 3600, 12);
  });

  it('respects the dump cap: the second dump takes the next best hour', async () => {
    // Server load is both curves: [20,16,4,10,18,24]; one slot: 4 + 10; two slots: 4 + 4.
    const parts = [partition('a', QUIET_AT_2), partition('b', QUIET_AT_2)];
    const one = await planExact(planInput(parts, { maxConcurrentDumps: 1 }));
    expect(one.totals.overlapCost).toBeCloseTo(14, 9);
    expect(one.windows.map((w) => w.cutMs / HOUR_MS).sort()).toEqual([2, 3]);
    const two = await planExact(planInput(parts, { maxConcurrentDumps: 2 }));
    expect(two.totals.overlapCost).toBeCloseTo(8, 9);
    const heuristic = planHeuristic(planInput(parts, { maxConcurrentDumps: 1 }));
    expect(heuristic.totals.objective).toBeCloseTo(14, 9);
    expect(peakConcurrentDumps(heuristic).get('local')).toBe(1);
  });

  it('per-server caps: partitions on different servers do not compete', async () => {
    const parts = [partition('a', QUIET_AT_2, { server: 's1' }), partition('b', QUIET_AT_2, { server: 's2' })];
    const plan = await planExact(planInput(parts, { maxConcurrentDumps: 1 }));
    expect(plan.windows.map((w) => w.cutMs)).toEqual([2 * HOUR_MS, 2 * HOUR_MS]);
    expect(plan.totals.overlapCost).toBeCloseTo(4, 9);
  });

  it('one cut per consistency group, at the best time for the group as a whole', async () => {
    // Apart: a at hour 0 (1), b at hour 5 (1). Together the sums are [10,18,18,18,18,10]: hour 0 or 5, cost 10.
    const parts = [
      partition('a', [1, 9, 9, 9, 9, 9], { server: 's1', group: 'g' }),
      partition('b', [9, 9, 9, 9, 9, 1], { server: 's2', group: 'g' }),
    ];
    for (const plan of [await planExact(planInput(parts)), planHeuristic(planInput(parts))]) {
      expect(plan.windows).toHaveLength(2);
      expect(plan.windows[0]!.cutMs).toBe(plan.windows[1]!.cutMs);
      expect(plan.totals.objective).toBeCloseTo(10, 9);
    }
    const apart = await planExact(planInput(parts.map((p) => ({ ...p, group: p.name }))));
    expect(apart.totals.objective).toBeCloseTo(2, 9);
  });

  it('group members on one server share one dump slot, shortest dump first', async () => {
    const parts = [
      partition('long', QUIET_AT_2, { group: 'g', dumpMs: 2 * HOUR_MS, pinMs: 1_000, maxHoldMs: 3 * HOUR_MS }),
      partition('short', QUIET_AT_2, { group: 'g', dumpMs: HOUR_MS / 2, pinMs: 3_000, maxHoldMs: 3 * HOUR_MS }),
    ];
    const plan = await planExact(planInput(parts, { maxConcurrentDumps: 1, release: 'after-dump', candidateStepMs: HOUR_MS / 2 }));
    const byName = new Map(plan.windows.map((w) => [w.partition, w]));
    const s = byName.get('short')!;
    const l = byName.get('long')!;
    expect(s.cutMs).toBe(l.cutMs);
    // The snapshot is pinned once per server, when the slower pin (3 s) is done.
    expect(s.dumpStartMs).toBe(s.cutMs + 3_000);
    expect(l.dumpStartMs).toBe(s.dumpEndMs);
    // after-dump: each member is released when its own dump ends.
    expect(s.endMs).toBe(s.dumpEndMs);
    expect(l.endMs).toBe(l.dumpEndMs);
    expect(peakConcurrentDumps(plan).get('local')).toBe(1);
  });
});

describe('plan: budgets and reasons', () => {
  it('reports a hold the budget cannot allow, naming the parts of the hold', async () => {
    const plan = await planExact(planInput([partition('a', QUIET_AT_2, { drainMs: 3_000, pinMs: 4_000, maxHoldMs: 5_000 })]));
    expect(plan.windows).toEqual([]);
    expect(plan.infeasible).toHaveLength(1);
    expect(plan.infeasible[0]!.reason).toMatch(/needs a hold of 7000 ms .* > maxHoldMs 5000 ms/);
  });

  it('after-dump makes the hold cover the dump', async () => {
    const input = planInput([partition('a', QUIET_AT_2, { dumpMs: 60_000, maxHoldMs: 30_000 })], { release: 'after-dump' });
    expect((await planExact(input)).infeasible[0]!.reason).toMatch(/dump\) > maxHoldMs 30000 ms/);
    const roomy = await planExact({ ...input, partitions: [{ ...input.partitions[0]!, maxHoldMs: 61_000 }] });
    expect(roomy.windows[0]!.holdMs).toBe(60_000);
    expect(roomy.windows[0]!.endMs).toBe(roomy.windows[0]!.dumpEndMs);
  });

  it('avoids hours where the upper quantile would overflow the queue; plans at the smallest risk rather than miss the backup; reports when even the mean overflows', async () => {
    // 36 s hold; upper per hour [100..] -> queue = upper/100; budget 1 request.
    const upper = [1000, 1000, 1000, 50, 1000, 1000];
    const p = partition('a', QUIET_AT_2, { drainMs: 0, pinMs: 36_000, dumpMs: 0, maxHoldMs: 60_000, maxQueuedRequests: 1 });
    const ok = await planExact(planInput([{ ...p, forecast: { ...p.forecast, upper: Float64Array.from(upper) } }]));
    expect(ok.windows[0]!.startMs).toBe(3 * HOUR_MS);
    expect(ok.windows[0]!.queuePeak).toBeCloseTo(0.5, 9);
    // Over the budget at the upper quantile everywhere, within it at the mean: planned where the
    // upper quantile is smallest (a missed backup is worse than a queue that may overflow).
    const lastResort = await planExact(planInput([{ ...p, forecast: { ...p.forecast, upper: Float64Array.from([1000, 900, 400, 1000, 1000, 1000]) } }]));
    expect(lastResort.infeasible).toEqual([]);
    expect(Math.floor(lastResort.windows[0]!.startMs / HOUR_MS)).toBe(2);
    const none = await planExact(planInput([{ ...p, forecast: { ...p.forecast, mean: Float64Array.from(upper.map(() => 1000)), upper: Float64Array.from(upper.map(() => 1000)) } }]));
    expect(none.windows).toEqual([]);
    expect(none.infeasible[0]!.reason).toMatch(/queue peak is at least 10 requests .* > maxQueuedRequests 1/);
    // Reject mode queues nothing, so the same forecast is fine.
    const reject = await planExact(planInput([{ ...p, mode: 'reject', forecast: { ...p.forecast, upper: Float64Array.from(upper.map(() => 1000)) } }]));
    expect(reject.windows).toHaveLength(1);
  });

  it('a dump longer than the interval is infeasible', async () => {
    const plan = planHeuristic(planInput([partition('a', QUIET_AT_2, { dumpMs: 7 * HOUR_MS })]));
    expect(plan.infeasible[0]!.reason).toMatch(/longer than the backup interval/);
  });

  it('one infeasible member makes its whole group infeasible, each member listed', async () => {
    // b's slow drain is b's alone (a slow pin would hold every member: the cut waits for the slowest server).
    const parts = [partition('a', QUIET_AT_2, { group: 'g', server: 's1' }), partition('b', QUIET_AT_2, { group: 'g', server: 's2', drainMs: 20_000 })];
    const plan = await planExact(planInput(parts));
    expect(plan.windows).toEqual([]);
    expect(plan.infeasible.map((i) => i.partition).sort()).toEqual(['a', 'b']);
    expect(plan.infeasible.find((i) => i.partition === 'a')!.reason).toMatch(/consistency group g: member b cannot be planned/);
  });

  it('a group across servers holds every member until the slowest server has pinned, and dumps start after it', async () => {
    const parts = [partition('a', QUIET_AT_2, { group: 'g', server: 's1', drainMs: 10, pinMs: 100 }), partition('b', QUIET_AT_2, { group: 'g', server: 's2', drainMs: 10, pinMs: 3_000 })];
    for (const plan of [await planExact(planInput(parts)), planHeuristic(planInput(parts))]) {
      expect(plan.windows).toHaveLength(2);
      for (const w of plan.windows) {
        expect(w.holdMs).toBeGreaterThanOrEqual(3_010);
        expect(w.dumpStartMs).toBeGreaterThanOrEqual(w.cutMs + 3_000);
      }
    }
  });

  it('reports partitions left without a dump slot instead of dropping them', async () => {
    // Three 3-hour dumps, one slot, six hours: only two fit.
    const parts = ['a', 'b', 'c'].map((n) => partition(n, QUIET_AT_2, { dumpMs: 3 * HOUR_MS }));
    for (const plan of [await planExact(planInput(parts, { maxConcurrentDumps: 1 })), planHeuristic(planInput(parts, { maxConcurrentDumps: 1 }))]) {
      expect(plan.windows).toHaveLength(2);
      expect(plan.infeasible).toHaveLength(1);
      expect(plan.infeasible[0]!.reason).toMatch(/no free dump slot .* local \(maxConcurrentDumps 1\)/);
    }
  });

  it('skips unchanged partitions when configured, and lists them', async () => {
    const parts = [partition('a', QUIET_AT_2, { writesSinceLastBackup: 0 }), partition('b', QUIET_AT_2, { writesSinceLastBackup: 5 })];
    const plan = await planExact(planInput(parts));
    expect(plan.windows.map((w) => w.partition)).toEqual(['b']);
    expect(plan.skipped).toEqual([{ partition: 'a', group: 'a', reason: 'no writes since the last good backup' }]);
    const all = await planExact(planInput(parts, { skipUnchanged: false }));
    expect(all.windows).toHaveLength(2);
    // An unchanged member of a changed group still needs the shared cut.
    const grouped = await planExact(planInput(parts.map((p) => ({ ...p, group: 'g' }))));
    expect(grouped.windows).toHaveLength(2);
  });
});

describe('plan: clock skew and round trip', () => {
  it('extends the hold by skew minus round trip, never by less than zero', async () => {
    const p = partition('a', QUIET_AT_2, { drainMs: 100, pinMs: 200, dumpMs: 0 });
    const skewed = await planExact(planInput([p], { clockSkewMs: 500, minRoundTripMs: 120 }));
    expect(skewed.windows[0]!.holdMs).toBe(100 + 200 + 380);
    expect(skewed.windows[0]!.holdMs).toBeGreaterThanOrEqual(500 - 120);
    const covered = await planExact(planInput([p], { clockSkewMs: 100, minRoundTripMs: 300 }));
    expect(covered.windows[0]!.holdMs).toBe(300);
    // A budget that the margin breaks is reported.
    const tight = await planExact(planInput([{ ...p, maxHoldMs: 600 }], { clockSkewMs: 500, minRoundTripMs: 120 }));
    expect(tight.infeasible[0]!.reason).toMatch(/skew margin 380 ms/);
  });
});

describe('plan: solver choice', () => {
  it('auto solves small problems exactly and large ones heuristically, same answer here', async () => {
    const input = planInput([partition('a', QUIET_AT_2), partition('b', QUIET_AT_2)], { maxConcurrentDumps: 1 });
    const small = await plan(input);
    expect(small.solver).toBe('exact');
    const forced = await plan(input, { exactMaxVariables: 0 });
    expect(forced.solver).toBe('heuristic');
    expect(forced.totals.objective).toBeCloseTo(small.totals.objective, 9);
  });
});
