/**
 * Times the heuristic planner on 10,000 partitions over a 6-hour interval with 5-minute forecast
 * steps (the target: under 10 s). `npx tsx bench/planner-scale.ts [partitions] [servers]`.
 * Wall-clock figures on a shared machine are noisy: run it a few times.
 */
import { buildProblem } from '../src/planner/model.js';
import { planHeuristic } from '../src/planner/plan.js';
import { forecastOf, peakConcurrentDumps, planInput, rng } from '../src/planner/test-helpers.js';
import type { PartitionPlanInput } from '../src/planner/types.js';

const partitions = Number(process.argv[2] ?? 10_000);
const servers = Number(process.argv[3] ?? 40);
const STEP_MS = 300_000;
const HOURS = 6;
const steps = (HOURS * 3_600_000) / STEP_MS;
const r = rng(42);

const parts: PartitionPlanInput[] = [];
for (let i = 0; i < partitions; i++) {
  const level = Math.exp(r() * 8);
  const trough = r() * steps;
  const mean = Array.from({ length: steps }, (_, t) => level * (0.2 + 0.8 * Math.min(1, Math.abs(t - trough) / (steps / 3))) * (0.8 + 0.4 * r()));
  parts.push({
    name: `public.events_p${i}`,
    server: `s${i % servers}`,
    // Every 50th partition belongs to a 5-member table group: one cut for the five.
    group: i % 50 < 5 ? `table${Math.floor(i / 50)}` : `public.events_p${i}`,
    forecast: forecastOf(mean, { stepMs: STEP_MS, upper: mean.map((v) => v * 1.5) }),
    // Log-uniform between 2 s and 5 min: most partitions are small.
    dumpMs: Math.round(2_000 * Math.exp(r() * Math.log(150))),
    drainMs: Math.round(r() * 50),
    pinMs: 30 + Math.round(r() * 70),
    maxHoldMs: 5_000,
    maxQueuedRequests: 10_000,
    mode: 'hold',
    writesSinceLastBackup: r() < 0.05 ? 0 : 1,
  });
}
const input = planInput(parts, {
  intervalEndMs: HOURS * 3_600_000,
  maxConcurrentDumps: 2,
  candidateStepMs: 60_000,
  overlapWeight: 0.1,
  clockSkewMs: 40,
  minRoundTripMs: 10,
});

const t0 = performance.now();
const plan = planHeuristic(input, { timeBudgetMs: 6_000 });
const ms = performance.now() - t0;
const peak = Math.max(...peakConcurrentDumps(plan).values());
console.log(`partitions ${partitions}, servers ${servers}, 6 h at 5-min forecast steps, 1-min candidates`);
console.log(`planned ${plan.windows.length}, skipped ${plan.skipped.length}, infeasible ${plan.infeasible.length}`);
console.log(`objective ${plan.totals.objective.toFixed(1)} (held ${plan.totals.heldWrites.toFixed(2)}, overlap ${plan.totals.overlapCost.toFixed(1)})`);
console.log(`peak concurrent dumps on any server: ${peak} (cap ${input.maxConcurrentDumps})`);
// Every group at its own cheapest time, as if there were no dump cap: no plan can cost less.
const lowerBound = buildProblem(input).groups.reduce((s, g) => s + Math.min(...g.cost), 0);
if (plan.infeasible.length === 0) {
  console.log(`lower bound (no dump cap) ${lowerBound.toFixed(1)}: heuristic is within ${((plan.totals.objective / lowerBound - 1) * 100).toFixed(2)}% of it`);
} else {
  console.log(`(no lower-bound comparison: ${plan.infeasible.length} partitions found no dump slot, the servers are over-subscribed)`);
}
console.log(`heuristic wall time: ${(ms / 1000).toFixed(2)} s`);
