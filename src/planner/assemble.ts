/** From "group g cuts at candidate k" to the Plan the coordinator stores and every node arms. */
import { SlotTimeline } from './capacity.js';
import { DEFAULT_LIVE_LOOKBACK_MS, jobTicks, type GroupModel, type Problem, type ServerModel } from './model.js';
import type { InfeasiblePartition, LiveSlot, Plan, PlannedWindow, SolverName } from './types.js';

/** A later slot is "good" when it costs at most this many times the planned one. */
const GOOD_SLOT_FACTOR = 1.5;
/** Later slots kept per group for the live check. */
const MAX_LIVE_SHIFTS = 4;
/**
 * Later slots lie at least this far after the planned cut and after each other: a surge seen just
 * before a window gets that long to pass before the window tries again.
 */
export const LIVE_MIN_SHIFT_MS = 30 * 60_000;
/** Early check points kept per group (the nearest to the planned start). */
const MAX_EARLY_CHECKS = 24;
const HOUR_MS = 3_600_000;

/** choice[g] = candidate index for problem.groups[g], or -1 when no dump slot was left for it. */
export function assemblePlan(problem: Problem, choice: ArrayLike<number>, solver: SolverName): Plan {
  const windows: PlannedWindow[] = [];
  const infeasible: InfeasiblePartition[] = [...problem.infeasible];
  let objective = 0;
  const lookbackMs = problem.input.liveLookbackMs ?? DEFAULT_LIVE_LOOKBACK_MS;
  const lines = lookbackMs > 0 ? occupancy(problem, choice) : null;
  // Every group's early points are reserved before any group's later slots are chosen, so a window
  // moved later never lands on a slot another group may start early in (maxConcurrentDumps holds
  // whichever of them the live check takes).
  const early = problem.groups.map((g, gi) => (lines === null || (choice[gi] ?? -1) < 0 ? [] : earlyCheckPoints(problem, lines, g, choice[gi] as number, lookbackMs)));
  problem.groups.forEach((g, gi) => {
    const k = choice[gi] ?? -1;
    if (k < 0) {
      for (const m of g.members) infeasible.push({ partition: m.name, group: g.name, reason: capacityReason(problem, g) });
      return;
    }
    objective += g.cost[k] as number;
    const group = groupWindows(problem.servers, g, g.cuts[k] as number);
    if (lines !== null) {
      const shiftsMs = laterGoodSlots(problem, lines, g, k, Math.max(lookbackMs, LIVE_MIN_SHIFT_MS));
      const earlierMs = early[gi] as number[];
      group.forEach((w, i) => {
        const m = g.members[i] as GroupModel['members'][number];
        const load = problem.servers.find((x) => x.name === m.server)?.load;
        const slot = (shiftMs: number): LiveSlot => {
          const [a, b] = [w.startMs + shiftMs, w.endMs + shiftMs];
          const overlap = load === undefined ? 0 : load.between(w.dumpStartMs + shiftMs, w.dumpEndMs + shiftMs);
          return { shiftMs, leadMean: m.mean.between(a - lookbackMs, a), leadUpper: m.upper.between(a - lookbackMs, a), heldMean: m.mean.between(a, b), overlap };
        };
        // The early check weighs waiting with the spread at its points and the planned start, and
        // scales the member's own part of the load beside its dump by the live count.
        const spread = (shiftMs: number): { heldSpread?: number[]; ownLoad?: number; heldUpper?: number } =>
          earlierMs.length === 0
            ? {}
            : {
                ...(m.spread === undefined ? {} : { heldSpread: m.spread.map((c) => roundWrites(c.between(w.startMs + shiftMs, w.endMs + shiftMs))) }),
                ...(load === undefined ? {} : { ownLoad: roundWrites(ownLoadInWindow(m, w, shiftMs)) }),
                heldUpper: roundWrites(m.upper.between(w.startMs + shiftMs, w.endMs + shiftMs)),
              };
        const { leadMean, leadUpper } = slot(0);
        const overlapPerHeld = problem.input.heldWeight > 0 ? problem.input.overlapWeight / problem.input.heldWeight : 0;
        const earlier = earlierMs.map((shiftMs) => ({ ...slot(shiftMs), ...spread(shiftMs) }));
        w.live = { lookbackMs, leadMean, leadUpper, overlapPerHeld, ...spread(0), shifts: shiftsMs.map(slot), ...(earlier.length > 0 ? { earlier } : {}), maxQueuedRequests: m.maxQueuedRequests };
      });
    }
    windows.push(...group);
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

/**
 * An early check point needs the queue budget to hold at the mean only: the live check starts a
 * window there only when it holds at the upper quantile scaled by the live count (live-adjust.ts),
 * which knows the hour better than the plan's upper quantile does.
 */
function meanFits(g: GroupModel, cut: number): boolean {
  return g.members.every((m) => m.mode !== 'hold' || m.mean.between(cut + m.startOffsetMs, cut + m.endOffsetMs) <= m.maxQueuedRequests);
}

/**
 * The member's own forecast writes beside its dump while its window is open: the live count
 * read before the window carries over the window (live-adjust.ts), not past it, so the part of an
 * after-snapshot dump that runs after the window keeps its forecast.
 */
function ownLoadInWindow(m: GroupModel['members'][number], w: PlannedWindow, shiftMs: number): number {
  const a = Math.max(w.dumpStartMs, w.startMs) + shiftMs;
  const b = Math.min(w.dumpEndMs, w.endMs) + shiftMs;
  return b > a ? m.mean.between(a, b) : 0;
}

/** A tenth of a write is finer than any forecast: it keeps stored plans short. */
const roundWrites = (x: number): number => Math.round(x * 10) / 10;

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

/** Dump-slot occupancy of every planned group's jobs, per server. */
function occupancy(problem: Problem, choice: ArrayLike<number>): SlotTimeline[] {
  const lines = problem.servers.map((s) => new SlotTimeline(problem.ticks, s.capacity));
  problem.groups.forEach((g, gi) => {
    const k = choice[gi] ?? -1;
    if (k < 0) return;
    for (const j of g.jobs) (lines[j.serverIndex] as SlotTimeline).add(...jobTicks(problem, j, g.cuts[k] as number), 1);
  });
  return lines;
}

/**
 * Later cuts for group g (planned at candidate k), as shifts in ms, earliest first, each at least
 * `spacingMs` after the one before (the planned cut first), costing at most GOOD_SLOT_FACTOR times
 * the planned cut, with every dump on a slot the rest of the plan leaves free (every planned window
 * and every group's early check points).
 */
function laterGoodSlots(problem: Problem, lines: SlotTimeline[], g: GroupModel, k: number, spacingMs: number): number[] {
  const cut = g.cuts[k] as number;
  const limit = GOOD_SLOT_FACTOR * (g.cost[k] as number) + 1e-9;
  for (const j of g.jobs) (lines[j.serverIndex] as SlotTimeline).add(...jobTicks(problem, j, cut), -1);
  const shifts: number[] = [];
  for (let c = k + 1; c < g.cuts.length && shifts.length < MAX_LIVE_SHIFTS; c++) {
    const at = g.cuts[c] as number;
    if (at - cut - (shifts[shifts.length - 1] ?? 0) < spacingMs || !((g.cost[c] as number) <= limit)) continue;
    if (g.jobs.every((j) => (lines[j.serverIndex] as SlotTimeline).fits(...jobTicks(problem, j, at)))) shifts.push(at - cut);
  }
  for (const j of g.jobs) (lines[j.serverIndex] as SlotTimeline).add(...jobTicks(problem, j, cut), 1);
  return shifts;
}

/**
 * Early check points for group g (planned at candidate k), as negative shifts, earliest first: per
 * block of the forecast (its step, or the clock hour for steps under an hour, the resolution its
 * models run at: forecast/resolution.ts), the first candidate whose lookback and window both lie
 * inside the block, so the live count reads how that very block is going; at least a lookback and
 * a hold apart, within the budget and on a dump slot the rest of the plan leaves free (then
 * reserved: groups starting early together still keep to maxConcurrentDumps). A lookback read in
 * one block says little about the next (the simulator's hourly flights: points every 30 minutes
 * regardless of blocks held 1.45x the oracle), so a window longer than a block gets none.
 */
function earlyCheckPoints(problem: Problem, lines: SlotTimeline[], g: GroupModel, k: number, lookbackMs: number): number[] {
  if (lookbackMs <= 0 || k <= 0) return [];
  const cut = g.cuts[k] as number;
  const first = g.members[0] as GroupModel['members'][number];
  const step = first.mean.stepMs;
  const blockOf = (t: number): number => (step >= HOUR_MS ? Math.floor((t - first.mean.startMs) / step + 1e-9) : Math.floor(t / HOUR_MS));
  const spanMs = lookbackMs - Math.min(...g.members.map((m) => m.startOffsetMs)) + Math.max(...g.members.map((m) => m.endOffsetMs));
  for (const j of g.jobs) (lines[j.serverIndex] as SlotTimeline).add(...jobTicks(problem, j, cut), -1);
  const found: number[] = [];
  let lastBlock = Number.NEGATIVE_INFINITY;
  let lastAt = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < k; c++) {
    const at = g.cuts[c] as number;
    if (!meanFits(g, at) || at - lastAt < spanMs || cut - at < spanMs) continue;
    const block = blockOf(at + first.startOffsetMs - lookbackMs);
    if (block === lastBlock || !g.members.every((m) => blockOf(at + m.startOffsetMs - lookbackMs) === block && blockOf(at + m.endOffsetMs - 1) === block)) continue;
    if (g.jobs.every((j) => (lines[j.serverIndex] as SlotTimeline).fits(...jobTicks(problem, j, at)))) {
      found.push(at - cut);
      lastBlock = block;
      lastAt = at;
    }
  }
  for (const j of g.jobs) (lines[j.serverIndex] as SlotTimeline).add(...jobTicks(problem, j, cut), 1);
  const kept = found.slice(-MAX_EARLY_CHECKS);
  for (const shift of kept) for (const j of g.jobs) (lines[j.serverIndex] as SlotTimeline).add(...jobTicks(problem, j, cut + shift), 1);
  return kept;
}
