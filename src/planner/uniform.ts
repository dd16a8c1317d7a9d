/**
 * The established design as a baseline: one interval for every partition, at the start of the
 * backup interval, as long as the longest requirement needs. Dumps start at the shared cut and
 * queue for the server's dump slots. No budget is checked: the design has none, and the simulator
 * counts what it breaks.
 */
import { Cumulative, sumOnGrid } from './curve.js';
import { DEFAULT_SERVER, skewMarginMs } from './model.js';
import type { Plan, PlannedWindow, PlanInput, SkippedPartition } from './types.js';

export function planUniform(input: PlanInput): Plan {
  const t0 = input.intervalStartMs;
  const margin = skewMarginMs(input);
  const skipped: SkippedPartition[] = [];
  const groups = new Map<string, PlanInput['partitions'][number][]>();
  for (const p of input.partitions) {
    const g = p.group ?? p.name;
    groups.set(g, [...(groups.get(g) ?? []), p]);
  }
  const active = [...groups.entries()].flatMap(([group, members]) => {
    if (input.skipUnchanged && members.every((p) => p.writesSinceLastBackup === 0)) {
      for (const p of members) skipped.push({ partition: p.name, group, reason: 'no writes since the last good backup' });
      return [];
    }
    return members;
  });
  const drain = Math.max(0, ...active.map((p) => p.drainMs));
  const pin = Math.max(0, ...active.map((p) => p.pinMs));
  const cutMs = t0 + drain;

  // Dumps queue per server for the earliest free slot, in name order.
  const dumpStart = new Map<string, number>();
  const slots = new Map<string, number[]>();
  for (const p of [...active].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const server = p.server ?? DEFAULT_SERVER;
    let free = slots.get(server);
    if (free === undefined) {
      const cap = input.maxConcurrentDumpsByServer?.[server] ?? input.maxConcurrentDumps;
      slots.set(server, (free = new Array<number>(cap).fill(cutMs + pin)));
    }
    const i = free.indexOf(Math.min(...free));
    const at = free[i] as number;
    dumpStart.set(p.name, at);
    free[i] = at + p.dumpMs;
  }
  const need = (p: PlanInput['partitions'][number]): number =>
    (p.release ?? input.release) === 'after-dump' ? (dumpStart.get(p.name) as number) + p.dumpMs - t0 + margin : drain + pin + margin;
  const holdMs = Math.max(0, ...active.map(need));

  const servers = new Map<string, Cumulative>();
  const loadOf = (server: string): Cumulative => {
    let c = servers.get(server);
    if (c === undefined) {
      const parts = input.partitions.filter((p) => (p.server ?? DEFAULT_SERVER) === server);
      const step = Math.min(...parts.map((p) => p.forecast.stepMs));
      const steps = Math.ceil((input.intervalEndMs - t0) / step);
      c = sumOnGrid(parts.map((p) => new Cumulative({ ...p.forecast, values: p.forecast.mean })), t0, step, steps);
      servers.set(server, c);
    }
    return c;
  };
  const windows: PlannedWindow[] = active.map((p) => {
    const server = p.server ?? DEFAULT_SERVER;
    const mean = new Cumulative({ ...p.forecast, values: p.forecast.mean });
    const upper = new Cumulative({ ...p.forecast, values: p.forecast.upper });
    const start = dumpStart.get(p.name) as number;
    return {
      partition: p.name,
      group: p.group ?? p.name,
      server,
      mode: p.mode,
      release: p.release ?? input.release,
      startMs: t0,
      cutMs,
      endMs: t0 + holdMs,
      holdMs,
      dumpStartMs: start,
      dumpEndMs: start + p.dumpMs,
      heldWrites: mean.between(t0, t0 + holdMs),
      queuePeak: p.mode === 'hold' ? upper.between(t0, t0 + holdMs) : 0,
      overlapCost: loadOf(server).between(start, start + p.dumpMs),
    };
  });
  const heldWrites = windows.reduce((s, w) => s + w.heldWrites, 0);
  const overlapCost = windows.reduce((s, w) => s + w.overlapCost, 0);
  return {
    intervalStartMs: t0,
    intervalEndMs: input.intervalEndMs,
    solver: 'uniform',
    windows,
    infeasible: [],
    skipped,
    totals: { heldWrites, overlapCost, objective: input.heldWeight * heldWrites + input.overlapWeight * overlapCost },
  };
}
