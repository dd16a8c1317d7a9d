import { describe, expect, test } from 'vitest';
import { Metrics } from './registry.js';

describe('quietcut_forecast_writes_per_second', () => {
  test('reads the current step of each plan forecast, in writes per second', async () => {
    const m = new Metrics();
    const stepMs = 60_000;
    const now = Date.now();
    m.setForecasts(
      new Map([
        ['public.a', { startMs: now - stepMs - 1000, stepMs, mean: Float64Array.from([600, 120, 60]), upper: Float64Array.from([700, 200, 90]), model: 't' }],
        ['public.b', { startMs: now + 10 * stepMs, stepMs, mean: Float64Array.from([6]), upper: Float64Array.from([6]), model: 't' }],
      ]),
    );
    const got = await m.forecastWritesPerSecond.get();
    expect(got.values).toEqual([{ labels: { partition: 'public.a' }, value: 2 }]);
  });
});
