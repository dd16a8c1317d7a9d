/**
 * How much of the adaptive/oracle gap is the oracle's luck: with hourly counts, the oracle picks
 * the hour that came out lowest by chance, which no forecast can know. Per scenario of issue 14
 * (10-min windows in one hour, so a window's held writes are its hour's count / 6: the ratio is the
 * hours' ratio), take the production forecast as if it were the true mean, draw every hour as
 * mean + noise, plan at the forecast's least hour, and report E[held at that hour] / E[least hour]
 * (the ratio a perfect forecast of the mean would reach against the oracle). The noise variance of
 * a slot is half the mean square of its week-over-week differences in the 8 weeks of history:
 * those differences also hold schedule changes a forecast could follow, so that variance is an
 * upper estimate. With V1, V2 the half mean squares of the differences over one and two weeks, a
 * drift of the schedule that grows with the lag (a random walk) leaves 2·V1 − V2 as the noise
 * alone: the last column uses that fraction of V1 (printed); `VAR_SCALE` (default "0.5,0.75,1")
 * shows the floor at fixed fractions too.
 * Hour-level only: no budgets, no live check. `npx tsx bench/oracle-noise-floor.ts [draws]`.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSimPartitions } from '../src/cli/commands/simulate.js';
import { forecast } from '../src/forecast/index.js';
import { alignSeries } from '../src/planner/simulate.js';
import { rng } from '../src/planner/test-helpers.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const draws = Number(process.argv[2] ?? 4000);
const scales = (process.env.VAR_SCALE ?? '0.5,0.75,1').split(',').map(Number);
const sharedDir = [join(import.meta.dirname, '..', '..', 'shared', 'data', 'series'), '/work/shared/data/series'].find((d) => existsSync(d));
if (sharedDir === undefined) throw new Error('shared/data/series not found beside the clone');
const csvs = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((f) => f.endsWith('.csv')).sort().map((f) => join(dir, f));

// Seeded normal draws (Box–Muller on the planner's seeded generator): the figures repeat from run to run.
const uniform = rng(12345);
const normal = (): number => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());

interface Row {
  set: string;
  hours: [number, number];
  ratios: number[];
  /** (2·V1 − V2) / V1 over all slots and days: the share of V1 that is noise, not drift. */
  noiseShare: number;
}

/** Half the mean square of differences `lag` hours apart, at slot-of-day `t` back to index i0. */
function halfMeanSquare(hourly: Float64Array, t: number, i0: number, lag: number): [number, number] {
  let sum = 0;
  let count = 0;
  for (; t - lag >= i0; t -= 24) {
    const diff = (hourly[t] as number) - (hourly[t - lag] as number);
    if (Number.isFinite(diff)) [sum, count] = [sum + diff * diff, count + 1];
  }
  return [sum / 2, count];
}

async function floor(set: string, dir: string, [h0, h1]: [number, number]): Promise<Row> {
  // Half-hourly series are summed to hours, so every partition is ranked by the hour.
  const parts = alignSeries(await loadSimPartitions(await csvs(dir), 1, 36_000));
  const start = Math.max(...parts.map((p) => p.series.startMs));
  const end = Math.min(...parts.map((p) => p.series.startMs + p.series.values.length * p.series.stepMs));
  const days: number[] = [];
  for (let d = Math.floor(start / DAY) * DAY; d < end; d += DAY) if (d + h0 * HOUR - start >= DAY && d + h1 * HOUR <= end) days.push(d);
  const n = h1 - h0;
  let v1 = 0;
  let v2 = 0;
  // Drawn once the noise share is known, so the forecasts are kept first.
  const samples: { mean: number[]; variance: number[]; best: number }[] = [];
  for (const p of parts) {
    const k = HOUR / p.series.stepMs;
    if (!Number.isInteger(k)) continue;
    const hourly = Float64Array.from({ length: Math.floor(p.series.values.length / k) }, (_, i) => {
      let s = 0;
      for (let j = 0; j < k; j++) s += p.series.values[i * k + j] as number;
      return s;
    });
    for (const d of days.slice(-14)) {
      const i1 = Math.round((d + h0 * HOUR - p.series.startMs) / HOUR);
      const i0 = Math.max(0, i1 - 56 * 24);
      const f = forecast({ startMs: p.series.startMs + i0 * HOUR, stepMs: HOUR, values: hourly.slice(i0, i1) }, { horizonSteps: n, quantile: 0.9 });
      const mean = Array.from(f.mean.subarray(0, n), (v) => Math.max(0, v));
      const variance = mean.map((_, h) => {
        const [sum, count] = halfMeanSquare(hourly, i1 + h - 24, i0, 168);
        const [sum2, count2] = halfMeanSquare(hourly, i1 + h - 24, i0, 336);
        if (count > 0 && count2 > 0) [v1, v2] = [v1 + sum / count, v2 + sum2 / count2];
        return count === 0 ? 0 : sum / count;
      });
      const best = mean.indexOf(Math.min(...mean));
      samples.push({ mean, variance, best });
    }
  }
  const noiseShare = Math.min(1, Math.max(0, (2 * v1 - v2) / v1));
  const all = [...scales, noiseShare];
  const picked = new Float64Array(all.length);
  const least = new Float64Array(all.length);
  for (const { mean, variance, best } of samples) {
    all.forEach((scale, si) => {
      let a = 0;
      let o = 0;
      for (let r = 0; r < draws; r++) {
        let min = Infinity;
        let atBest = 0;
        for (let h = 0; h < n; h++) {
          const v = Math.max(0, (mean[h] as number) + normal() * Math.sqrt(scale * (variance[h] as number)));
          if (v < min) min = v;
          if (h === best) atBest = v;
        }
        a += atBest;
        o += min;
      }
      picked[si] = (picked[si] as number) + a / draws;
      least[si] = (least[si] as number) + o / draws;
    });
  }
  return { set, hours: [h0, h1], ratios: all.map((_, si) => (picked[si] as number) / (least[si] as number)), noiseShare };
}

console.log(`| set | interval | ${scales.map((s) => `floor a/o, variance × ${s}`).join(' | ')} | noise share 2·V1 − V2 | floor a/o at that share |`);
console.log(`|---|---|${scales.map(() => '---:').join('|')}|---:|---:|`);
for (const [set, dir] of [['public series', sharedDir], ['wider set', join(import.meta.dirname, 'series')]] as const) {
  for (const hours of [[14, 23], [7, 23]] as [number, number][]) {
    const r = await floor(set, dir, hours);
    console.log(`| ${r.set} | ${String(hours[0]).padStart(2, '0')}:00–${hours[1]}:00 | ${r.ratios.map((x) => x.toFixed(3)).join(' | ').replace(/ \| ([^|]*)$/, ` | ${r.noiseShare.toFixed(2)} | $1`)} |`);
  }
}
