/**
 * date, timestamp and timestamptz in PostgreSQL's own representation, so binary parameters need no
 * conversion: date = days since 2000-01-01 (int32), timestamps = microseconds since
 * 2000-01-01 00:00 (int64, UTC for timestamptz). Only the unambiguous ISO 8601 text forms are parsed;
 * anything DateStyle- or clock-dependent ('01/02/2026', 'now', 'today') is left undecoded, which the
 * resolver turns into "all partitions".
 */

export const DATE_NOBEGIN = -0x80000000;
export const DATE_NOEND = 0x7fffffff;
export const TS_NOBEGIN = -(1n << 63n);
export const TS_NOEND = (1n << 63n) - 1n;

/** Days from 1970-01-01 to 2000-01-01. */
const EPOCH_DAYS_2000 = 10957;
const US_PER_DAY = 86_400_000_000n;
/**
 * No time zone is further than this from UTC (PostgreSQL rejects displacements of 16 hours or
 * more), so an instant written in an unknown zone lies within ±16h of its UTC reading.
 */
export const MAX_ZONE_OFFSET_US = 16n * 3_600_000_000n;

/** What a literal said about its time zone. */
export type ZoneSpec = { kind: 'none' } | { kind: 'offset'; seconds: number } | { kind: 'named'; name: string };

export interface ParsedDateTime {
  days: number; // since 2000-01-01
  micros: bigint; // time of day
  hasTime: boolean;
  zone: ZoneSpec;
}

const DATE_TIME =
  /^\s*(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:T|\s+)(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?)?\s*(?:(Z|[+-]\d{1,2}(?::?\d{2}(?::?\d{2})?)?)|\s([A-Za-z][A-Za-z0-9_/+-]*))?\s*$/;

const UTC_NAMES = new Set(['z', 'utc', 'gmt', 'ut', 'uct', 'zulu', 'universal', 'etc/utc', 'etc/gmt', 'etc/uct', 'etc/universal', 'etc/zulu', 'gmt0', 'etc/gmt0', 'greenwich', 'etc/greenwich']);

/** The UTC offset of a zone name when it is fixed at zero; undefined when it is unknown or varies. */
export function utcOffsetOfZoneName(name: string): number | undefined {
  return UTC_NAMES.has(name.trim().toLowerCase()) ? 0 : undefined;
}

function daysFromCivil(y: number, m: number, d: number): number | undefined {
  if (y < 1 || m < 1 || m > 12 || d < 1) return undefined;
  const dt = new Date(0);
  dt.setUTCFullYear(y, m - 1, d);
  // Date rolls Feb 30 over into March; PostgreSQL rejects it, so do we.
  if (dt.getUTCFullYear() !== y || dt.getUTCMonth() !== m - 1 || dt.getUTCDate() !== d) return undefined;
  return Math.round(dt.getTime() / 86_400_000) - EPOCH_DAYS_2000;
}

function offsetSeconds(text: string): number | undefined {
  if (text === 'Z') return 0;
  const m = /^([+-])(\d{1,2})(?::?(\d{2}))?(?::?(\d{2}))?$/.exec(text);
  if (!m) return undefined;
  const [, sign, h = '0', mi = '0', s = '0'] = m;
  if (Number(h) >= 16 || Number(mi) > 59 || Number(s) > 59) return undefined;
  const v = Number(h) * 3600 + Number(mi) * 60 + Number(s);
  return sign === '-' ? -v : v;
}

export function parseDateTime(text: string): ParsedDateTime | undefined {
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac, offset, zoneName] = m;
  const days = daysFromCivil(Number(y), Number(mo), Number(d));
  if (days === undefined) return undefined;
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  // More than 6 fractional digits are rounded by the server (rint): too rare to reproduce.
  if (frac !== undefined && frac.length > 6) return undefined;
  const micros = BigInt((frac ?? '').padEnd(6, '0') || '0');
  // 24:00:00 is accepted by PostgreSQL as the end of the day; leap seconds (:60) are left undecoded.
  if (minute > 59 || second > 59 || hour > 24 || (hour === 24 && (minute > 0 || second > 0 || micros > 0n))) return undefined;
  let zone: ZoneSpec = { kind: 'none' };
  if (offset !== undefined) {
    const seconds = offsetSeconds(offset);
    if (seconds === undefined) return undefined;
    zone = { kind: 'offset', seconds };
  } else if (zoneName !== undefined) {
    // After a date and time the server also reads era and meridiem words (BC, AD, PM), Julian days,
    // abbreviations whose offsets come from timezone_abbreviations, ...: only a UTC name or a full
    // zone name (Area/Location) is certainly a zone, anything else is left to the server.
    if (!zoneName.includes('/') && utcOffsetOfZoneName(zoneName) === undefined) return undefined;
    const fixed = utcOffsetOfZoneName(zoneName);
    zone = fixed === undefined ? { kind: 'named', name: zoneName } : { kind: 'offset', seconds: fixed };
  }
  return {
    days,
    micros: BigInt(hour * 3600 + minute * 60 + second) * 1_000_000n + micros,
    hasTime: h !== undefined,
    zone,
  };
}

function special(text: string): 'inf' | '-inf' | 'epoch' | undefined {
  const t = text.trim().toLowerCase();
  if (t === 'infinity' || t === '+infinity') return 'inf';
  if (t === '-infinity') return '-inf';
  if (t === 'epoch') return 'epoch';
  return undefined;
}

/** date_in for ISO dates and the special values. */
export function parseDate(text: string): number | undefined {
  const sp = special(text);
  if (sp === 'inf') return DATE_NOEND;
  if (sp === '-inf') return DATE_NOBEGIN;
  if (sp === 'epoch') return -EPOCH_DAYS_2000;
  const p = parseDateTime(text);
  // A time part or zone in a date literal is unusual enough to leave to the server.
  if (!p || p.hasTime || p.zone.kind !== 'none') return undefined;
  return p.days;
}

/** timestamp_in: a zone written in the literal is ignored, as PostgreSQL does for timestamp without time zone. */
export function parseTimestamp(text: string): bigint | undefined {
  const sp = special(text);
  if (sp === 'inf') return TS_NOEND;
  if (sp === '-inf') return TS_NOBEGIN;
  if (sp === 'epoch') return BigInt(-EPOCH_DAYS_2000) * US_PER_DAY;
  const p = parseDateTime(text);
  if (!p) return undefined;
  return BigInt(p.days) * US_PER_DAY + p.micros;
}

/**
 * timestamptz_in. Returns the exact instant when the literal carries a fixed offset or the session
 * zone is known to be a fixed offset (`sessionOffsetSec`), else the span of instants the literal can
 * denote in any zone: [local - 16h, local + 16h].
 */
export function parseTimestamptz(text: string, sessionOffsetSec: number | undefined): { lo: bigint; hi: bigint } | undefined {
  const sp = special(text);
  if (sp === 'inf') return { lo: TS_NOEND, hi: TS_NOEND };
  if (sp === '-inf') return { lo: TS_NOBEGIN, hi: TS_NOBEGIN };
  if (sp === 'epoch') {
    const v = BigInt(-EPOCH_DAYS_2000) * US_PER_DAY;
    return { lo: v, hi: v };
  }
  const p = parseDateTime(text);
  if (!p) return undefined;
  const local = BigInt(p.days) * US_PER_DAY + p.micros;
  const offset = p.zone.kind === 'offset' ? p.zone.seconds : p.zone.kind === 'none' ? sessionOffsetSec : undefined;
  if (offset === undefined) return { lo: local - MAX_ZONE_OFFSET_US, hi: local + MAX_ZONE_OFFSET_US };
  const v = local - BigInt(offset) * 1_000_000n;
  return { lo: v, hi: v };
}

/** AdjustTimestampForTypmod: timestamp(p) rounds to p fractional digits, half away from zero. */
export function roundTimestamp(v: bigint, typmod: number): bigint {
  if (typmod < 0 || typmod >= 6 || v === TS_NOBEGIN || v === TS_NOEND) return v;
  const scale = 10n ** BigInt(6 - typmod);
  const half = scale / 2n;
  return v >= 0n ? ((v + half) / scale) * scale : -(((-v + half) / scale) * scale);
}
