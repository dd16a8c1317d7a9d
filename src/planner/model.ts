/**
 * Turns a PlanInput into the discrete problem both solvers share: per consistency group a list of
 * candidate cut instants, the weighted cost of each, and the dump-slot ticks each would occupy.
 * Everything that does not depend on the other groups (budgets, interval fit, forecast coverage)
 * is settled here, so a partition that can never fit gets its reason before any solver runs.
 */
import { Cumulative, sumOnGrid } from './curve.js';
import type { InfeasiblePartition, PartitionPlanInput, PlanInput, ReleaseRule, SkippedPartition, WindowMode } from './types.js';

export const DEFAULT_SERVER = 'local';
/**
 * Held writes are costed at the mean plus a quarter of the way to the forecast upper quantile.
 * Simulated over the public and the wider series (bench/simulate-series.ts, 14:00-23:00 and
 * 16:00-24:00, after-dump, 10-minute dumps), actual held writes over the oracle's: weight 0 →
 * 1.032 / 1.144 (public / wider, first interval), 0.25 → 1.032 / 1.136, 0.5 → 1.032 / 1.148,
 * 1 → 1.076 / 1.161: the per-slot bands of spiky flight counts are wide by day, so the full upper
 * quantile overrates certainty at the edges of quiet hours. With the forecast of the double-
 * seasonal candidate and the refit profile (wider set, 14:00-23:00): 0 → 1.126, 0.25 → 1.110,
 * 0.5 → 1.115, 1 → 1.127; still 0.25.
 */
export const DEFAULT_RISK_WEIGHT = 0.25;
export const DEFAULT_LIVE_LOOKBACK_MS = 5 * 60_000;
const DEFAULT_CANDIDATE_STEP_MS = 60_000;
const DEFAULT_CAPACITY_TICK_MS = 1_000;

export interface MemberModel {
  name: string;
  group: string;
  server: string;
  mode: WindowMode;
  release: ReleaseRule;
  maxHoldMs: number;
  maxQueuedRequests: number;
  mean: Cumulative;
  upper: Cumulative;
  /** Forecast.spread as curves, where the forecast has one. */
  spread?: Cumulative[];
  /** Offsets from the cut instant. */
  startOffsetMs: number;
  endOffsetMs: number;
  dumpOffsetMs: number;
  dumpMs: number;
}

/** One server's share of a group's dumps: they run back to back on one slot, on one snapshot. */
export interface JobModel {
  serverIndex: number;
  startOffsetMs: number;
  durationMs: number;
}

export interface GroupModel {
  name: string;
  members: MemberModel[];
  jobs: JobModel[];
  /** Candidate cut instants, ascending. */
  cuts: Float64Array;
  /** Weighted cost per candidate; Infinity where a budget (queue) would be broken. */
  cost: Float64Array;
  held: Float64Array;
  overlap: Float64Array;
}

export interface ServerModel {
  name: string;
  capacity: number;
  /** Predicted write load of all its partitions (mean), what a dump competes with. */
  load: Cumulative;
}

export interface Problem {
  input: PlanInput;
  groups: GroupModel[];
  servers: ServerModel[];
  tickMs: number;
  ticks: number;
  infeasible: InfeasiblePartition[];
  skipped: SkippedPartition[];
}

/** Held writes need covering only for the skew a client round trip cannot already absorb. */
export function skewMarginMs(input: Pick<PlanInput, 'clockSkewMs' | 'minRoundTripMs'>): number {
  return Math.max(0, input.clockSkewMs - input.minRoundTripMs);
}

export function capacityOf(input: PlanInput, server: string): number {
  return input.maxConcurrentDumpsByServer?.[server] ?? input.maxConcurrentDumps;
}

/** Tick range [a, b) a job of a group occupies when the group cuts at `cutMs`. */
export function jobTicks(problem: Problem, job: JobModel, cutMs: number): [number, number] {
  const start = cutMs + job.startOffsetMs - problem.input.intervalStartMs;
  const a = Math.floor(start / problem.tickMs + 1e-9);
  const b = Math.ceil((start + job.durationMs) / problem.tickMs - 1e-9);
  return [a, Math.max(b, a + 1)];
}

const fmt = (ms: number): string => `${Math.round(ms)} ms`;
const minutes = (ms: number): string => `${(ms / 60_000).toFixed(1)} min`;

interface Draft {
  name: string;
  members: PartitionPlanInput[];
}

function groupsOf(input: PlanInput): Draft[] {
  const byName = new Map<string, Draft>();
  for (const p of input.partitions) {
    const name = p.group ?? p.name;
    let d = byName.get(name);
    if (d === undefined) byName.set(name, (d = { name, members: [] }));
    d.members.push(p);
  }
  return [...byName.values()];
}

function validate(input: PlanInput): void {
  if (!(input.intervalEndMs > input.intervalStartMs)) throw new RangeError('backup interval is empty');
  if (!(input.maxConcurrentDumps >= 1)) throw new RangeError('maxConcurrentDumps must be at least 1');
  const seen = new Set<string>();
  for (const p of input.partitions) {
    if (seen.has(p.name)) throw new RangeError(`partition ${p.name} appears twice`);
    seen.add(p.name);
    for (const k of ['dumpMs', 'drainMs', 'pinMs'] as const) {
      if (!(p[k] >= 0)) throw new RangeError(`partition ${p.name}: ${k} must be >= 0`);
    }
  }
}

export function buildProblem(input: PlanInput): Problem {
  validate(input);
  const { intervalStartMs: t0, intervalEndMs: t1 } = input;
  const margin = skewMarginMs(input);
  const tickMs = input.capacityTickMs ?? DEFAULT_CAPACITY_TICK_MS;
  const ticks = Math.ceil((t1 - t0) / tickMs);

  // Server load counts every partition, planned or not: skipped ones still write.
  const serverNames = [...new Set(input.partitions.map((p) => p.server ?? DEFAULT_SERVER))].sort();
  const serverIndex = new Map(serverNames.map((s, i) => [s, i]));
  const meanOf = new Map(input.partitions.map((p) => [p.name, new Cumulative({ ...p.forecast, values: p.forecast.mean })]));
  const servers: ServerModel[] = serverNames.map((name) => {
    const parts = input.partitions.filter((p) => (p.server ?? DEFAULT_SERVER) === name);
    const step = Math.min(...parts.map((p) => p.forecast.stepMs));
    const curves = parts.map((p) => meanOf.get(p.name) as Cumulative);
    return { name, capacity: capacityOf(input, name), load: sumOnGrid(curves, t0, step, Math.ceil((t1 - t0) / step)) };
  });

  const minForecastStep = Math.min(...input.partitions.map((p) => p.forecast.stepMs));
  const candidateStepMs = input.candidateStepMs ?? Math.min(DEFAULT_CANDIDATE_STEP_MS, minForecastStep);

  const problem: Problem = { input, groups: [], servers, tickMs, ticks, infeasible: [], skipped: [] };
  for (const draft of groupsOf(input)) {
    // A group is skipped only as a whole: an unchanged member of a changed group still needs the shared cut.
    if (input.skipUnchanged && draft.members.every((p) => p.writesSinceLastBackup === 0)) {
      for (const p of draft.members) problem.skipped.push({ partition: p.name, group: draft.name, reason: 'no writes since the last good backup' });
      continue;
    }
    const built = buildGroup(draft, input, margin, candidateStepMs, servers, serverIndex, meanOf);
    if (typeof built === 'string' || 'member' in built) {
      const culprit = typeof built === 'string' ? null : built.member;
      const why = typeof built === 'string' ? built : built.reason;
      for (const p of draft.members) {
        const reason = culprit === null || culprit === p.name ? why : `consistency group ${draft.name}: member ${culprit} cannot be planned (${why})`;
        problem.infeasible.push({ partition: p.name, group: draft.name, reason });
      }
      continue;
    }
    problem.groups.push(built);
  }
  return problem;
}

function buildGroup(
  draft: Draft,
  input: PlanInput,
  margin: number,
  candidateStepMs: number,
  servers: readonly ServerModel[],
  serverIndex: Map<string, number>,
  meanOf: Map<string, Cumulative>,
): GroupModel | string | { member: string; reason: string } {
  const { intervalStartMs: t0, intervalEndMs: t1 } = input;
  const byServer = new Map<string, PartitionPlanInput[]>();
  for (const p of draft.members) {
    const s = p.server ?? DEFAULT_SERVER;
    byServer.set(s, [...(byServer.get(s) ?? []), p]);
  }
  const members: MemberModel[] = [];
  const jobs: JobModel[] = [];
  // One snapshot per server, all exported in parallel at the cut; the group's writes are released,
  // and its dumps start, only once the slowest server has pinned (windows/window.ts): a cut across
  // servers holds every member for the slowest pin.
  const pinMs = Math.max(...draft.members.map((p) => p.pinMs));
  for (const [server, parts] of [...byServer.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    // Shortest dumps first, so under after-dump release the members waiting on the shared slot are
    // released sooner.
    const ordered = [...parts].sort((a, b) => a.dumpMs - b.dumpMs || (a.name < b.name ? -1 : 1));
    let offset = pinMs;
    for (const p of ordered) {
      const release = p.release ?? input.release;
      const endOffsetMs = (release === 'after-dump' ? offset + p.dumpMs : pinMs) + margin;
      members.push({
        name: p.name,
        group: draft.name,
        server,
        mode: p.mode,
        release,
        maxHoldMs: p.maxHoldMs,
        maxQueuedRequests: p.maxQueuedRequests,
        mean: meanOf.get(p.name) as Cumulative,
        upper: new Cumulative({ ...p.forecast, values: p.forecast.upper }),
        ...(p.forecast.spread === undefined ? {} : { spread: p.forecast.spread.map((values) => new Cumulative({ ...p.forecast, values })) }),
        startOffsetMs: -p.drainMs,
        endOffsetMs,
        dumpOffsetMs: offset,
        dumpMs: p.dumpMs,
      });
      offset += p.dumpMs;
    }
    jobs.push({ serverIndex: serverIndex.get(server) as number, startOffsetMs: pinMs, durationMs: offset - pinMs });
  }

  for (const m of members) {
    const hold = m.endOffsetMs - m.startOffsetMs;
    if (hold > m.maxHoldMs) {
      const parts = `drain ${fmt(-m.startOffsetMs)}, snapshot pin, skew margin ${fmt(margin)}${m.release === 'after-dump' ? ', dump' : ''}`;
      return { member: m.name, reason: `needs a hold of ${fmt(hold)} (${parts}) > maxHoldMs ${fmt(m.maxHoldMs)}` };
    }
    if (!m.mean.covers(t0, t1)) return { member: m.name, reason: 'forecast does not cover the backup interval' };
  }

  const lead = Math.max(...members.map((m) => -m.startOffsetMs));
  const tail = Math.max(...members.map((m) => m.endOffsetMs), ...jobs.map((j) => j.startOffsetMs + j.durationMs));
  const count = Math.floor((t1 - t0 - lead - tail) / candidateStepMs + 1e-9) + 1;
  if (count <= 0) return `window and dump need ${minutes(lead + tail)}, longer than the backup interval (${minutes(t1 - t0)})`;

  const risk = input.riskWeight ?? DEFAULT_RISK_WEIGHT;
  const cuts = new Float64Array(count);
  const cost = new Float64Array(count);
  const held = new Float64Array(count);
  const overlap = new Float64Array(count);
  const risky = new Float64Array(count);
  let bestQueue = Infinity;
  let queueCulprit = '';
  for (let k = 0; k < count; k++) {
    const cut = t0 + lead + k * candidateStepMs;
    cuts[k] = cut;
    let h = 0;
    let hu = 0;
    let worstQueueRatio = 0;
    let worstMeanRatio = 0;
    let worst = '';
    for (const m of members) {
      const a = cut + m.startOffsetMs;
      const b = cut + m.endOffsetMs;
      const mean = m.mean.between(a, b);
      h += mean;
      const upper = m.upper.between(a, b);
      hu += upper;
      if (m.mode === 'hold') {
        const ratio = upper / m.maxQueuedRequests;
        if (ratio > worstQueueRatio) [worstQueueRatio, worst] = [ratio, m.name];
        worstMeanRatio = Math.max(worstMeanRatio, mean / m.maxQueuedRequests);
      }
    }
    let o = 0;
    for (const j of jobs) {
      const a = cut + j.startOffsetMs;
      o += (servers[j.serverIndex] as ServerModel).load.between(a, a + j.durationMs);
    }
    held[k] = h;
    overlap[k] = o;
    if (worstQueueRatio > 1) {
      // Over the budget at the upper quantile: a last resort (risky[k] > 0) where the mean still
      // fits, never where even the mean breaks it.
      cost[k] = Infinity;
      if (worstMeanRatio <= 1) risky[k] = worstQueueRatio;
      if (worstQueueRatio < bestQueue) [bestQueue, queueCulprit] = [worstQueueRatio, worst];
    } else {
      cost[k] = input.heldWeight * (h + risk * Math.max(0, hu - h)) + input.overlapWeight * o;
    }
  }
  // No candidate within the budget at the upper quantile: rather than miss the backup, plan where
  // the predicted queue is smallest (a missed backup costs more than a queue that may overflow
  // into 53400 for a few writes). Risky candidates cost more than any safe one of any group.
  if (cost.every((c) => c === Infinity) && risky.some((r) => r > 0)) {
    let ceiling = 0;
    for (let k = 0; k < count; k++) if ((risky[k] as number) > 0) ceiling = Math.max(ceiling, input.heldWeight * (held[k] as number) + input.overlapWeight * (overlap[k] as number));
    for (let k = 0; k < count; k++) if ((risky[k] as number) > 0) cost[k] = (ceiling + 1) * (risky[k] as number);
  }
  if (cost.every((c) => c === Infinity)) {
    const m = members.find((x) => x.name === queueCulprit) as MemberModel;
    return {
      member: m.name,
      reason: `predicted queue peak is at least ${Math.ceil(bestQueue * m.maxQueuedRequests)} requests at every candidate time > maxQueuedRequests ${m.maxQueuedRequests}`,
    };
  }
  return { name: draft.name, members, jobs, cuts, cost, held, overlap };
}
