/**
 * Adjusting a plan while it runs (the original design's "monitoring of actual write load"): just
 * before a group's window, compare each member's live write count over the last minutes with what
 * the forecast said for them. Far above the forecast, or high enough that the window's queue would
 * outgrow its budget, the window moves to the next good slot the plan left for it (same hold, so
 * within the budget; a dump slot the plan leaves free), or, with none left, far above and a queue
 * the live load would overflow, is skipped with a reason. Before that, on a node that sees all
 * the writes, the window may start at one of the plan's early check points, where the live load
 * shows that hour running quieter than the best start left is forecast to be. The plan carries
 * what the check needs (PlannedWindow.live), so the node needs no forecast to decide.
 */
import type { LiveSlot, LiveWindowInfo, PlannedWindow } from './types.js';

export interface LiveAdjustOptions {
  /** "Far above": live writes more than this many times the forecast's upper quantile. */
  farAboveRatio: number;
  /** ... and at least this many writes above it (a handful of writes is noise, not a surge). */
  minExcessWrites: number;
}

export const DEFAULT_LIVE_ADJUST_OPTIONS: LiveAdjustOptions = { farAboveRatio: 3, minExcessWrites: 20 };

export type LiveDecision =
  | { action: 'keep'; reason: string | null; early?: boolean }
  | { action: 'move'; shiftMs: number; reason: string }
  /** At an early check point: go on to the next one (the plan's own start is among them). */
  | { action: 'wait'; shiftMs: number; reason: string }
  | { action: 'skip'; reason: string };

/** Is this member's live count far above its forecast? */
export function farAbove(live: LiveWindowInfo, observedWrites: number, opts: LiveAdjustOptions = DEFAULT_LIVE_ADJUST_OPTIONS): boolean {
  const expected = Math.max(live.leadMean, live.leadUpper);
  return observedWrites > opts.farAboveRatio * expected && observedWrites - expected >= opts.minExcessWrites;
}

/**
 * Requests a hold-mode window would queue if the load kept running at its live ratio to the
 * forecast: the window's mean forecast times live / forecast over the lookback. A level surprise
 * carries over to the window, and a drop the forecast expects at the window (the end of a busy
 * hour) is still expected. With no writes forecast for the lookback, the live rate over the hold.
 */
export function projectedQueue(w: PlannedWindow, observedWrites: number): number {
  const live = w.live;
  if (w.mode !== 'hold' || live === undefined || !(live.lookbackMs > 0)) return 0;
  return live.leadMean > 0 ? w.heldWrites * (observedWrites / live.leadMean) : (observedWrites / live.lookbackMs) * w.holdMs;
}

/** At the live rate, the hold queue would outgrow its budget: what a user expects the check to catch. */
export function wouldOverflow(w: PlannedWindow, observedWrites: number): boolean {
  return w.live !== undefined && projectedQueue(w, observedWrites) > w.live.maxQueuedRequests;
}

/**
 * The decision for one consistency group (all members move together: they share the cut).
 * `observed` holds each member's live writes over its `live.lookbackMs` before the window start.
 * A member is surging when its live count is far above the forecast, or when its queue would
 * outgrow the budget at the live rate even if that rate is within the forecast's band.
 */
export function liveDecision(windows: readonly PlannedWindow[], observed: ReadonlyMap<string, number>, opts: LiveAdjustOptions = DEFAULT_LIVE_ADJUST_OPTIONS): LiveDecision {
  if ((windows[0]?.live?.early ?? 0) > 0) return earlyDecision(windows, observed);
  const surging = windows.filter((w) => w.live !== undefined && (farAbove(w.live, observed.get(w.partition) ?? 0, opts) || wouldOverflow(w, observed.get(w.partition) ?? 0)));
  if (surging.length === 0) return { action: 'keep', reason: null };
  const first = surging[0] as PlannedWindow & { live: LiveWindowInfo };
  const seen = observed.get(first.partition) ?? 0;
  const what = `live writes ${Math.round(seen)} in the last ${Math.round(first.live.lookbackMs / 1000)} s, forecast ${first.live.leadMean.toFixed(1)} (upper ${first.live.leadUpper.toFixed(1)})`;
  const next = first.live.shifts[0];
  if (next !== undefined) return { action: 'move', shiftMs: next.shiftMs, reason: `${first.partition}: ${what}; window moved to the next good slot, ${Math.round(next.shiftMs / 60_000)} min later` };
  // No later slot: skip only when the load is far above the forecast and would overflow the
  // queue. Over the budget at a load the forecast's band allowed for, the window runs and the
  // queue rejects the overflow (windows.maxQueuedRequests): a backup with a few rejected writes
  // is better than none.
  for (const w of surging) {
    const seenHere = observed.get(w.partition) ?? 0;
    const projected = projectedQueue(w, seenHere);
    if (farAbove(w.live as LiveWindowInfo, seenHere, opts) && wouldOverflow(w, seenHere)) {
      return { action: 'skip', reason: `${w.partition}: ${what}; at that rate its hold queue would reach ${Math.round(projected)} > maxQueuedRequests ${(w.live as LiveWindowInfo).maxQueuedRequests}, and no later slot is left in the interval` };
    }
  }
  const over = surging.find((w) => wouldOverflow(w, observed.get(w.partition) ?? 0));
  if (over !== undefined) {
    const projected = Math.round(projectedQueue(over, observed.get(over.partition) ?? 0));
    return { action: 'keep', reason: `${over.partition}: ${what}; no later slot is left: held, though its queue may reach ${projected} > maxQueuedRequests ${(over.live as LiveWindowInfo).maxQueuedRequests} (the overflow is rejected)` };
  }
  return { action: 'keep', reason: `${first.partition}: ${what}; no later slot is left, and the queue budget holds at that rate` };
}

/**
 * The group's windows moved to one of their later slots (every instant moves; the predicted held
 * writes become those of the slot). The slots after it stay available, rebased, with their lead
 * forecasts: at its new start the window is checked again.
 */
export function shiftWindows(windows: readonly PlannedWindow[], shiftMs: number): PlannedWindow[] {
  return windows.map((w) => {
    const { live, ...rest } = w;
    const moved: PlannedWindow = { ...rest, startMs: w.startMs + shiftMs, cutMs: w.cutMs + shiftMs, endMs: w.endMs + shiftMs, dumpStartMs: w.dumpStartMs + shiftMs, dumpEndMs: w.dumpEndMs + shiftMs };
    if (live !== undefined) {
      const at = live.shifts.find((s) => s.shiftMs === shiftMs);
      if (at?.heldMean !== undefined) moved.heldWrites = at.heldMean;
      if (at?.overlap !== undefined) moved.overlapCost = at.overlap;
      const { early, ...kept } = live;
      moved.live = {
        ...kept,
        leadMean: at?.leadMean ?? live.leadMean,
        leadUpper: at?.leadUpper ?? live.leadUpper,
        ...(early !== undefined && early > 1 ? { early: early - 1 } : {}),
        shifts: live.shifts.filter((s) => s.shiftMs > shiftMs).map((s) => ({ ...s, shiftMs: s.shiftMs - shiftMs })),
      };
    }
    return moved;
  });
}

/**
 * Checking starts at the earliest early check point whose lookback has not begun by `nowMs`: the
 * windows move there, and the early points after it, the planned start and the plan's later slots
 * become its shifts. Without early points (older plans, or all passed) the windows stay as planned.
 */
export function withEarlyChecks(windows: readonly PlannedWindow[], nowMs: number): PlannedWindow[] {
  const head = windows[0];
  const points = head?.live?.earlier ?? [];
  // Members share the group's cut, so their early points line up: the head's decide.
  const from = head === undefined ? -1 : points.findIndex((p) => head.startMs + p.shiftMs - (head.live as LiveWindowInfo).lookbackMs >= nowMs);
  if (from < 0) return [...windows];
  const d = (points[from] as LiveSlot).shiftMs;
  return windows.map((w) => {
    const { earlier = [], ...l } = w.live as LiveWindowInfo;
    const at = earlier[from];
    const planned: LiveSlot = { shiftMs: 0, leadMean: l.leadMean, leadUpper: l.leadUpper, heldMean: w.heldWrites, overlap: w.overlapCost };
    const rest = [...earlier.slice(from + 1), planned, ...l.shifts];
    return {
      ...w,
      startMs: w.startMs + d,
      cutMs: w.cutMs + d,
      endMs: w.endMs + d,
      dumpStartMs: w.dumpStartMs + d,
      dumpEndMs: w.dumpEndMs + d,
      heldWrites: at?.heldMean ?? w.heldWrites,
      overlapCost: at?.overlap ?? w.overlapCost,
      live: {
        ...l,
        leadMean: at?.leadMean ?? l.leadMean,
        leadUpper: at?.leadUpper ?? l.leadUpper,
        early: points.length - from,
        shifts: rest.map((s) => ({ ...s, shiftMs: s.shiftMs - d })),
      },
    };
  });
}

/**
 * The group's cost if started now: the writes its windows would take, the live count carried over
 * the window, plus the forecast overlap of its dumps at the plan's weight.
 */
function heldNow(windows: readonly PlannedWindow[], observed: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const w of windows) {
    const live = w.live as LiveWindowInfo;
    const seen = observed.get(w.partition) ?? 0;
    sum += live.leadMean > 0 ? w.heldWrites * (seen / live.leadMean) : live.lookbackMs > 0 ? (seen / live.lookbackMs) * w.holdMs : w.heldWrites;
    sum += (live.overlapPerHeld ?? 0) * w.overlapCost;
  }
  return sum;
}

/**
 * The cheapest start left to the group if it waits: the lowest forecast cost among its remaining
 * early points and the planned start (where it runs at the latest). A certainty-equivalent rule:
 * the point's live count is compared with forecasts, not with what the later points might show,
 * which valued waiting too highly in the simulator (README, the planner figures).
 */
export function waitingCost(windows: readonly PlannedWindow[]): number {
  const n = Math.min(windows[0]?.live?.early ?? 0, windows[0]?.live?.shifts.length ?? 0);
  let best = Number.POSITIVE_INFINITY;
  for (let j = 0; j < n; j++) {
    let cost = 0;
    for (const w of windows) {
      const live = w.live as LiveWindowInfo;
      const s = live.shifts[j] as LiveSlot;
      cost += (s.heldMean ?? w.heldWrites) + (live.overlapPerHeld ?? 0) * (s.overlap ?? w.overlapCost);
    }
    best = Math.min(best, cost);
  }
  return best;
}

/**
 * At an early check point: start now when the window would cost no more at the live rate than the
 * best start left is forecast to; otherwise go on to the next point.
 */
function earlyDecision(windows: readonly PlannedWindow[], observed: ReadonlyMap<string, number>): LiveDecision {
  const now = heldNow(windows, observed);
  const wait = waitingCost(windows);
  const next = windows[0]?.live?.shifts[0];
  const what = `cost ${Math.round(now)} at the live rate now, ${Math.round(wait)} forecast at the best start left`;
  if (next === undefined || now <= wait) return { action: 'keep', early: true, reason: `${windows[0]?.group ?? ''}: started before its planned time: ${what}` };
  return { action: 'wait', shiftMs: next.shiftMs, reason: `${windows[0]?.group ?? ''}: ${what}` };
}

/**
 * The decision on a node: as liveDecision, except that a node which does not see all of the
 * writes (another node is live) passes its early points, since its share of the count would read
 * as a quiet spell; from the planned start on it checks as usual.
 */
export function nodeLiveDecision(windows: readonly PlannedWindow[], observed: ReadonlyMap<string, number>, seesAllWrites: boolean): LiveDecision {
  const next = windows[0]?.live?.shifts[0];
  if (!seesAllWrites && (windows[0]?.live?.early ?? 0) > 0 && next !== undefined) return { action: 'wait', shiftMs: next.shiftMs, reason: 'another node is live: no start before the planned time' };
  return liveDecision(windows, observed);
}
