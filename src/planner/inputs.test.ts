import { describe, expect, it } from 'vitest';
import { expectedDumpMs } from './dump-estimate.js';
import { intervalLengthMs, intervalOnDay, parseInterval } from './interval.js';

describe('expected dump duration', () => {
  it('uses the default throughput for a first dump', () => {
    // 100 MiB at 50 MiB/s plus 500 ms of start-up.
    expect(expectedDumpMs({ relationBytes: 100 * 2 ** 20, defaultThroughputBytesPerSec: 50 * 2 ** 20, overheadMs: 500 })).toBe(2_500);
  });

  it('uses past dumps, bytes over time summed, the last five only', () => {
    const pastDumps = [
      { bytes: 1, durationMs: 1_000_000 }, // old and slow: dropped
      ...Array.from({ length: 4 }, () => ({ bytes: 10_000_000, durationMs: 1_000 })),
      { bytes: 1_000, durationMs: 1_000 }, // tiny: counts by its bytes, not as a rate
    ];
    // 40,001,000 bytes in 5,000 ms = 8,000.2 bytes/ms; 80,002,000 bytes then take 10,000 ms.
    expect(expectedDumpMs({ relationBytes: 80_002_000, pastDumps, defaultThroughputBytesPerSec: 1 })).toBeCloseTo(10_000, 6);
  });
});

describe('daily interval', () => {
  it('parses HH:MM-HH:MM and wraps past midnight', () => {
    expect(parseInterval('01:00-07:00')).toEqual({ startMinute: 60, endMinute: 420 });
    expect(intervalLengthMs(parseInterval('22:00-02:30'))).toBe(4.5 * 3_600_000);
    expect(intervalOnDay(86_400_000, parseInterval('22:00-02:00'))).toEqual({ startMs: 86_400_000 + 22 * 3_600_000, endMs: 2 * 86_400_000 + 2 * 3_600_000 });
    expect(() => parseInterval('1:00-7:00')).toThrow(/HH:MM-HH:MM/);
    expect(() => parseInterval('25:00-07:00')).toThrow(/not a time of day/);
  });
});
