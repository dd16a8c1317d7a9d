import { describe, expect, it } from 'vitest';
import { aggregateSeries, parseSeriesCsv, SeriesCsvError } from './csv.js';

describe('parseSeriesCsv', () => {
  it('reads a regular series and infers the step', () => {
    const s = parseSeriesCsv('ts,value\n2001-01-01T00:00:00Z,1\n2001-01-01T01:00:00Z,0\n2001-01-01T02:00:00Z,7\n');
    expect(s.startMs).toBe(Date.UTC(2001, 0, 1));
    expect(s.stepMs).toBe(3_600_000);
    expect(Array.from(s.values)).toEqual([1, 0, 7]);
  });

  it('turns missing rows and empty values into NaN gaps', () => {
    const s = parseSeriesCsv('ts,value\n2001-01-01T00:00:00Z,1\n2001-01-01T01:00:00Z,\n2001-01-01T03:00:00Z,4\n');
    expect(Array.from(s.values)).toEqual([1, NaN, NaN, 4]);
  });

  it('rejects a wrong header, disorder and off-grid times', () => {
    expect(() => parseSeriesCsv('time,v\n')).toThrow(SeriesCsvError);
    expect(() => parseSeriesCsv('ts,value\n2001-01-01T01:00:00Z,1\n2001-01-01T00:00:00Z,1\n')).toThrow(/increase/);
    expect(() => parseSeriesCsv('ts,value\n2001-01-01T00:00:00Z,1\n2001-01-01T01:00:00Z,1\n2001-01-01T01:30:00Z,1\n2001-01-01T03:00:00Z,1\n')).not.toThrow();
    expect(() => parseSeriesCsv('ts,value\n2001-01-01T00:00:00Z,1\n2001-01-01T00:02:00Z,1\n2001-01-01T00:05:00Z,1\n')).toThrow(/grid/);
  });

  it('aggregates to a coarser step, a gap making the coarse step a gap', () => {
    const s = aggregateSeries({ startMs: 0, stepMs: 1000, values: Float64Array.from([1, 2, 3, NaN, 5, 6, 7]) }, 2000);
    expect(Array.from(s.values)).toEqual([3, NaN, 11]);
    expect(() => aggregateSeries(s, 3000)).toThrow(SeriesCsvError);
  });
});
