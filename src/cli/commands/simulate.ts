/**
 * `quietcut simulate`: replay recorded write rates (CSV `ts,value`, one series per partition) and
 * compare the adaptive plan with the uniform design and an oracle, day by day.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { parseSeriesCsv } from '../../forecast/csv.js';
import { forecast } from '../../forecast/index.js';
import type { Series } from '../../forecast/types.js';
import { parseInterval } from '../../planner/interval.js';
import { formatSimulationTable } from '../../planner/render-simulation.js';
import { DEFAULT_SIMULATE_OPTIONS, simulate, type SimPartition, type SimulateOptions } from '../../planner/simulate.js';
import type { ReleaseRule, WindowMode } from '../../planner/types.js';

interface SimulateFlags {
  series: string[];
  interval: string;
  days: number;
  release: ReleaseRule;
  mode: WindowMode;
  dumpMinutes: number;
  maxHoldMs: number;
  maxQueued: number;
  maxConcurrentDumps: number;
  heldWeight: number;
  overlapWeight: number;
  skewMs: number;
  rttMs: number;
  slices: number;
  normalize?: number;
  sharedServer?: boolean;
  oneGroup?: boolean;
  json?: boolean;
}

const number = (min: number) => (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) throw new InvalidArgumentError(`expected a number >= ${min}`);
  return n;
};

const choice = <T extends string>(allowed: readonly T[]) => (v: string): T => {
  if (!(allowed as readonly string[]).includes(v)) throw new InvalidArgumentError(`expected one of ${allowed.join(', ')}`);
  return v as T;
};

/**
 * Cut one long series into `n` consecutive runs of whole weeks laid over the same calendar: "slices
 * of one series as several partitions", with weekdays kept.
 */
export function sliceSeries(name: string, s: Series, n: number): SimPartition[] {
  if (n <= 1) return [{ name, series: s }];
  const perWeek = Math.round((7 * 86_400_000) / s.stepMs);
  const weeks = Math.floor(s.values.length / perWeek / n);
  if (weeks < 2) throw new Error(`${name}: too short for ${n} slices of at least two weeks`);
  return Array.from({ length: n }, (_, k) => ({
    name: `${name}#${k + 1}`,
    series: { startMs: s.startMs, stepMs: s.stepMs, values: s.values.slice(k * weeks * perWeek, (k + 1) * weeks * perWeek) },
  }));
}

/**
 * Rescale a series so that its mean is `writesPerHour`: series in different units (megawatts,
 * flights) then weigh alike when their held writes are added up. Shape, and so every ratio of one
 * series alone, is unchanged.
 */
export function normalizeSeries(s: Series, writesPerHour: number): Series {
  let sum = 0;
  let n = 0;
  for (const v of s.values) {
    if (Number.isFinite(v)) {
      sum += v;
      n += 1;
    }
  }
  const meanPerHour = n === 0 ? 0 : (sum / n) * (3_600_000 / s.stepMs);
  const k = meanPerHour > 0 ? writesPerHour / meanPerHour : 0;
  return { ...s, values: s.values.map((v) => v * k) };
}

export async function loadSimPartitions(files: readonly string[], slices: number, writesPerHour?: number): Promise<SimPartition[]> {
  const parts: SimPartition[] = [];
  for (const file of files) {
    const raw = parseSeriesCsv(await readFile(file, 'utf8'));
    const series = writesPerHour === undefined ? raw : normalizeSeries(raw, writesPerHour);
    parts.push(...sliceSeries(basename(file).replace(/\.csv$/i, ''), series, slices));
  }
  return parts;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('replay recorded write rates: plan each day from the history before it, score adaptive, uniform and oracle plans on what happened')
    .requiredOption('--series <files...>', 'CSV files with header ts,value; each is one partition')
    .requiredOption('--interval <HH:MM-HH:MM>', 'daily backup interval, in the series clock')
    .option('--days <n>', 'simulated days (the last ones the series share)', number(1), 14)
    .option('--release <rule>', 'after-snapshot or after-dump', choice(['after-snapshot', 'after-dump'] as const), 'after-snapshot')
    .option('--mode <mode>', 'hold or reject', choice(['hold', 'reject'] as const), 'hold')
    .option('--dump-minutes <n>', 'expected dump duration of each partition', number(0), 20)
    .option('--max-hold-ms <n>', 'disruption budget: longest hold', number(1), DEFAULT_SIMULATE_OPTIONS.maxHoldMs)
    .option('--max-queued <n>', 'disruption budget: most queued requests', number(1), DEFAULT_SIMULATE_OPTIONS.maxQueuedRequests)
    .option('--max-concurrent-dumps <n>', 'dumps at once per server', number(1), DEFAULT_SIMULATE_OPTIONS.maxConcurrentDumps)
    .option('--held-weight <w>', 'weight of held writes', number(0), DEFAULT_SIMULATE_OPTIONS.heldWeight)
    .option('--overlap-weight <w>', 'weight of load overlapping dumps', number(0), DEFAULT_SIMULATE_OPTIONS.overlapWeight)
    .option('--skew-ms <n>', 'clock skew between nodes', number(0), 0)
    .option('--rtt-ms <n>', 'minimum client round trip', number(0), 0)
    .option('--slices <n>', 'cut each series into n week-aligned slices, one partition each', number(1), 1)
    .option('--normalize <writesPerHour>', 'rescale every series to this mean, so series in different units weigh alike', number(0))
    .option('--shared-server', 'all partitions on one server (default: one server per series, as with foreign partitions)')
    .option('--one-group', 'all partitions in one consistency group (one cut)')
    .option('--json', 'print {"days", "adaptive", "uniform", "oracle"} as JSON')
    .action(async (flags: SimulateFlags) => {
      const parts = (await loadSimPartitions(flags.series, Math.floor(flags.slices), flags.normalize)).map((p) => ({
        ...p,
        ...(flags.sharedServer ? { server: 'local' } : {}),
        ...(flags.oneGroup ? { group: 'all' } : {}),
      }));
      const opts: SimulateOptions = {
        ...DEFAULT_SIMULATE_OPTIONS,
        interval: parseInterval(flags.interval),
        days: Math.floor(flags.days),
        release: flags.release,
        mode: flags.mode,
        dumpMs: flags.dumpMinutes * 60_000,
        maxHoldMs: flags.maxHoldMs,
        maxQueuedRequests: flags.maxQueued,
        maxConcurrentDumps: Math.floor(flags.maxConcurrentDumps),
        heldWeight: flags.heldWeight,
        overlapWeight: flags.overlapWeight,
        clockSkewMs: flags.skewMs,
        minRoundTripMs: flags.rttMs,
      };
      const result = await simulate(parts, forecast, opts);
      if (flags.json) {
        const { days, adaptive, uniform, oracle } = result;
        console.log(JSON.stringify({ days, adaptive, uniform, oracle }, null, 2));
        return;
      }
      const title = `${result.days} days, interval ${flags.interval}, release ${flags.release}, ${parts.length} partitions: ${parts.map((p) => p.name).join(', ')}`;
      console.log(formatSimulationTable(result, title));
    });
}
