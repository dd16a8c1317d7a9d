/** Reader for the `ts,value` CSV files of the backtest series (and of `quietcut forecast`). */
import type { Series } from './types.js';

export class SeriesCsvError extends Error {
  override readonly name = 'SeriesCsvError';
}

/**
 * Parse `ts,value` rows (ISO-8601 timestamps, one row per step) into a regular series. The step is
 * the smallest difference between consecutive timestamps; rows missing in between become NaN gaps,
 * empty or non-numeric values too. Rows out of order or off the step grid are errors, not guesses.
 */
export function parseSeriesCsv(text: string): Series {
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  const header = lines.shift();
  if (header === undefined || header.trim().toLowerCase() !== 'ts,value') {
    throw new SeriesCsvError(`expected header "ts,value", got ${JSON.stringify(header ?? '')}`);
  }
  const times: number[] = [];
  const values: number[] = [];
  lines.forEach((line, i) => {
    const comma = line.indexOf(',');
    const ms = Date.parse(comma < 0 ? line : line.slice(0, comma));
    if (Number.isNaN(ms)) throw new SeriesCsvError(`line ${i + 2}: bad timestamp in ${JSON.stringify(line)}`);
    const raw = comma < 0 ? '' : line.slice(comma + 1).trim();
    times.push(ms);
    values.push(raw === '' ? NaN : Number(raw));
  });
  if (times.length < 2) throw new SeriesCsvError('need at least two rows to know the step');
  let stepMs = Infinity;
  for (let i = 1; i < times.length; i++) {
    const diff = (times[i] as number) - (times[i - 1] as number);
    if (diff <= 0) throw new SeriesCsvError(`line ${i + 2}: timestamps must increase`);
    stepMs = Math.min(stepMs, diff);
  }
  const startMs = times[0] as number;
  const length = Math.round(((times[times.length - 1] as number) - startMs) / stepMs) + 1;
  const out = new Float64Array(length).fill(NaN);
  times.forEach((ms, i) => {
    const slot = (ms - startMs) / stepMs;
    if (!Number.isInteger(slot)) throw new SeriesCsvError(`line ${i + 2}: timestamp is off the ${stepMs} ms grid`);
    out[slot] = values[i] as number;
  });
  return { startMs, stepMs, values: out };
}

/**
 * Sum consecutive steps into a coarser step (writes per step add up). A coarse step with any gap is
 * a gap: a partial sum would look like a quiet time.
 */
export function aggregateSeries(series: Series, stepMs: number): Series {
  const factor = stepMs / series.stepMs;
  if (!Number.isInteger(factor) || factor < 1) {
    throw new SeriesCsvError(`step ${stepMs} ms is not a multiple of the series step ${series.stepMs} ms`);
  }
  if (factor === 1) return series;
  const length = Math.floor(series.values.length / factor);
  const out = new Float64Array(length);
  for (let i = 0; i < length; i++) {
    let sum = 0;
    for (let j = 0; j < factor; j++) sum += series.values[i * factor + j] as number;
    out[i] = sum;
  }
  return { startMs: series.startMs, stepMs, values: out };
}
