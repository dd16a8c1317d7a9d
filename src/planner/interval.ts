/** The daily backup interval, `HH:MM-HH:MM` in the configuration; an end at or before the start wraps past midnight. */

export interface DailyInterval {
  startMinute: number;
  endMinute: number;
}

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

export function parseInterval(text: string): DailyInterval {
  const m = /^(\d{2}):(\d{2})-(\d{2}):(\d{2})$/.exec(text.trim());
  if (m === null) throw new RangeError(`expected HH:MM-HH:MM, e.g. 01:00-07:00, got ${JSON.stringify(text)}`);
  const [h1, m1, h2, m2] = m.slice(1).map(Number) as [number, number, number, number];
  if (h1 > 23 || h2 > 24 || m1 > 59 || m2 > 59 || (h2 === 24 && m2 !== 0)) throw new RangeError(`not a time of day in ${JSON.stringify(text)}`);
  return { startMinute: h1 * 60 + m1, endMinute: h2 * 60 + m2 };
}

export function intervalLengthMs(i: DailyInterval): number {
  const len = (i.endMinute - i.startMinute) * MINUTE_MS;
  return len > 0 ? len : len + DAY_MS;
}

/** [start, end) of the interval that begins on the day starting at dayStartMs (midnight, in the series' clock). */
export function intervalOnDay(dayStartMs: number, i: DailyInterval): { startMs: number; endMs: number } {
  const startMs = dayStartMs + i.startMinute * MINUTE_MS;
  return { startMs, endMs: startMs + intervalLengthMs(i) };
}
