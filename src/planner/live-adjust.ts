/**
 * Adjusting a plan while it runs (the original design's "monitoring of actual write load"): just
 * before a group's window, compare each member's live write count over the last minutes with what
 * the forecast said for them. Far above the forecast, or high enough that the window's queue would
 * outgrow its budget, the window moves to the next good slot the plan left for it (same hold, so
 * within the budget; a dump slot the plan leaves free), or, with none left, far above and a queue
 * the live load would overflow, is skipped with a reason. Before that, on a node that sees all
 * the writes, the window may start at one of the plan's early check points, where its cost at the
 * live load is no more than waiting is expected to cost (the forecast's spread at the starts left,
 * weighed by backward induction) and its queue would fit at that load. The plan carries what the
 * check needs (PlannedWindow.live), so the node needs no forecast to decide.
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
      const { early, heldSpread: _spread, ownLoad: _own, heldUpper: _upper, ...kept } = live;
      moved.live = {
        ...kept,
        leadMean: at?.leadMean ?? live.leadMean,
        leadUpper: at?.leadUpper ?? live.leadUpper,
        ...standing(at),
        ...(early !== undefined && early > 1 ? { early: early - 1 } : {}),
        shifts: live.shifts.filter((s) => s.shiftMs > shiftMs).map((s) => ({ ...s, shiftMs: s.shiftMs - shiftMs })),
      };
    }
    return moved;
  });
}

type Standing = Pick<LiveSlot, 'heldSpread' | 'ownLoad' | 'heldUpper'>;

/** A slot's fields that stay with a window standing there (LiveWindowInfo.heldSpread ...). */
function standing(at: { [K in keyof Standing]?: Standing[K] | undefined } | undefined): Standing {
  const out: Standing = {};
  if (at?.heldSpread !== undefined) out.heldSpread = at.heldSpread;
  if (at?.ownLoad !== undefined) out.ownLoad = at.ownLoad;
  if (at?.heldUpper !== undefined) out.heldUpper = at.heldUpper;
  return out;
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
    const { earlier = [], heldSpread, ownLoad, heldUpper, ...l } = w.live as LiveWindowInfo;
    const at = earlier[from];
    const planned: LiveSlot = { shiftMs: 0, leadMean: l.leadMean, leadUpper: l.leadUpper, heldMean: w.heldWrites, overlap: w.overlapCost, ...standing({ heldSpread, ownLoad, heldUpper }) };
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
        ...standing(at),
        early: points.length - from,
        shifts: rest.map((s) => ({ ...s, shiftMs: s.shiftMs - d })),
      },
    };
  });
}

/**
 * The group's cost if started now: the writes its windows would take, the live count carried over
 * the window, plus the forecast overlap of its dumps at the plan's weight, the member's own part
 * of that load (LiveWindowInfo.ownLoad) carried over at the live count too.
 */
function heldNow(windows: readonly PlannedWindow[], observed: ReadonlyMap<string, number>): number {
  let sum = 0;
  for (const w of windows) {
    const live = w.live as LiveWindowInfo;
    const seen = observed.get(w.partition) ?? 0;
    const ratio = liveRatio(w, observed);
    sum += ratio !== null ? w.heldWrites * ratio : live.lookbackMs > 0 ? (seen / live.lookbackMs) * w.holdMs : w.heldWrites;
    const own = ratio === null ? 0 : Math.min(live.ownLoad ?? 0, w.overlapCost);
    sum += (live.overlapPerHeld ?? 0) * (w.overlapCost + (ratio === null ? 0 : (ratio - 1) * own));
  }
  return sum;
}

/**
 * What waiting is expected to cost the group: the starts left to it are its remaining early points
 * and the planned start (where it runs at the latest), `shifts[0 .. n)`. Where the plan carries
 * the forecast's spread at each of them (LiveSlot.heldSpread), backward induction: at the planned
 * start the expected cost, at each point before it the expected cost of starting there or waiting
 * on, whichever turns out lower (waiting, where the queue would not fit: startsAt), so a later
 * point's chance of a quiet spell is valued as well as its forecast. Else a certainty-equivalent
 * rule, the lowest forecast cost among them (README, the planner figures).
 */
export function waitingCost(windows: readonly PlannedWindow[]): number {
  const n = Math.min(windows[0]?.live?.early ?? 0, windows[0]?.live?.shifts.length ?? 0);
  const points = Array.from({ length: n }, (_, j) => slotCosts(windows, j));
  const levels = points[0]?.spread?.length;
  if (levels !== undefined && points.every((p) => p.spread?.length === levels)) {
    let value = mean(points[n - 1]?.spread as number[]);
    for (let j = n - 2; j >= 0; j--) {
      const p = points[j] as SlotCosts;
      value = mean((p.spread as number[]).map((x, k) => (p.fits[k] === true ? Math.min(x, value) : value)));
    }
    return value;
  }
  return Math.min(...points.map((p) => p.mean));
}

interface SlotCosts {
  mean: number;
  /** Null where a member has no spread. */
  spread: number[] | null;
  /** Per spread level: would every member's queue fit there (startsAt at that level's count)? */
  fits: boolean[];
}

/**
 * The group's forecast cost if it starts at shifts[j]: at the mean, and at each spread level
 * (members at the same level, as one cut shares one day).
 */
function slotCosts(windows: readonly PlannedWindow[], j: number): SlotCosts {
  let cost = 0;
  let spread: number[] | null = null;
  let fits: boolean[] = [];
  windows.forEach((w, i) => {
    const live = w.live as LiveWindowInfo;
    const s = live.shifts[j] as LiveSlot;
    const overlap = (live.overlapPerHeld ?? 0) * (s.overlap ?? w.overlapCost);
    const held = s.heldMean ?? w.heldWrites;
    cost += held + overlap;
    const levels = s.heldSpread;
    if (levels === undefined || (i > 0 && (spread === null || spread.length !== levels.length))) {
      spread = null;
      return;
    }
    const own = Math.min(s.ownLoad ?? 0, s.overlap ?? w.overlapCost);
    spread = levels.map((x, k) => {
      const ratio = held > 0 ? x / held : 1;
      return x + (live.overlapPerHeld ?? 0) * ((s.overlap ?? w.overlapCost) + (ratio - 1) * own) + (i > 0 ? ((spread as number[])[k] as number) : 0);
    });
    fits = levels.map((x, k) => (i === 0 || fits[k] === true) && queueFits(w, s.heldUpper, held > 0 ? x / held : 1));
  });
  return { mean: cost, spread, fits };
}

/**
 * Would a hold queue started there fit its budget at the upper quantile scaled by the live ratio?
 * The plan keeps early points where only the mean fits (assemble.ts), so this is the check that
 * keeps a busy hour's point from being started on an ordinary day. Without heldUpper (older
 * plans, whose points fit at the upper quantile), the mean scaled by the ratio.
 */
function queueFits(w: PlannedWindow, heldUpper: number | undefined, ratio: number): boolean {
  const live = w.live as LiveWindowInfo;
  if (w.mode !== 'hold') return true;
  return (heldUpper ?? w.heldWrites) * ratio <= live.maxQueuedRequests;
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Each member's live count over its lookback, as a ratio to the forecast there (null: none forecast). */
function liveRatio(w: PlannedWindow, observed: ReadonlyMap<string, number>): number | null {
  const live = w.live as LiveWindowInfo;
  return live.leadMean > 0 ? (observed.get(w.partition) ?? 0) / live.leadMean : null;
}

/**
 * At an early check point: start now when the window would cost no more at the live rate than
 * waiting is expected to, and every member's queue would fit at that rate (queueFits); otherwise
 * go on to the next point.
 */
function earlyDecision(windows: readonly PlannedWindow[], observed: ReadonlyMap<string, number>): LiveDecision {
  const now = heldNow(windows, observed);
  const wait = waitingCost(windows);
  const next = windows[0]?.live?.shifts[0];
  const fits = windows.every((w) => {
    const ratio = liveRatio(w, observed);
    return ratio === null ? !wouldOverflow(w, observed.get(w.partition) ?? 0) : queueFits(w, w.live?.heldUpper, ratio);
  });
  const what = `cost ${Math.round(now)} at the live rate now, ${Math.round(wait)} expected if it waits`;
  if (next === undefined || (fits && now <= wait)) return { action: 'keep', early: true, reason: `${windows[0]?.group ?? ''}: started before its planned time: ${what}` };
  return { action: 'wait', shiftMs: next.shiftMs, reason: `${windows[0]?.group ?? ''}: ${what}${fits ? '' : '; its queue would not fit the budget at the live rate'}` };
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
