/**
 * A node's clock and its offset to the database server's clock, measured as NTP and Cristian's
 * algorithm do: several round trips reading the server's `clock_timestamp()`; the sample with the
 * smallest round trip gives the offset (server time minus the local midpoint of the round trip) and
 * the uncertainty (half that round trip: the server read its clock somewhere inside it).
 */
import type pg from 'pg';

/** Wall-clock milliseconds as this node sees them. */
export interface NodeClock {
  now(): number;
}

/**
 * The process clock, optionally shifted: `offsetMs` exists for tests that need nodes whose clocks
 * disagree (a skewed clock is otherwise impossible to set up on one machine without root tricks).
 */
export function nodeClock(offsetMs = 0): NodeClock {
  return offsetMs === 0 ? { now: () => Date.now() } : { now: () => Date.now() + offsetMs };
}

/** Date.now() reads whole milliseconds. */
export const WALL_CLOCK_RESOLUTION_MS = 1;

export interface ClockSample {
  /** Local clock when the query was sent, ms. */
  sentMs: number;
  /** The server's clock_timestamp(), ms. */
  serverMs: number;
  /** Local clock when the answer came back, ms. */
  receivedMs: number;
}

export interface ClockOffset {
  /** server − local, ms: add it to local time to get server time. */
  offsetMs: number;
  /** The true offset lies within offsetMs ± uncertaintyMs (half the best round trip). */
  uncertaintyMs: number;
  roundTripMs: number;
}

/**
 * The estimate from the sample with the smallest round trip; null without a usable sample.
 * `resolutionMs` is how coarse the local clock reads (Date.now(): 1 ms): a send time read up to
 * that much early shifts the offset by as much, so it is part of the uncertainty.
 */
export function estimateOffset(samples: readonly ClockSample[], resolutionMs = 0): ClockOffset | null {
  let best: ClockSample | null = null;
  for (const s of samples) {
    if (!(s.receivedMs >= s.sentMs) || !Number.isFinite(s.serverMs)) continue;
    if (best === null || s.receivedMs - s.sentMs < best.receivedMs - best.sentMs) best = s;
  }
  if (best === null) return null;
  const rtt = best.receivedMs - best.sentMs;
  return { offsetMs: best.serverMs - (best.sentMs + rtt / 2), uncertaintyMs: rtt / 2 + resolutionMs, roundTripMs: rtt };
}

/**
 * Sample the server's clock `n` times on one connection. Local times are read with the node clock
 * but the round trip itself with performance.now(), so a wall-clock step mid-sample cannot make it
 * negative.
 */
export async function measureOffset(client: pg.ClientBase, clock: NodeClock, n = 5): Promise<ClockOffset | null> {
  const samples: ClockSample[] = [];
  for (let i = 0; i < n; i++) {
    const sentMs = clock.now();
    const t0 = performance.now();
    // Extract the epoch on the server: a timestamptz through pg's Date parser loses microseconds.
    const { rows } = await client.query<{ t: string }>('SELECT extract(epoch FROM clock_timestamp())::float8 * 1000 AS t');
    const rtt = performance.now() - t0;
    samples.push({ sentMs, serverMs: Number(rows[0]?.t), receivedMs: sentMs + rtt });
  }
  return estimateOffset(samples, WALL_CLOCK_RESOLUTION_MS);
}
