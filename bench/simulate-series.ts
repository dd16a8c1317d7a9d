/**
 * Runs the simulator over every series in ../shared/data/series (or the folder given) and prints,
 * per scenario, the table of adaptive, uniform and oracle plans with the ratios adaptive/uniform and
 * adaptive/oracle. `npx tsx bench/simulate-series.ts [dir] [days]`.
 *
 * Series come in different units (megawatts, flights per hour); every scenario rescales each to a
 * mean of 36,000 writes/hour (10/s) so one series does not drown the others in the sums. Ratios of
 * a series alone do not depend on that scale.
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSimPartitions } from '../src/cli/commands/simulate.js';
import { forecast } from '../src/forecast/index.js';
import { parseInterval } from '../src/planner/interval.js';
import { formatSimulationTable, ratios } from '../src/planner/render-simulation.js';
import { DEFAULT_SIMULATE_OPTIONS, simulate, type SimPartition, type SimulateOptions } from '../src/planner/simulate.js';

const dir = process.argv[2] ?? '/work/shared/data/series';
const days = Number(process.argv[3] ?? 14);
const files = (await readdir(dir)).filter((f) => f.endsWith('.csv')).sort().map((f) => join(dir, f));
const all = await loadSimPartitions(files, 1, 36_000);

interface Scenario {
  name: string;
  parts: SimPartition[];
  opts: Partial<SimulateOptions> & { interval: SimulateOptions['interval'] };
}

const nightly = parseInterval('01:00-07:00');
const scenarios: Scenario[] = [
  { name: 'all series, one server each, 01:00-07:00, after-snapshot', parts: all, opts: { interval: nightly } },
  { name: 'all series, one server each, 22:00-08:00, after-snapshot', parts: all, opts: { interval: parseInterval('22:00-08:00') } },
  { name: 'all series, one shared server (cap 2), 01:00-07:00, after-snapshot', parts: all.map((p) => ({ ...p, server: 'local' })), opts: { interval: nightly } },
  { name: 'all series, one consistency group across servers, 01:00-07:00', parts: all.map((p) => ({ ...p, group: 'all' })), opts: { interval: nightly } },
  {
    name: 'all series, shared server, after-dump (budget 30 min hold, 50,000 queued), 01:00-07:00',
    parts: all.map((p) => ({ ...p, server: 'local' })),
    opts: { interval: nightly, release: 'after-dump', maxHoldMs: 30 * 60_000, maxQueuedRequests: 50_000 },
  },
  ...all.map((p) => ({ name: `${p.name} alone, 01:00-07:00, after-snapshot`, parts: [p], opts: { interval: nightly } })),
];

const summary: string[] = [];
for (const s of scenarios) {
  const t0 = performance.now();
  const r = await simulate(s.parts, forecast, { ...DEFAULT_SIMULATE_OPTIONS, days, ...s.opts });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(formatSimulationTable(r, `## ${s.name} (${r.days} days, ${secs} s)`));
  console.log('');
  const q = ratios(r);
  const u = q['adaptive/uniform']!;
  const o = q['adaptive/oracle']!;
  summary.push(
    `| ${s.name} | ${u.heldWrites} | ${u.overlapCost} | ${o.heldWrites} | ${o.overlapCost} | ${r.adaptive.budgetViolations} / ${r.uniform.budgetViolations} | ${r.adaptive.missedBackups} |`,
  );
}
console.log('| scenario | held a/u | overlap a/u | held a/o | overlap a/o | violations adaptive / uniform | adaptive missed |');
console.log('|---|---|---|---|---|---|---|');
for (const line of summary) console.log(line);
