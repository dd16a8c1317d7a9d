import { describe, expect, test } from 'vitest';
import { currentInterval, intervalOnLocalDay, nextInterval, zonedClock, zonedTimeToUtc } from './interval.js';
import { parseInterval } from '../planner/interval.js';

const at = (s: string): number => Date.parse(s);
const iso = (i: { startMs: number; endMs: number }): [string, string] => [new Date(i.startMs).toISOString(), new Date(i.endMs).toISOString()];

describe('zoned interval arithmetic', () => {
  test('UTC: the next interval is today before it starts, tomorrow once it has', () => {
    expect(iso(nextInterval(at('2026-03-10T00:30:00Z'), '01:00-07:00', 'UTC'))).toEqual(['2026-03-10T01:00:00.000Z', '2026-03-10T07:00:00.000Z']);
    expect(iso(nextInterval(at('2026-03-10T01:00:00Z'), '01:00-07:00', 'UTC'))).toEqual(['2026-03-11T01:00:00.000Z', '2026-03-11T07:00:00.000Z']);
  });

  test('an interval across midnight ends on the next day', () => {
    expect(iso(nextInterval(at('2026-03-10T12:00:00Z'), '22:00-02:00', 'UTC'))).toEqual(['2026-03-10T22:00:00.000Z', '2026-03-11T02:00:00.000Z']);
    expect(currentInterval(at('2026-03-11T01:00:00Z'), '22:00-02:00', 'UTC')).toEqual({ startMs: at('2026-03-10T22:00:00Z'), endMs: at('2026-03-11T02:00:00Z') });
    expect(currentInterval(at('2026-03-11T03:00:00Z'), '22:00-02:00', 'UTC')).toBeNull();
  });

  test('wall-clock times in the zone, DST days an hour shorter or longer', () => {
    // Berlin: CET (+1) in winter, CEST (+2) from 2026-03-29 02:00 to 2026-10-25 03:00.
    expect(iso(nextInterval(at('2026-01-15T12:00:00Z'), '01:00-07:00', 'Europe/Berlin'))).toEqual(['2026-01-16T00:00:00.000Z', '2026-01-16T06:00:00.000Z']);
    expect(iso(nextInterval(at('2026-07-15T12:00:00Z'), '01:00-07:00', 'Europe/Berlin'))).toEqual(['2026-07-15T23:00:00.000Z', '2026-07-16T05:00:00.000Z']);
    const spring = nextInterval(at('2026-03-28T12:00:00Z'), '01:00-07:00', 'Europe/Berlin');
    expect(iso(spring)).toEqual(['2026-03-29T00:00:00.000Z', '2026-03-29T05:00:00.000Z']);
    const autumn = nextInterval(at('2026-10-24T12:00:00Z'), '01:00-07:00', 'Europe/Berlin');
    expect((autumn.endMs - autumn.startMs) / 3_600_000).toBe(7);
  });

  test('a skipped local time lands one gap later; a repeated one on its first showing', () => {
    expect(new Date(zonedTimeToUtc(2026, 3, 29, 2 * 60 + 30, 'Europe/Berlin')).toISOString()).toBe('2026-03-29T01:30:00.000Z');
    expect(zonedClock('Europe/Berlin')(at('2026-03-29T01:30:00Z'))).toBe('03:30');
    expect(new Date(zonedTimeToUtc(2026, 10, 25, 2 * 60 + 30, 'Europe/Berlin')).toISOString()).toBe('2026-10-25T00:30:00.000Z');
  });

  test('zones east of UTC: the local day decides, not the UTC day', () => {
    // 23:30 UTC on the 10th is 08:30 on the 11th in Tokyo.
    const i = intervalOnLocalDay(at('2026-03-10T23:30:00Z'), parseInterval('01:00-07:00'), 'Asia/Tokyo');
    expect(iso(i)).toEqual(['2026-03-10T16:00:00.000Z', '2026-03-10T22:00:00.000Z']);
    expect(iso(nextInterval(at('2026-03-10T23:30:00Z'), '01:00-07:00', 'Asia/Tokyo'))).toEqual(['2026-03-11T16:00:00.000Z', '2026-03-11T22:00:00.000Z']);
  });

  test('an unknown zone is an error', () => {
    expect(() => nextInterval(0, '01:00-07:00', 'Mars/Olympus')).toThrow(RangeError);
  });
});
