/**
 * The daily backup interval (`backup.interval`, HH:MM-HH:MM) as real instants in
 * `backup.timezone`. Both ends are wall-clock times of that zone, so on a daylight-saving day the
 * interval is an hour shorter or longer, as the operator who wrote "01:00-07:00" means it. The
 * planner's own `intervalOnDay` works in the series' clock (fixed length); this is the one the
 * scheduler uses.
 */
import { parseInterval, type DailyInterval } from '../planner/interval.js';

export interface IntervalInstants {
  startMs: number;
  endMs: number;
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (f === undefined) {
    // Throws RangeError on an unknown zone: better at start-up than at 01:00.
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    formatters.set(timeZone, f);
  }
  return f;
}

export interface ZonedParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

export function zonedParts(ms: number, timeZone: string): ZonedParts {
  const parts: Record<string, number> = {};
  for (const p of formatter(timeZone).formatToParts(new Date(ms))) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return { year: parts.year ?? 0, month: parts.month ?? 0, day: parts.day ?? 0, hour: parts.hour ?? 0, minute: parts.minute ?? 0, second: parts.second ?? 0 };
}

/** Offset of the zone from UTC at that instant (ms, positive east of Greenwich). */
export function zoneOffsetMs(ms: number, timeZone: string): number {
  const p = zonedParts(ms, timeZone);
  const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/**
 * The instant a wall clock in the zone shows this local time (month 1-12; day and minute may
 * overflow, Date.UTC carries them). A time skipped by a spring-forward gap maps to the instant one
 * gap later (02:30 → 03:30); a time shown twice in autumn maps to its first showing.
 */
export function zonedTimeToUtc(year: number, month: number, day: number, minuteOfDay: number, timeZone: string): number {
  const local = Date.UTC(year, month - 1, day, 0, minuteOfDay);
  // Offsets half a day either side bracket any transition near this time (zones change at most once a day).
  const before = zoneOffsetMs(local - DAY_MS / 2, timeZone);
  const after = zoneOffsetMs(local + DAY_MS / 2, timeZone);
  const valid = [local - before, local - after].filter((c) => c + zoneOffsetMs(c, timeZone) === local);
  // Both valid: the time is shown twice (fall back); take the first. None: it falls in a gap
  // (spring forward); the pre-transition offset lands one gap later on the wall clock.
  return valid.length > 0 ? Math.min(...valid) : local - before;
}

/** The interval that starts on the local calendar day `dayOffset` days after the one holding `ms`. */
export function intervalOnLocalDay(ms: number, daily: DailyInterval, timeZone: string, dayOffset = 0): IntervalInstants {
  const p = zonedParts(ms, timeZone);
  const startMs = zonedTimeToUtc(p.year, p.month, p.day + dayOffset, daily.startMinute, timeZone);
  // An end at or before the start is on the next local day (an interval across midnight).
  const endDay = daily.endMinute > daily.startMinute ? dayOffset : dayOffset + 1;
  const endMs = zonedTimeToUtc(p.year, p.month, p.day + endDay, daily.endMinute, timeZone);
  return { startMs, endMs };
}

/** The first interval that has not begun at `nowMs`: what a planning tick plans. */
export function nextInterval(nowMs: number, interval: string | DailyInterval, timeZone: string): IntervalInstants {
  const daily = typeof interval === 'string' ? parseInterval(interval) : interval;
  for (let d = -1; d <= 2; d++) {
    const i = intervalOnLocalDay(nowMs, daily, timeZone, d);
    if (i.startMs > nowMs) return i;
  }
  // Unreachable for a valid zone (an interval starts every local day); keep the type honest.
  return intervalOnLocalDay(nowMs + 2 * DAY_MS, daily, timeZone, 0);
}

/** The interval in progress at `nowMs`, if one is. */
export function currentInterval(nowMs: number, interval: string | DailyInterval, timeZone: string): IntervalInstants | null {
  const daily = typeof interval === 'string' ? parseInterval(interval) : interval;
  for (let d = -1; d <= 0; d++) {
    const i = intervalOnLocalDay(nowMs, daily, timeZone, d);
    if (i.startMs <= nowMs && nowMs < i.endMs) return i;
  }
  return null;
}

/** HH:MM in the zone: plan pictures read in the operator's clock, not UTC. */
export function zonedClock(timeZone: string): (ms: number) => string {
  return (ms) => {
    const p = zonedParts(ms, timeZone);
    return `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
  };
}

export { MINUTE_MS };
