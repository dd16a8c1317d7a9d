/**
 * Runs the simulator over the public series (../shared/data/series) and the wider set
 * (bench/series) and prints, per scenario, the table of adaptive, uniform and oracle plans with the
 * ratios adaptive/uniform and adaptive/oracle, the missed backups and the live check's moves.
 * `npx tsx bench/simulate-series.ts [days]`; `ONLY='wider set' npx tsx ...` for some scenarios.
 *
 * The "no zero-load night" scenarios (after-dump release, 10-minute dumps, one-hour hold budget)
 * are the goals of issue 14: adaptive held writes <= 1.10 x oracle and <= 0.7 x uniform, zero
 * missed backups and zero budget violations, on each set, at 14:00-23:00 and 07:00-23:00.
 * 10:00-18:00 stays as a record, but cannot meet 0.7 x uniform on the public series: the oracle
 * itself holds 0.83 x there (a flat day, where every slot costs about the same). 07:00-23:00 was
 * chosen from the oracle and uniform plans alone, before any adaptive figure: every waking hour,
 * no hour with zero load in any public series (ORD's nights are), and the oracle at 0.57 x uniform
 * on the public series; of the others tried, 12:00-20:00 (0.93), 09:00-21:00 (0.76), 06:00-14:00
 * (0.77) and 08:00-16:00 (0.68) leave the goal barely or not reachable, 16:00-24:00 takes in ORD's
 * zero 23:00 hour.
 *
 * Series come in different units (megawatts, flights per hour); every scenario rescales each to a
 * mean of 36,000 writes/hour (10/s) so one series does not drown the others in the sums. Ratios of
 * a series alone do not depend on that scale.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSimPartitions } from '../src/cli/commands/simulate.js';
import { forecast } from '../src/forecast/index.js';
import { parseInterval } from '../src/planner/interval.js';
import { formatSimulationTable, ratios } from '../src/planner/render-simulation.js';
import { DEFAULT_SIMULATE_OPTIONS, simulate, type SimPartition, type SimulateOptions } from '../src/planner/simulate.js';

const days = Number(process.argv[2] ?? 14);
// ONLY=text runs just the scenarios whose name contains it (the whole run takes about 20 s here).
const only = process.env.ONLY;
const sharedDir = [join(import.meta.dirname, '..', '..', 'shared', 'data', 'series'), '/work/shared/data/series'].find((d) => existsSync(d));
if (sharedDir === undefined) throw new Error('shared/data/series not found beside the clone');
const csvs = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.csv')).sort().map((f) => join(dir, f));
const all = await loadSimPartitions(await csvs(sharedDir), 1, 36_000);
const wider = await loadSimPartitions(await csvs(join(import.meta.dirname, 'series')), 1, 36_000);

interface Scenario {
  name: string;
  parts: SimPartition[];
  opts: Partial<SimulateOptions> & { interval: SimulateOptions['interval'] };
}

const nightly = parseInterval('01:00-07:00');
const busy = (set: string, parts: SimPartition[], interval: string): Scenario => ({
  name: `${set}, one server each, ${interval}, after-dump, 10-min dumps, 1 h budget`,
  parts,
  opts: { interval: parseInterval(interval), release: 'after-dump', dumpMs: 10 * 60_000, maxHoldMs: 3_600_000 },
});
const scenarios: Scenario[] = [
  busy('public series', all, '14:00-23:00'),
  busy('wider set', wider, '14:00-23:00'),
  busy('public series', all, '07:00-23:00'),
  busy('wider set', wider, '07:00-23:00'),
  busy('public series', all, '10:00-18:00'),
  busy('wider set', wider, '10:00-18:00'),
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
  if (only !== undefined && !s.name.includes(only)) continue;
  const t0 = performance.now();
  const r = await simulate(s.parts, forecast, { ...DEFAULT_SIMULATE_OPTIONS, days, ...s.opts });
  const secs = ((performance.now() - t0) / 1000).toFixed(1);
  console.log(formatSimulationTable(r, `## ${s.name} (${r.days} days, ${secs} s)`));
  console.log('');
  const q = ratios(r);
  const u = q['adaptive/uniform']!;
  const o = q['adaptive/oracle']!;
  summary.push(
    `| ${s.name} | ${u.heldWrites} | ${u.overlapCost} | ${o.heldWrites} | ${o.overlapCost} | ${r.adaptive.budgetViolations} / ${r.uniform.budgetViolations} | ${r.adaptive.missedBackups} / ${r.uniform.missedBackups} / ${r.oracle.missedBackups} | ${r.live.startedEarly} / ${r.live.moved} / ${r.live.skipped} |`,
  );
}
console.log('| scenario | held a/u | overlap a/u | held a/o | overlap a/o | violations adaptive / uniform | missed a / u / o | live early / moved / skipped |');
console.log('|---|---|---|---|---|---|---|---|');
for (const line of summary) console.log(line);
