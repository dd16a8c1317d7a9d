/** From "group g cuts at candidate k" to the Plan the coordinator stores and every node arms. */
import type { GroupModel, Problem, ServerModel } from './model.js';
import type { InfeasiblePartition, Plan, PlannedWindow, SolverName } from './types.js';

/** choice[g] = candidate index for problem.groups[g], or -1 when no dump slot was left for it. */
export function assemblePlan(problem: Problem, choice: ArrayLike<number>, solver: SolverName): Plan {
  const windows: PlannedWindow[] = [];
  const infeasible: InfeasiblePartition[] = [...problem.infeasible];
  let objective = 0;
  problem.groups.forEach((g, gi) => {
    const k = choice[gi] ?? -1;
    if (k < 0) {
      for (const m of g.members) infeasible.push({ partition: m.name, group: g.name, reason: capacityReason(problem, g) });
      return;
    }
    objective += g.cost[k] as number;
    windows.push(...groupWindows(problem.servers, g, g.cuts[k] as number));
  });
  windows.sort((a, b) => a.startMs - b.startMs || (a.partition < b.partition ? -1 : 1));
  const heldWrites = windows.reduce((s, w) => s + w.heldWrites, 0);
  const overlapCost = windows.reduce((s, w) => s + w.overlapCost, 0);
  return {
    intervalStartMs: problem.input.intervalStartMs,
    intervalEndMs: problem.input.intervalEndMs,
    solver,
    windows,
    infeasible,
    skipped: [...problem.skipped],
    totals: { heldWrites, overlapCost, objective },
  };
}

export function groupWindows(servers: readonly ServerModel[], g: GroupModel, cutMs: number): PlannedWindow[] {
  return g.members.map((m) => {
    const startMs = cutMs + m.startOffsetMs;
    const endMs = cutMs + m.endOffsetMs;
    const dumpStartMs = cutMs + m.dumpOffsetMs;
    const dumpEndMs = dumpStartMs + m.dumpMs;
    const load = servers.find((s) => s.name === m.server)?.load;
    return {
      partition: m.name,
      group: m.group,
      server: m.server,
      mode: m.mode,
      release: m.release,
      startMs,
      cutMs,
      endMs,
      holdMs: endMs - startMs,
      dumpStartMs,
      dumpEndMs,
      heldWrites: m.mean.between(startMs, endMs),
      queuePeak: m.mode === 'hold' ? m.upper.between(startMs, endMs) : 0,
      overlapCost: load === undefined ? 0 : load.between(dumpStartMs, dumpEndMs),
    };
  });
}

function capacityReason(problem: Problem, g: GroupModel): string {
  const names = [...new Set(g.jobs.map((j) => problem.servers[j.serverIndex] as ServerModel))]
    .map((s) => `${s.name} (maxConcurrentDumps ${s.capacity})`)
    .join(', ');
  return `no free dump slot left in the backup interval on ${names}`;
}
