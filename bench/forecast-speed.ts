/**
 * Speed: fit and forecast 1,000 partitions with 8 weeks of 5-minute history (goal < 10 s, single
 * process). Run: npx tsx bench/forecast-speed.ts [PARTITIONS] [quietcut|profile-only] [smooth|banks]
 * `banks`: sharp bursty daily banks of small counts, where the profile model wins the choice, so
 * quietcut pays for the holdout and then the full-resolution profile fit (its slower path).
 * Prints wall and CPU time with the load average: on the shared 2-core machine wall time under
 * load says more about the neighbours than about the code.
 */
import { availableParallelism, loadavg } from 'node:os';
import { forecast, forecastProfile, type Series } from '../src/forecast/index.js';

const partitions = Number(process.argv[2] ?? 1000);
const method = process.argv[3] ?? 'quietcut';
const run = method === 'profile-only' ? forecastProfile : forecast;
const shape = process.argv[4] ?? 'smooth';
const stepMs = 5 * 60_000;
const steps = (8 * 7 * 86_400_000) / stepMs;
const startMs = Date.UTC(2025, 0, 6);

/** A partition-like load: daily and weekly shape, trend, noise, zeros at night, a few spikes. */
function syntheticHistory(seed: number): Series {
  let state = seed * 2654435761 + 1;
  const random = (): number => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
  const scale = shape === 'banks' ? 2 + 20 * random() : 10 + 1000 * random();
  const values = new Float64Array(steps);
  for (let i = 0; i < steps; i++) {
    const dayFrac = (i % 288) / 288;
    const weekday = Math.floor(i / 288) % 7;
    const bank = Math.floor(dayFrac * 24) % 3 === 0 && dayFrac > 0.25 && (i % 36) < 6;
    const daily = shape === 'banks' ? (bank ? 1 : 0.05) : Math.max(0, Math.sin(Math.PI * 2 * (dayFrac - 0.3)));
    const weekly = weekday >= 5 ? 0.6 : 1;
    const base = scale * (0.1 + daily * weekly) * (1 + i / steps / 5);
    values[i] = Math.max(0, Math.round(base + Math.sqrt(base) * 2 * (random() - 0.5) + (random() < 0.0005 ? 20 * scale : 0)));
  }
  return { startMs, stepMs, values };
}

const histories = Array.from({ length: partitions }, (_, p) => syntheticHistory(p + 1));
const loadBefore = loadavg()[0] ?? NaN;
const started = performance.now();
const cpuStarted = process.cpuUsage();
const models = new Map<string, number>();
for (const history of histories) {
  const result = run(history, { horizonSteps: 288, quantile: 0.9 });
  models.set(result.model, (models.get(result.model) ?? 0) + 1);
}
const elapsedMs = performance.now() - started;
const cpu = process.cpuUsage(cpuStarted);
const cpuMs = (cpu.user + cpu.system) / 1000;
console.log(`${method} (${shape}): ${partitions} partitions × ${steps} steps (8 weeks of 5 min): wall ${(elapsedMs / 1000).toFixed(2)} s (${(elapsedMs / partitions).toFixed(2)} ms each), CPU ${(cpuMs / 1000).toFixed(2)} s; models: ${JSON.stringify(Object.fromEntries(models))}`);
console.log(`load average (1 min) ${loadBefore.toFixed(2)} before, ${(loadavg()[0] ?? NaN).toFixed(2)} after, on ${availableParallelism()} cores: figures are noisy under load.`);
