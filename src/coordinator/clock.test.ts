import { describe, expect, test } from 'vitest';
import { estimateOffset, type ClockSample } from './clock.js';

describe('estimateOffset (Cristian / NTP)', () => {
  test('the sample with the smallest round trip wins; offset is server minus the local midpoint', () => {
    const samples: ClockSample[] = [
      { sentMs: 1000, serverMs: 1509, receivedMs: 1010 }, // rtt 10
      { sentMs: 2000, serverMs: 2501.5, receivedMs: 2003 }, // rtt 3: midpoint 2001.5, offset 500
      { sentMs: 3000, serverMs: 3530, receivedMs: 3040 }, // rtt 40
    ];
    expect(estimateOffset(samples)).toEqual({ offsetMs: 500, uncertaintyMs: 1.5, roundTripMs: 3 });
    expect(estimateOffset(samples, 1)?.uncertaintyMs).toBe(2.5);
  });

  test('the true offset lies within the uncertainty wherever the server read its clock in the round trip', () => {
    const trueOffset = -250;
    for (const at of [0, 0.25, 0.5, 0.75, 1]) {
      const sent = 10_000;
      const rtt = 8;
      const est = estimateOffset([{ sentMs: sent, serverMs: sent + at * rtt + trueOffset, receivedMs: sent + rtt }])!;
      expect(Math.abs(est.offsetMs - trueOffset)).toBeLessThanOrEqual(est.uncertaintyMs);
    }
  });

  test('no usable sample: null (a negative round trip or an unreadable server time)', () => {
    expect(estimateOffset([])).toBeNull();
    expect(estimateOffset([{ sentMs: 5, serverMs: 5, receivedMs: 4 }, { sentMs: 5, serverMs: Number.NaN, receivedMs: 6 }])).toBeNull();
  });
});
