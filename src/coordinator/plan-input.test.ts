import { describe, expect, test } from 'vitest';
import { configSchema, type ConfigInput } from '../config/schema.js';
import type { Forecast, Series } from '../forecast/types.js';
import { buildPlanInput, measuredMargin, DEFAULT_DRAIN_MS, DEFAULT_PIN_MS, dumpEstimateMs, FIRST_DUMP_OVERHEAD_MS, forecastForInterval, padTo, type PartitionFacts } from './plan-input.js';
import { groupsToArm, scheduleMode } from './scheduler.js';
import type { Plan, PlannedWindow } from '../planner/index.js';

const MIN = 60_000;
const DAY = 86_400_000;
const cfg = (c: ConfigInput = {}) => configSchema.parse(c);
const flat = (startMs: number, steps: number, v = 1): Forecast => ({ startMs, stepMs: MIN, mean: new Float64Array(steps).fill(v), upper: new Float64Array(steps).fill(v * 2), model: 'test' });
const fact = (name: string, extra: Partial<PartitionFacts> = {}): PartitionFacts => ({ name, root: 'public.events', server: 'local', relationBytes: 0, pastDumps: [], writesSinceLastBackup: null, ...extra });

describe('buildPlanInput', () => {
  test('budgets, modes and release from windows.* with per-partition overrides; weights and cap from config', () => {
    const config = cfg({
      windows: { mode: 'hold', maxHoldMs: 4000, maxQueuedRequests: 500, partitions: { 'public.b': { mode: 'reject', maxHoldMs: 200, release: 'after-dump', maxQueuedRequests: 7 } } },
      backup: { maxConcurrentDumps: 3, skipUnchanged: false },
      planner: { heldWeight: 2, overlapWeight: 0.5, clockSkewMs: 10, minRoundTripMs: 3 },
    });
    const fs = new Map([['public.a', flat(0, 60)], ['public.b', flat(0, 60)]]);
    const input = buildPlanInput(config, [fact('public.a', { writesSinceLastBackup: 0 }), fact('public.b')], fs, { intervalStartMs: 0, intervalEndMs: 30 * MIN, measuredSkewMs: 4 });
    const [a, b] = input.partitions;
    expect(a).toMatchObject({ name: 'public.a', group: 'public.a', server: 'local', mode: 'hold', maxHoldMs: 4000, maxQueuedRequests: 500, writesSinceLastBackup: 0 });
    expect(a && 'release' in a).toBe(false);
    expect(b).toMatchObject({ mode: 'reject', maxHoldMs: 200, maxQueuedRequests: 7, release: 'after-dump', writesSinceLastBackup: null });
    expect(input).toMatchObject({ release: 'after-snapshot', maxConcurrentDumps: 3, heldWeight: 2, overlapWeight: 0.5, clockSkewMs: 14, minRoundTripMs: 3, skipUnchanged: false });
  });

  test('a server\'s measured pin and drain times size the hold; without them the defaults apply', () => {
    const fs = new Map([['public.a', flat(0, 60)], ['public.f', flat(0, 60)]]);
    const input = buildPlanInput(cfg(), [fact('public.a'), fact('public.f', { server: 'shard1', pinMs: 37, drainMs: 12 })], fs, { intervalStartMs: 0, intervalEndMs: MIN });
    expect(input.partitions.map((p) => p.pinMs)).toEqual([DEFAULT_PIN_MS, 37]);
    expect(input.partitions.map((p) => p.drainMs)).toEqual([DEFAULT_DRAIN_MS, 12]);
  });

  test('the configured skew margin adds to the measured one; a measured round trip replaces the configured one', () => {
    const one = (o: Partial<Parameters<typeof buildPlanInput>[3]>) =>
      buildPlanInput(cfg({ planner: { clockSkewMs: 10, minRoundTripMs: 7 } }), [fact('public.a')], new Map([['public.a', flat(0, 60)]]), { intervalStartMs: 0, intervalEndMs: MIN, ...o });
    expect(one({ measuredSkewMs: 25 })).toMatchObject({ clockSkewMs: 35, minRoundTripMs: 7 });
    expect(one({ measuredSkewMs: 25, measuredMinRoundTripMs: 0.4 })).toMatchObject({ clockSkewMs: 35, minRoundTripMs: 0.4 });
    expect(one({})).toMatchObject({ clockSkewMs: 10, minRoundTripMs: 7 });
  });

  test('measured margin: max |offset| + uncertainty over live nodes, smallest round trip', () => {
    expect(measuredMargin([])).toEqual({ skewMs: 0, minClientRttMs: null, nodes: 0 });
    const m = measuredMargin([
      { offsetMs: 120, uncertaintyMs: 0.5, minClientRttMs: 3 },
      { offsetMs: -300, uncertaintyMs: 2, minClientRttMs: null },
      { offsetMs: null, uncertaintyMs: null, minClientRttMs: 0.25 },
    ]);
    expect(m).toEqual({ skewMs: 302, minClientRttMs: 0.25, nodes: 3 });
  });

  test('consistency groups: table groups by root, named lists by name, the rest alone', () => {
    const fs = new Map(['public.a1', 'public.a2', 'public.b1', 'public.c'].map((n) => [n, flat(0, 60)]));
    const facts = [fact('public.a1', { root: 'public.a' }), fact('public.a2', { root: 'public.a' }), fact('public.b1', { root: 'public.b' }), fact('public.c', { root: 'public.c' })];
    const byTable = buildPlanInput(cfg({ windows: { groups: 'table' } }), facts, fs, { intervalStartMs: 0, intervalEndMs: MIN });
    expect(byTable.partitions.map((p) => p.group)).toEqual(['public.a', 'public.a', 'public.b', 'public.c']);
    const named = buildPlanInput(cfg({ windows: { groups: { money: ['public.a2', 'public.c'] } } }), facts, fs, { intervalStartMs: 0, intervalEndMs: MIN });
    expect(named.partitions.map((p) => p.group)).toEqual(['public.a1', 'money', 'public.b1', 'money']);
  });

  test('a partition without a forecast is a programming error, not a silent skip', () => {
    expect(() => buildPlanInput(cfg(), [fact('public.a')], new Map(), { intervalStartMs: 0, intervalEndMs: MIN })).toThrow(/no forecast/);
  });
});

describe('dump estimate', () => {
  test('first dump: relation size at the default throughput plus start-up', () => {
    expect(dumpEstimateMs({ relationBytes: 100e6, pastDumps: [] }, 50e6)).toBeCloseTo(2000 + FIRST_DUMP_OVERHEAD_MS);
  });
  test('past dumps: their own speed applied to the last artifact size (compressed bytes with compressed bytes)', () => {
    // 10 MB in 1 s and 30 MB in 2 s: 40 MB / 3 s; the last artifact (30 MB) takes 2.25 s at that speed.
    expect(dumpEstimateMs({ relationBytes: 999e9, pastDumps: [{ bytes: 10e6, durationMs: 1000 }, { bytes: 30e6, durationMs: 2000 }] }, 1)).toBeCloseTo(2250);
  });
});

describe('forecastForInterval', () => {
  test('history is padded with zeros to the end: a partition quiet lately is not forecast from long ago', () => {
    const s: Series = { startMs: 0, stepMs: MIN, values: new Float64Array([5, 5, 5]) };
    const p = padTo(s, 6 * MIN);
    expect(Array.from(p.values)).toEqual([5, 5, 5, 0, 0, 0]);
    expect(padTo(s, 2 * MIN).values.length).toBe(2);
  });

  test('no history predicts no writes over the whole interval', () => {
    const f = forecastForInterval(null, { historyEndMs: 10 * MIN, untilMs: 70 * MIN, stepMs: MIN, quantile: 0.9 });
    expect(f).toMatchObject({ startMs: 10 * MIN, stepMs: MIN, model: 'no-history' });
    expect(f.mean.length).toBe(60);
    expect(Math.max(...f.mean)).toBe(0);
  });

  test('a day of history: seasonal naive, starting where history ends and reaching the interval end', () => {
    const values = new Float64Array(1440).fill(100);
    values[30] = 0; // quiet at 00:30 yesterday
    const f = forecastForInterval({ startMs: 0, stepMs: MIN, values }, { historyEndMs: DAY, untilMs: DAY + 60 * MIN, stepMs: MIN, quantile: 0.9 });
    expect(f.startMs).toBe(DAY);
    expect(f.mean.length).toBe(60);
    expect(f.mean[30]).toBe(0);
    expect(f.mean[29]).toBe(100);
  });

  test('timeScale lays the recorded shape out compressed: a recorded minute per real second', () => {
    const values = new Float64Array(1440).fill(100);
    values[30] = 0;
    const f = forecastForInterval({ startMs: 0, stepMs: MIN, values }, { historyEndMs: DAY, untilMs: DAY + 60_000, stepMs: MIN, quantile: 0.9, timeScale: 1 / 60 });
    expect(f.stepMs).toBe(1000);
    expect(f.mean.length).toBe(60);
    expect(f.mean[30]).toBe(0);
  });
});

describe('scheduler helpers', () => {
  test('planned unless planner.enabled is false; planAt, else schedule, drives planning', () => {
    expect(scheduleMode(cfg())).toEqual({ mode: 'planned', cron: null });
    expect(scheduleMode(cfg({ backup: { schedule: '0 0 * * *' } }))).toEqual({ mode: 'planned', cron: '0 0 * * *' });
    expect(scheduleMode(cfg({ backup: { schedule: '0 0 * * *', planAt: '30 0 * * *' } }))).toEqual({ mode: 'planned', cron: '30 0 * * *' });
    expect(scheduleMode(cfg({ backup: { schedule: '0 2 * * *' }, planner: { enabled: false } }))).toEqual({ mode: 'unplanned', cron: '0 2 * * *' });
  });

  test('groups to arm: one timer per group at its earliest start; finished and unplanned rows left out', () => {
    const w = (partition: string, group: string, startMs: number): PlannedWindow =>
      ({ partition, group, server: 'local', mode: 'hold', release: 'after-snapshot', startMs, cutMs: startMs + 50, endMs: startMs + 100, holdMs: 100, dumpStartMs: startMs + 100, dumpEndMs: startMs + 1100, heldWrites: 0, queuePeak: 0, overlapCost: 0 }) as PlannedWindow;
    const plan = { windows: [w('a1', 'A', 5000), w('a2', 'A', 4990), w('b', 'b', 1000), w('c', 'c', 3000)] } as Plan;
    const status = new Map([['c', { status: 'done' as const, reason: null }]]);
    expect(groupsToArm({ plan, status }).map((g) => [g.group, g.partitions, g.fireAtMs])).toEqual([
      ['b', ['b'], 1000],
      ['A', ['a1', 'a2'], 4990],
    ]);
  });
});
