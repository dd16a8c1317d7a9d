/** Builders for planner tests and benches: small, explicit instances. */
import type { Forecast } from '../forecast/types.js';
import type { Plan, PlanInput, PartitionPlanInput } from './types.js';

export const HOUR_MS = 3_600_000;

/** `spread`: per level, writes per step (Forecast.spread), e.g. spreadOf(mean, ...). */
export function forecastOf(mean: readonly number[], opts: { stepMs?: number; startMs?: number; upper?: readonly number[]; spread?: readonly (readonly number[])[] } = {}): Forecast {
  return {
    startMs: opts.startMs ?? 0,
    stepMs: opts.stepMs ?? HOUR_MS,
    mean: Float64Array.from(mean),
    upper: Float64Array.from(opts.upper ?? mean),
    ...(opts.spread === undefined ? {} : { spread: opts.spread.map((l) => Float64Array.from(l)) }),
    model: 'test',
  };
}

/** A spread of `count` levels (Forecast.spread): at[h] gives step h's value per level, else the mean. */
export function spreadOf(mean: readonly number[], count: number, at: Record<number, readonly number[]> = {}): number[][] {
  return Array.from({ length: count }, (_, i) => mean.map((m, h) => at[h]?.[i] ?? m));
}

export function partition(name: string, mean: readonly number[], extra: Partial<PartitionPlanInput> = {}): PartitionPlanInput {
  return {
    name,
    forecast: forecastOf(mean),
    dumpMs: HOUR_MS,
    drainMs: 0,
    pinMs: 0,
    maxHoldMs: 10_000,
    maxQueuedRequests: 1_000_000,
    mode: 'hold',
    ...extra,
  };
}

export function planInput(partitions: PartitionPlanInput[], extra: Partial<PlanInput> = {}): PlanInput {
  return {
    intervalStartMs: 0,
    intervalEndMs: 6 * HOUR_MS,
    partitions,
    release: 'after-snapshot',
    maxConcurrentDumps: 2,
    clockSkewMs: 0,
    minRoundTripMs: 0,
    heldWeight: 1,
    overlapWeight: 1,
    skipUnchanged: true,
    candidateStepMs: HOUR_MS,
    ...extra,
  };
}

/** Largest number of dumps running at the same instant on each server (real time, not ticks). */
export function peakConcurrentDumps(plan: Plan): Map<string, number> {
  const events = new Map<string, [number, number][]>();
  for (const w of plan.windows) {
    const list = events.get(w.server) ?? [];
    // One pg_dump per group and server: members of a group on a server run back to back.
    list.push([w.dumpStartMs, 1], [w.dumpEndMs, -1]);
    events.set(w.server, list);
  }
  const peaks = new Map<string, number>();
  for (const [server, list] of events) {
    list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    let cur = 0;
    let peak = 0;
    for (const [, d] of list) peak = Math.max(peak, (cur += d));
    peaks.set(server, peak);
  }
  return peaks;
}

/** Small deterministic PRNG (mulberry32): random instances that are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIVE_MIN_MS = 300_000;

/**
 * A random instance shaped like real nights: a daily-ish curve with a trough at a random hour,
 * noise, several servers, some groups, dumps long enough that the cap binds.
 */
export function randomInput(seed: number, opts: { partitions: number; servers: number; hours?: number; groupEvery?: number | undefined }): PlanInput {
  const r = rng(seed);
  const hours = opts.hours ?? 6;
  const steps = (hours * HOUR_MS) / FIVE_MIN_MS;
  const parts: PartitionPlanInput[] = [];
  for (let i = 0; i < opts.partitions; i++) {
    const level = 10 + r() * 1000;
    const trough = r() * steps;
    const width = steps * (0.2 + r() * 0.5);
    const mean = Array.from({ length: steps }, (_, t) => level * (0.15 + 0.85 * Math.min(1, Math.abs(t - trough) / width)) * (0.9 + 0.2 * r()));
    const group = opts.groupEvery !== undefined && i % opts.groupEvery !== 0 ? `g${Math.floor(i / opts.groupEvery)}` : `p${i}`;
    parts.push({
      name: `p${i}`,
      server: `s${Math.floor(r() * opts.servers)}`,
      group,
      forecast: forecastOf(mean, { stepMs: FIVE_MIN_MS, upper: mean.map((v) => v * 1.3) }),
      dumpMs: Math.round((5 + r() * 60) * 60_000),
      drainMs: Math.round(r() * 200),
      pinMs: Math.round(20 + r() * 100),
      maxHoldMs: 5_000,
      maxQueuedRequests: 10_000,
      mode: r() < 0.8 ? 'hold' : 'reject',
    });
  }
  return planInput(parts, {
    intervalEndMs: hours * HOUR_MS,
    maxConcurrentDumps: 1 + Math.floor(r() * 2),
    candidateStepMs: FIVE_MIN_MS,
    heldWeight: 1,
    overlapWeight: 0.1,
    clockSkewMs: 50,
    minRoundTripMs: 20,
  });
}
