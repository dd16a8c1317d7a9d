/**
 * Exact planner for small problems: a time-indexed MIP solved by HiGHS. x[g,k] = 1 when group g
 * cuts at candidate k; u[g] = 1 when g gets no slot (a large penalty, so the solver plans as many
 * groups as fit, then minimises cost). The dump cap is checked at every tick where some dump
 * starts: occupancy only rises at starts, so those ticks carry every maximum.
 */
import highsPackage, { type LegacyHighs } from 'highs';
import { SlotTimeline } from './capacity.js';
import { jobTicks, type GroupModel, type Problem } from './model.js';

// The package's types describe its CommonJS build while Node's import loads its ES build, so the
// default import is the loader at run time but typed as the module: accept both shapes.
const pkg: unknown = highsPackage;
const highsLoader = (typeof pkg === 'function' ? pkg : (pkg as { default: unknown }).default) as () => Promise<LegacyHighs>;
let loaded: Promise<LegacyHighs> | undefined;

/** The WASM module loads once per process. */
function highs(): Promise<LegacyHighs> {
  loaded ??= highsLoader();
  return loaded;
}

export class ExactSolverError extends Error {
  override readonly name = 'ExactSolverError';
}

/** Variables in the MIP; the auto solver choice uses it to decide what is "small". */
export function exactSize(problem: Problem): number {
  return problem.groups.reduce((s, g) => s + g.cost.filter(Number.isFinite).length, 0);
}

export async function solveExact(problem: Problem, opts: { timeLimitS?: number } = {}): Promise<Int32Array> {
  const { groups } = problem;
  const choice = new Int32Array(groups.length).fill(-1);
  if (groups.length === 0) return choice;
  const free = cheapestIfUncontended(problem);
  if (free !== null) return free;
  // Costs are scaled to [0, 1] so the unplanned penalty dominates without hurting the numerics.
  let scale = 0;
  for (const g of groups) for (const c of g.cost) if (Number.isFinite(c)) scale = Math.max(scale, Math.abs(c));
  scale = scale > 0 ? scale : 1;
  const penalty = 10 * (groups.length + 1);

  const obj: string[] = [];
  const rows: string[] = [];
  const binaries: string[] = [];
  /** server -> tick -> variables occupying it */
  const occupied = new Map<number, Map<number, string[]>>();
  const starts = new Map<number, Set<number>>();
  const ticksOf = new Map<string, [number, number, number][]>();

  groups.forEach((g: GroupModel, gi) => {
    const pick: string[] = [];
    g.cost.forEach((c, k) => {
      if (!Number.isFinite(c)) return;
      const v = `x_${gi}_${k}`;
      pick.push(v);
      binaries.push(v);
      obj.push(`${(c / scale).toPrecision(15)} ${v}`);
      const t = g.jobs.map((j) => {
        const [a, b] = jobTicks(problem, j, g.cuts[k] as number);
        let s = starts.get(j.serverIndex);
        if (s === undefined) starts.set(j.serverIndex, (s = new Set()));
        s.add(a);
        return [j.serverIndex, a, b] as [number, number, number];
      });
      ticksOf.set(v, t);
    });
    const u = `u_${gi}`;
    binaries.push(u);
    obj.push(`${penalty} ${u}`);
    rows.push(` one_${gi}: ${[...pick, u].join(' + ')} = 1`);
  });
  for (const [v, list] of ticksOf) {
    for (const [server, a, b] of list) {
      const s = starts.get(server) as Set<number>;
      let byTick = occupied.get(server);
      if (byTick === undefined) occupied.set(server, (byTick = new Map()));
      for (const tick of s) {
        if (tick < a || tick >= b) continue;
        const vars = byTick.get(tick);
        if (vars === undefined) byTick.set(tick, [v]);
        else vars.push(v);
      }
    }
  }
  for (const [server, byTick] of occupied) {
    const cap = (problem.servers[server] as { capacity: number }).capacity;
    for (const [tick, vars] of byTick) {
      if (vars.length > cap) rows.push(` cap_${server}_${tick}: ${vars.join(' + ')} <= ${cap}`);
    }
  }
  const lp = ['Minimize', ` cost: ${obj.join(' + ')}`, 'Subject To', ...rows, 'Binary', ` ${binaries.join(' ')}`, 'End'].join('\n');
  const result = (await highs()).solve(lp, {
    output_flag: false,
    mip_rel_gap: 1e-9,
    // HiGHS presolve spends seconds on the many overlapping cap rows of a time-indexed model and
    // gains nothing here; measured 5-10x faster without it.
    presolve: 'off',
    ...(opts.timeLimitS === undefined ? {} : { time_limit: opts.timeLimitS }),
  });
  if (result.Status !== 'Optimal') throw new ExactSolverError(`HiGHS ended with status ${result.Status}`);
  const cols = result.Columns as Record<string, { Primal: number } | undefined>;
  groups.forEach((g, gi) => {
    g.cost.forEach((c, k) => {
      if (Number.isFinite(c) && (cols[`x_${gi}_${k}`]?.Primal ?? 0) > 0.5) choice[gi] = k;
    });
  });
  return choice;
}

/**
 * Every group at its own cheapest candidate is optimal whenever those choices fit the dump caps
 * together; often true (partitions on separate servers, short dumps), and then no MIP is needed.
 */
function cheapestIfUncontended(problem: Problem): Int32Array | null {
  const lines = problem.servers.map((s) => new SlotTimeline(problem.ticks, s.capacity));
  const choice = new Int32Array(problem.groups.length);
  for (const [gi, g] of problem.groups.entries()) {
    let arg = -1;
    g.cost.forEach((c, k) => {
      if (Number.isFinite(c) && (arg < 0 || c < (g.cost[arg] as number))) arg = k;
    });
    if (arg < 0) return null;
    for (const j of g.jobs) {
      const [a, b] = jobTicks(problem, j, g.cuts[arg] as number);
      const line = lines[j.serverIndex] as SlotTimeline;
      if (!line.fits(a, b)) return null;
      line.add(a, b, 1);
    }
    choice[gi] = arg;
  }
  return choice;
}
