/**
 * Adjusting a plan while it runs (the original design's "monitoring of actual write load"): just
 * before a group's window, compare each member's live write count over the last minutes with what
 * the forecast said for them. Far above the forecast, or high enough that the window's queue would
 * outgrow its budget, the window moves to the next good slot the plan left for it (same hold, so
 * within the budget; a dump slot the plan leaves free), or, with none left, far above and a queue
 * the live load would overflow, is skipped with a reason. The plan carries
 * what the check needs (PlannedWindow.live), so the node needs no forecast to decide.
 */
import type { LiveWindowInfo, PlannedWindow } from './types.js';

export interface LiveAdjustOptions {
  /** "Far above": live writes more than this many times the forecast's upper quantile. */
  farAboveRatio: number;
  /** ... and at least this many writes above it (a handful of writes is noise, not a surge). */
  minExcessWrites: number;
}

export const DEFAULT_LIVE_ADJUST_OPTIONS: LiveAdjustOptions = { farAboveRatio: 3, minExcessWrites: 20 };

export type LiveDecision =
  | { action: 'keep'; reason: string | null }
  | { action: 'move'; shiftMs: number; reason: string }
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
 * writes stay those of the plan). The slots after it stay available, rebased, with their lead
 * forecasts: at its new start the window is checked again.
 */
export function shiftWindows(windows: readonly PlannedWindow[], shiftMs: number): PlannedWindow[] {
  return windows.map((w) => {
    const { live, ...rest } = w;
    const moved: PlannedWindow = { ...rest, startMs: w.startMs + shiftMs, cutMs: w.cutMs + shiftMs, endMs: w.endMs + shiftMs, dumpStartMs: w.dumpStartMs + shiftMs, dumpEndMs: w.dumpEndMs + shiftMs };
    if (live !== undefined) {
      const at = live.shifts.find((s) => s.shiftMs === shiftMs);
      moved.live = {
        ...live,
        leadMean: at?.leadMean ?? live.leadMean,
        leadUpper: at?.leadUpper ?? live.leadUpper,
        shifts: live.shifts.filter((s) => s.shiftMs > shiftMs).map((s) => ({ ...s, shiftMs: s.shiftMs - shiftMs })),
      };
    }
    return moved;
  });
}
