/**
 * Fast planner for many partitions: greedy placement (groups that lose most when pushed off their
 * best time go first), then local search that moves one group at a time, or evicts the groups
 * blocking a better slot and re-places them, whenever the total cost drops. The cost of a
 * candidate does not depend on other groups; only the dump slots couple them.
 */
import { SlotTimeline } from './capacity.js';
import { jobTicks, type GroupModel, type Problem } from './model.js';

export interface HeuristicOptions {
  /** Improvement passes over all groups (each stops early when nothing improves). */
  passes?: number;
  /** Stop improving after this long; the greedy placement itself always completes. */
  timeBudgetMs?: number;
}

interface Placement {
  group: number;
  ticks: [number, number][];
}
export function solveHeuristic(problem: Problem, opts: HeuristicOptions = {}): Int32Array {
  const deadline = Date.now() + (opts.timeBudgetMs ?? 5_000);
  const { groups } = problem;
  // Greedy order: largest regret (mean cost over best cost) first, longer dumps first on ties.
  const regret = groups.map((g) => {
    let min = Infinity;
    let sum = 0;
    let n = 0;
    for (const c of g.cost) {
      if (!Number.isFinite(c)) continue;
      min = Math.min(min, c);
      sum += c;
      n += 1;
    }
    return n === 0 ? 0 : sum / n - min;
  });
  const span = groups.map((g) => g.jobs.reduce((s, j) => s + j.durationMs, 0));
  const byRegret = groups.map((_, i) => i).sort((a, b) => (regret[b] as number) - (regret[a] as number) || (span[b] as number) - (span[a] as number) || a - b);
  let best = new Search(problem, byRegret, deadline, opts.passes ?? 8).run('cheapest');
  // Slots over-subscribed: cost-first greedy fragments them. Packing the shortest dumps first, each
  // at its earliest time (what maximises the count on one slot), then improving the cost, often
  // plans more; keep whichever plans more, then whichever costs less.
  if (best.unplanned > 0 && Date.now() < deadline) {
    const bySpan = groups.map((_, i) => i).sort((a, b) => (span[a] as number) - (span[b] as number) || a - b);
    const packed = new Search(problem, bySpan, deadline, opts.passes ?? 8).run('earliest');
    if (packed.unplanned < best.unplanned || (packed.unplanned === best.unplanned && packed.cost < best.cost)) best = packed;
  }
  return best.choice;
}

interface Outcome {
  choice: Int32Array;
  unplanned: number;
  cost: number;
}

class Search implements Ops {
  private readonly lines: SlotTimeline[];
  private readonly choice: Int32Array;
  private readonly orderCache = new Map<number, Int32Array>();

  constructor(
    private readonly problem: Problem,
    private readonly order: readonly number[],
    private readonly deadline: number,
    private readonly passes: number,
  ) {
    this.lines = problem.servers.map((s) => new SlotTimeline(problem.ticks, s.capacity));
    this.choice = new Int32Array(problem.groups.length).fill(-1);
  }

  run(first: 'cheapest' | 'earliest'): Outcome {
    const { choice } = this;
    for (const gi of this.order) {
      const k = first === 'cheapest' ? this.bestFit(gi) : this.earliestFit(gi);
      if (k >= 0) {
        choice[gi] = k;
        this.apply(gi, k, 1);
      }
    }
    for (let pass = 0; pass < this.passes && Date.now() < this.deadline; pass++) {
      let improved = this.movePass();
      if (this.problem.groups.length <= EJECT_MAX_GROUPS && Date.now() < this.deadline && ejectPass(this.problem, this.order, choice, this)) improved = true;
      if (!improved) break;
    }
    let unplanned = 0;
    let cost = 0;
    choice.forEach((k, gi) => {
      if (k < 0) unplanned += 1;
      else cost += (this.problem.groups[gi] as GroupModel).cost[k] as number;
    });
    return { choice, unplanned, cost };
  }

  /** Move each group, alone, to its cheapest free candidate. */
  private movePass(): boolean {
    let improved = false;
    for (const gi of this.order) {
      if (Date.now() >= this.deadline) break;
      const cur = this.choice[gi] as number;
      const cost = (this.problem.groups[gi] as GroupModel).cost;
      // Already at its cheapest time: nothing to gain, and most groups are, so skipping is the speed.
      if (cur >= 0 && (cost[cur] as number) <= this.minCost(gi)) continue;
      if (cur >= 0) this.apply(gi, cur, -1);
      const k = this.bestFit(gi);
      if (k >= 0 && (cur < 0 || (cost[k] as number) < (cost[cur] as number) - 1e-12)) {
        this.choice[gi] = k;
        this.apply(gi, k, 1);
        improved = true;
      } else if (cur >= 0) {
        this.apply(gi, cur, 1);
      }
    }
    return improved;
  }

  private ticksOf(gi: number, k: number): [number, number][] {
    const g = this.problem.groups[gi] as GroupModel;
    return g.jobs.map((j) => jobTicks(this.problem, j, g.cuts[k] as number));
  }

  fits(gi: number, k: number): boolean {
    const g = this.problem.groups[gi] as GroupModel;
    const ticks = this.ticksOf(gi, k);
    return g.jobs.every((j, ji) => {
      const [a, b] = ticks[ji] as [number, number];
      return (this.lines[j.serverIndex] as SlotTimeline).fits(a, b);
    });
  }

  apply(gi: number, k: number, delta: 1 | -1): void {
    const g = this.problem.groups[gi] as GroupModel;
    this.ticksOf(gi, k).forEach(([a, b], ji) => (this.lines[(g.jobs[ji] as { serverIndex: number }).serverIndex] as SlotTimeline).add(a, b, delta));
  }

  sortedCandidates(gi: number): Int32Array {
    let order = this.orderCache.get(gi);
    if (order === undefined) {
      const cost = (this.problem.groups[gi] as GroupModel).cost;
      const idx: number[] = [];
      for (let k = 0; k < cost.length; k++) if (Number.isFinite(cost[k])) idx.push(k);
      idx.sort((a, b) => (cost[a] as number) - (cost[b] as number) || a - b);
      order = Int32Array.from(idx);
      this.orderCache.set(gi, order);
    }
    return order;
  }

  private minCost(gi: number): number {
    const order = this.sortedCandidates(gi);
    const first = order[0];
    return first === undefined ? Infinity : ((this.problem.groups[gi] as GroupModel).cost[first] as number);
  }

  /** Cheapest candidate that fits now; the plain argmin is tried first because it usually fits. */
  bestFit(gi: number): number {
    const cost = (this.problem.groups[gi] as GroupModel).cost;
    let arg = -1;
    for (let k = 0; k < cost.length; k++) if (Number.isFinite(cost[k]) && (arg < 0 || (cost[k] as number) < (cost[arg] as number))) arg = k;
    if (arg >= 0 && this.fits(gi, arg)) return arg;
    for (const k of this.sortedCandidates(gi)) if (this.fits(gi, k)) return k;
    return -1;
  }

  private earliestFit(gi: number): number {
    const cost = (this.problem.groups[gi] as GroupModel).cost;
    for (let k = 0; k < cost.length; k++) if (Number.isFinite(cost[k]) && this.fits(gi, k)) return k;
    return -1;
  }
}

/** The eviction search scans all placed groups per try: worth it only on smaller problems. */
const EJECT_MAX_GROUPS = 2_000;
/** A few of the cheapest alternatives catch nearly all gains; more only costs time. */
const MAX_EJECT_TRIES = 12;
interface Ops {
  fits(gi: number, k: number): boolean;
  apply(gi: number, k: number, delta: 1 | -1): void;
  bestFit(gi: number): number;
  sortedCandidates(gi: number): Int32Array;
}

/**
 * For each group not at its cheapest time: try each cheaper candidate, evicting every group whose
 * dumps overlap it on a shared server, then re-place the evicted groups greedily. Kept only if the
 * total cost drops (or more groups get planned); otherwise rolled back exactly.
 */
function ejectPass(problem: Problem, order: readonly number[], choice: Int32Array, ops: Ops): boolean {
  const { groups } = problem;
  let improved = false;
  const occupancy = (gi: number, k: number): Placement => {
    const g = groups[gi] as GroupModel;
    return { group: gi, ticks: g.jobs.map((j) => jobTicks(problem, j, g.cuts[k] as number)) };
  };
  const serversOf = (gi: number): number[] => (groups[gi] as GroupModel).jobs.map((j) => j.serverIndex);
  const costOf = (gi: number, k: number): number => (k < 0 ? Infinity : ((groups[gi] as GroupModel).cost[k] as number));
  for (const gi of order) {
    const cur = choice[gi] as number;
    let tries = 0;
    for (const k of ops.sortedCandidates(gi)) {
      if (cur >= 0 && costOf(gi, k) >= costOf(gi, cur) - 1e-12) break;
      // A few of the cheapest alternatives catch nearly all gains; more only costs time.
      if (++tries > MAX_EJECT_TRIES) break;
      const want = occupancy(gi, k);
      const wantServers = serversOf(gi);
      const blockers: number[] = [];
      for (let other = 0; other < groups.length; other++) {
        const ok = choice[other] as number;
        if (other === gi || ok < 0) continue;
        const theirs = occupancy(other, ok);
        const theirServers = serversOf(other);
        const clash = want.ticks.some(([a, b], wi) =>
          theirs.ticks.some(([c, d], ti) => theirServers[ti] === wantServers[wi] && a < d && c < b),
        );
        if (clash) blockers.push(other);
      }
      if (blockers.length === 0 || blockers.length > 6) continue;
      const before = new Map<number, number>([[gi, cur], ...blockers.map((b) => [b, choice[b] as number] as [number, number])]);
      const oldCost = [...before].reduce((s, [g, kk]) => s + (kk < 0 ? 0 : costOf(g, kk)), 0);
      const oldPlanned = [...before.values()].filter((kk) => kk >= 0).length;
      for (const [g, kk] of before) if (kk >= 0) ops.apply(g, kk, -1);
      ops.apply(gi, k, 1);
      const after = new Map<number, number>([[gi, k]]);
      for (const b of blockers) {
        const nk = ops.bestFit(b);
        after.set(b, nk);
        if (nk >= 0) ops.apply(b, nk, 1);
      }
      const newCost = [...after].reduce((s, [g, kk]) => s + (kk < 0 ? 0 : costOf(g, kk)), 0);
      const newPlanned = [...after.values()].filter((kk) => kk >= 0).length;
      if (newPlanned > oldPlanned || (newPlanned === oldPlanned && newCost < oldCost - 1e-9)) {
        for (const [g, kk] of after) choice[g] = kk;
        improved = true;
        break;
      }
      for (const [g, kk] of after) if (kk >= 0) ops.apply(g, kk, -1);
      for (const [g, kk] of before) if (kk >= 0) ops.apply(g, kk, 1);
    }
  }
  return improved;
}
